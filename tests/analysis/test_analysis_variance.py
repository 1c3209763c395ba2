"""Variance components and their bootstraps, against hand computation and simulation (float64)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import _fixed_bootstrap as fixed
from analysis import _variance as var
from analysis._fixed_bootstrap import fixed_draws


def _values(rng: np.random.Generator, mu: np.ndarray, sd: float, n: np.ndarray) -> np.ndarray:
    """``(1, C, max n)`` seed values, NaN-padded."""
    out = np.full((1, mu.size, int(n.max())), np.nan)
    for c, (m, k) in enumerate(zip(mu, n, strict=True)):
        out[0, c, :k] = m + sd * rng.standard_normal(k)
    return out


def test_components_match_the_one_way_anova_by_hand() -> None:
    values = np.array(
        [[[1.0, 2.0, 3.0], [2.0, 4.0, np.nan], [7.0, 8.0, 9.0], [5.0, np.nan, np.nan]]]
    )
    summary = var.summarize(values)
    assert list(summary.n) == [3, 2, 3, 1] and summary.df == 5
    config_var, seed_var = var.estimate(summary)
    means = np.array([2.0, 3.0, 8.0, 5.0])
    pooled = (2 * 1.0 + 1 * 2.0 + 2 * 1.0) / 5  # sum of (n - 1) s^2 over the degrees of freedom
    assert seed_var[0] == pytest.approx(pooled, rel=1e-12)
    expected = means.var(ddof=1) - pooled * np.mean(1 / np.array([3, 2, 3, 1]))
    assert config_var[0] == pytest.approx(expected, rel=1e-12)
    assert var.sd(np.array([-1.0, 4.0, np.nan])) == pytest.approx([0.0, 2.0, np.nan], nan_ok=True)


def test_estimators_are_unbiased_with_unequal_seed_counts() -> None:
    rng = np.random.default_rng(0)
    mu = np.array([0.0, 0.5, -0.3, 1.2, 0.1, -0.8])
    true_config_var, sd = mu.var(ddof=1), 0.7
    n = np.array([3, 2, 3, 1, 2, 3])
    draws = np.array([var.estimate(var.summarize(_values(rng, mu, sd, n))) for _ in range(20_000)])[
        ..., 0
    ]
    config_hat, seed_hat = draws[:, 0], draws[:, 1]
    assert config_hat.mean() == pytest.approx(true_config_var, abs=4 * config_hat.std() / 141)
    assert seed_hat.mean() == pytest.approx(sd**2, abs=4 * seed_hat.std() / 141)


def test_cluster_draws_are_centred_on_the_estimate() -> None:
    rng = np.random.default_rng(1)
    mu = rng.normal(size=25)
    summary = var.summarize(_values(rng, mu, 0.3, np.full(25, 3)))
    config_var, seed_var = var.estimate(summary)
    boot_c, boot_s = var.cluster_draws(summary, 20_000, rng)
    assert boot_c.shape == (1, 20_000)
    assert boot_c.mean() == pytest.approx(config_var[0], abs=4 * boot_c.std() / 141)
    assert boot_s.mean() == pytest.approx(seed_var[0], abs=4 * boot_s.std() / 141)


def test_fixed_draws_cover_the_true_configuration_variance() -> None:
    # levels fixed by the design, 3 seeds: the 95% interval of the seeds-only bootstrap must
    # cover the true spread of the level means at least at its nominal rate
    rng = np.random.default_rng(2)
    mu = np.array([0.0, -0.3, 0.0, -0.2, -2.0]) * 0.5
    truth = mu.var(ddof=1)
    covered = []
    for _ in range(400):
        summary = var.summarize(_values(rng, mu, 0.5, np.full(5, 3)))
        draws, _ = fixed_draws(summary, 1000, rng)
        low, high = var.percentile_interval(draws[0])
        covered.append(low <= truth <= high)
    assert np.mean(covered) >= 0.93


def test_two_sided_p_and_percentile_interval() -> None:
    assert var.two_sided_p(np.ones(999)) == pytest.approx(2 / 1000)
    assert var.two_sided_p(np.linspace(-1, 1, 1001)) == pytest.approx(1.0)
    assert np.isnan(var.two_sided_p(np.array([np.nan])))
    assert var.percentile_interval(np.arange(1001.0)) == pytest.approx((25.0, 975.0))


def test_summaries_need_the_same_pairs_for_every_method() -> None:
    values = np.array([[[1.0, 2.0]], [[1.0, np.nan]]])
    with pytest.raises(ValueError, match="same"):
        var.summarize(values)


@pytest.mark.parametrize("draws", ["cluster_draws", "fixed_draws"])
def test_large_studies_draw_the_sums_with_the_exact_bootstraps_distribution(
    draws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # above EXACT_MAX_CONFIGS (lowered here: the same code as at 1,000), the bootstraps draw
    # the sums they need; their percentiles must match resampling every configuration, also
    # with unequal seeds and a few configurations far out (diverged runs scored at chance)
    rng = np.random.default_rng(4)
    c = 300
    n = rng.choice([1, 2, 3], size=c, p=[0.05, 0.15, 0.8])
    mu = np.stack([rng.normal(0, 0.05, c), rng.normal(0, 0.04, c)])
    mu[0, :5] -= 0.8
    values = np.full((2, c, 3), np.nan)
    for i in range(c):
        values[:, i, : n[i]] = mu[:, i, None] + 0.01 * rng.standard_normal((2, n[i]))
    summary = var.summarize(values)
    module = fixed if draws == "fixed_draws" else var
    exact = getattr(module, draws)(summary, 10_000, np.random.default_rng(5))
    monkeypatch.setattr(var, "EXACT_MAX_CONFIGS", 100)
    sums = getattr(module, draws)(summary, 10_000, np.random.default_rng(6))
    for a, b in zip(exact, sums, strict=True):  # config_var, seed_var
        for d_exact, d_sums in ((a[0], b[0]), (a[1], b[1]), (a[0] - a[1], b[0] - b[1])):
            q_exact = np.percentile(d_exact, [2.5, 50, 97.5])
            q_sums = np.percentile(d_sums, [2.5, 50, 97.5])
            width = q_exact[2] - q_exact[0]
            # the seeds-only bootstrap's sums pool the seed variance (its exact draws keep each
            # configuration's): the same distribution here, up to that difference
            tolerance = 0.04 if draws == "cluster_draws" else 0.1
            assert q_sums == pytest.approx(q_exact, abs=tolerance * width)
