"""Configuration and seed variance components of seed-replicated runs, and their bootstraps.

The model, per method ``k`` (SSVI or dense VI), configuration ``c`` and seed ``s``::

    y[k, c, s] = mu[k, c] + e[k, c, s],     e ~ (0, seed_var[k])

*Sensitivity to the hyperparameters* is the spread of the true configuration means ``mu[k, :]``,
the configuration variance component ``config_var[k] = Var_c(mu[k, c])``. The variance of the
observed seed-averaged means also holds seed noise, ``seed_var / n_c``; the estimator removes it
(one-way random-effects ANOVA, unbalanced seed counts allowed)::

    config_var_hat = Var_c(mean_s y[c, s]) - seed_var_hat * mean_c(1 / n_c)
    seed_var_hat   = pooled within-configuration variance (sum_c (n_c - 1) degrees of freedom)

Both are unbiased; ``config_sd = sqrt(max(config_var, 0))`` is what the report shows.

Two bootstraps give intervals, and neither counts seed noise twice:

- ``cluster_draws``: resample whole configurations (with all their seeds, the same draw for
  every method, so pairs stay paired). The seed noise inside each configuration travels with it,
  so one resampling captures both "which configurations" and "which seeds".
- ``fixed_draws`` (``analysis._fixed_bootstrap``): configurations fixed (a one-at-a-time sweep
  or a grid is a design, not a sample); only seeds are redrawn, parametrically, with each
  level's own seed variance and a pair's shared seed (module docstring there).

Above ``EXACT_MAX_CONFIGS`` configurations, redrawing every configuration of every replicate
(``n_boot x C`` numbers per draw) would make the cost grow with the study: there, each bootstrap
draws only the sums its statistics are made of (``fixed_draws``: see its module);
``cluster_draws`` draws the resample counts of the few outlying configurations exactly and the
sums over the others from their normal approximation, with the exact mean and covariance of
those draws (central limit theorem: with over 1,000 configurations its error is of order
``1/sqrt(C)``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

EXACT_MAX_CONFIGS = 1000  # above: the bootstraps draw the sums they need (module docstring)


@dataclass(frozen=True)
class Summary:
    """Per-configuration summaries of seed values, one row per method.

    Attributes:
        mean: ``(K, C)`` seed-averaged value of each configuration.
        within_ss: ``(K, C)`` sum of squared deviations from that mean over seeds.
        n: ``(C,)`` number of seeds of each configuration (the same for every method: pairs).
        noise: ``(C,)`` seed noise of each mean, in units of the seed variance (``1 / n``; for
            a level pooling several configurations, the mean of their ``1 / n`` over their
            number).
        dof: ``(C,)`` degrees of freedom of the within sums of squares (``n - 1``).
        within_cp: ``(C, K, K)`` within sums of cross-products of the methods' deviations over
            the seeds they share (diagonal: ``within_ss``), or None (methods independent):
            the seeds-only bootstrap keeps a pair's shared seed (``_fixed_bootstrap``).
    """

    mean: np.ndarray
    within_ss: np.ndarray
    n: np.ndarray
    noise: np.ndarray
    dof: np.ndarray
    within_cp: np.ndarray | None = None

    @property
    def n_configs(self) -> int:
        """Number of configurations."""
        return int(self.n.size)

    @property
    def df(self) -> int:
        """Degrees of freedom of the pooled seed variance."""
        return int(self.dof.sum())


def summarize(values: np.ndarray) -> Summary:
    """Summaries of ``values`` ``(K, C, S)``: NaN-padded seeds, one pattern for every method."""
    v = np.asarray(values, dtype=float)
    present = ~np.isnan(v)
    if not (present == present[:1]).all():
        raise ValueError("every method needs the same (configuration, seed) pairs")
    n = present[0].sum(-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(v, axis=-1)
        noise = 1.0 / n
    deviation = np.nan_to_num(v - mean[..., None])
    within = (deviation**2).sum(-1)
    cross = np.einsum("kcs,jcs->ckj", deviation, deviation)
    return Summary(mean, within, n, noise, n - 1, cross)


def by_level(summary: Summary, levels: np.ndarray) -> Summary:
    """Pool configurations into levels: a level's value is the mean of its configurations'
    means (a grid axis's level averaged over the other axis), its seed noise the mean of theirs
    over their number, and its within sums of squares theirs (two-way: the other axis's effect
    stays out of the seed variance)."""
    codes, inverse = np.unique(np.asarray(levels, dtype=str), return_inverse=True)
    count = np.bincount(inverse).astype(float)

    def total(x: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(inverse, weights=row, minlength=codes.size) for row in x])

    return Summary(
        mean=total(summary.mean) / count,
        within_ss=total(summary.within_ss),
        n=np.bincount(inverse, weights=summary.n).astype(int),
        noise=np.bincount(inverse, weights=summary.noise) / count**2,
        dof=np.bincount(inverse, weights=summary.dof).astype(int),
        within_cp=None
        if summary.within_cp is None
        else np.stack([summary.within_cp[inverse == i].sum(0) for i in range(codes.size)]).reshape(
            codes.size, *summary.within_cp.shape[1:]
        ),
    )


def components(
    mean: np.ndarray, within_ss: np.ndarray, noise: np.ndarray, dof: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased configuration and seed variance components.

    Args:
        mean: ``(..., C)`` seed-averaged values.
        within_ss: ``(..., C)`` within-configuration sums of squares.
        noise: ``(..., C)`` or ``(C,)`` seed noise of each mean in seed variances (``1 / n``).
        dof: ``(..., C)`` or ``(C,)`` degrees of freedom of the within sums of squares.

    Returns:
        ``(config_var, seed_var)``, each ``(...,)``; NaN where fewer than 2 configurations or
        no within-configuration degree of freedom.
    """
    config_var, seed_var, _ = _components(mean, within_ss, noise, dof)
    return config_var, seed_var


def _components(
    mean: np.ndarray, within_ss: np.ndarray, noise: np.ndarray, dof: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``components`` and the variance of the means over configurations (``ddof=1``)."""
    noise = np.broadcast_to(noise, mean.shape).astype(float)
    df = np.broadcast_to(dof, mean.shape).astype(float).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        seed_var = within_ss.sum(-1) / df
        between = mean.var(-1, ddof=1) if mean.shape[-1] > 1 else np.full(mean.shape[:-1], np.nan)
        config_var = between - seed_var * noise.mean(-1)
    config_var = np.where(df > 0, config_var, np.nan)
    return config_var, np.where(df > 0, seed_var, np.nan), between


def estimate(summary: Summary) -> tuple[np.ndarray, np.ndarray]:
    """``(config_var, seed_var)`` per method, each ``(K,)``."""
    return components(summary.mean, summary.within_ss, summary.noise, summary.dof)


@dataclass(frozen=True)
class Draws:
    """Bootstrap draws of the components, in pieces, so that an alternative with another
    configuration spread (``scale``) or seed noise (``seed_scale``) costs no new draws.

    ``config_var = scale^2 quadratic + scale seed_scale linear + seed_scale^2 (constant - seed
    noise_mean)`` and ``seed_var = seed_scale^2 seed``, each ``(K, B)``; the test's own draws
    use ``test_scale``. ``scale_for`` gives the scale at which the world the draws come from
    has a given configuration variance: ``sqrt((target + offset) / observed)``.
    """

    quadratic: np.ndarray
    linear: np.ndarray
    constant: np.ndarray
    seed: np.ndarray
    noise_mean: np.ndarray
    observed: np.ndarray
    offset: np.ndarray
    test_scale: np.ndarray

    def config_var(
        self, scale: np.ndarray | None = None, seed_scale: np.ndarray | float = 1.0
    ) -> np.ndarray:
        """``(K, B)`` configuration variances drawn at ``scale`` (default: the test's)."""
        lam = (self.test_scale if scale is None else np.asarray(scale, dtype=float))[:, None]
        rho = np.broadcast_to(np.asarray(seed_scale, dtype=float), lam.shape[:1])[:, None]
        noise = self.constant - self.seed * self.noise_mean
        return lam**2 * self.quadratic + lam * rho * self.linear + rho**2 * noise

    def seed_var(self, seed_scale: np.ndarray | float = 1.0) -> np.ndarray:
        """``(K, B)`` seed variances drawn with the seed SD times ``seed_scale``."""
        rho = np.asarray(seed_scale, dtype=float)
        return (rho[:, None] ** 2 if rho.ndim else rho**2) * self.seed

    def scale_for(self, target: np.ndarray) -> np.ndarray:
        """``(K,)`` scale at which the configuration variance is ``target``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.sqrt(np.clip(target + self.offset, 0, None) / self.observed)
        return np.where(self.observed > 0, lam, 0.0)


def cluster_draws(
    summary: Summary, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Components of resampled configurations (the same draw for every method).

    The between-configuration variance of a resample is scaled by ``C / (C - 1)``, so that the
    draws are centred on the estimate (a resample of ``C`` from ``C`` values has, on average,
    ``(C - 1) / C`` of their variance).

    Above ``EXACT_MAX_CONFIGS`` configurations the resampled sums are drawn instead, from a
    normal approximation for all but the outlying configurations (``_cluster_sums``).

    Returns:
        ``(config_var, seed_var)``, each ``(K, n_boot)``.
    """
    draws = cluster_pieces(summary, n_boot, rng)
    return draws.config_var(), draws.seed_var()


def cluster_pieces(summary: Summary, n_boot: int, rng: np.random.Generator) -> Draws:
    """``cluster_draws`` in pieces: a scale multiplies the observed means' deviations."""
    c, k = summary.n_configs, summary.mean.shape[0]
    if c > EXACT_MAX_CONFIGS:
        spread, seed_var, noise_mean = _cluster_sums(summary, n_boot, rng)
    else:
        idx = rng.integers(0, c, size=(n_boot, c))
        _, seed_var, spread = _components(
            summary.mean[:, idx], summary.within_ss[:, idx], summary.noise[idx], summary.dof[idx]
        )
        noise_mean = summary.noise[idx].astype(float).mean(-1)
    _, pooled, between = _components(summary.mean, summary.within_ss, summary.noise, summary.dof)
    zero = np.zeros((k, n_boot))
    return Draws(
        quadratic=spread * c / max(c - 1, 1),
        linear=zero,
        constant=zero,
        seed=seed_var,
        noise_mean=noise_mean,
        observed=np.nan_to_num(between),
        offset=np.nan_to_num(pooled) * float(summary.noise.mean()),
        test_scale=np.ones(k),
    )


def _cluster_sums(
    summary: Summary, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cluster_draws``' spread, seed variance and seed-noise mean from the resampled sums,
    their bulk drawn from a normal approximation.

    A resample's components depend on its ``C`` configurations only through the sums of their
    (centred) means, squared means, within sums of squares, degrees of freedom and seed noises.
    The ``HEAVY`` configurations that weigh most in one of these sums (a diverged run scored at
    chance, a lone seed) get their resample counts drawn exactly (multinomial); the ``R`` other
    draws of the resample fall on the bulk, whose sums are normal with mean ``R * mean(x)`` and
    covariance ``R * cov(x)`` (``ddof=0``) by the central limit theorem.
    """
    c, k = summary.n_configs, summary.mean.shape[0]
    centred = summary.mean - summary.mean.mean(-1, keepdims=True)
    x = np.vstack(
        [centred, centred**2, summary.within_ss, summary.dof[None, :], summary.noise[None, :]]
    ).T.astype(float)  # (C, 3K + 2)
    heavy = _heavy(x)
    bulk = np.setdiff1d(np.arange(c), heavy)
    counts = rng.multinomial(c, np.r_[np.full(heavy.size, 1 / c), 1 - heavy.size / c], n_boot)
    rest = counts[:, -1].astype(float)  # draws that fall on the bulk
    sums = counts[:, :-1] @ x[heavy]
    if bulk.size:
        xb = x[bulk]
        values, vectors = np.linalg.eigh(np.cov(xb, rowvar=False, ddof=0))
        scale = vectors * np.sqrt(np.clip(values, 0.0, None))
        noise = rng.standard_normal((n_boot, x.shape[1])) @ scale.T
        sums += rest[:, None] * xb.mean(0) + np.sqrt(rest)[:, None] * noise
    s1, s2, within = sums[:, :k].T, sums[:, k : 2 * k].T, sums[:, 2 * k : 3 * k].T
    dof, seed_noise = sums[:, 3 * k], sums[:, 3 * k + 1]
    spread = (s2 - s1**2 / c) / (c - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        seed_var = np.where(dof > 0, within / dof, np.nan)
    return spread, seed_var, seed_noise / c


HEAVY = 64  # configurations whose resample counts ``_cluster_sums`` draws exactly


def _heavy(x: np.ndarray) -> np.ndarray:
    """The ``HEAVY`` rows of ``x`` that hold the largest share of some column's sum of squared
    deviations (the ones that would make a normal approximation of the sums fail)."""
    deviation = (x - x.mean(0)) ** 2
    total = deviation.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, deviation / total, 0.0).max(1)
    return np.sort(np.argsort(-share, kind="stable")[:HEAVY])


def sd(variance: np.ndarray) -> np.ndarray:
    """Standard deviation of a variance component: ``sqrt(max(variance, 0))`` (NaN stays)."""
    return np.sqrt(np.clip(variance, 0.0, None))


def two_sided_p(draws: np.ndarray) -> float:
    """Bootstrap p-value of "the drawn quantity is 0": twice the smaller tail beyond 0.

    With the ``+1`` of Davison and Hinkley (1997), so that it is never 0.
    """
    d = np.asarray(draws, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return float("nan")
    low, high = int((d <= 0).sum()), int((d >= 0).sum())
    return float(min(1.0, 2.0 * (min(low, high) + 1) / (d.size + 1)))


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Equal-tailed percentile interval of the draws, NaN draws left out (NaN when there are
    none); infinite draws (a ratio over a zero) stay and can make a bound infinite."""
    d = np.asarray(draws, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    tail = 50.0 * (1.0 - level)
    # no interpolation: a bound between a finite draw and an infinite one is the infinite one
    low, high = np.percentile(d, [tail, 100.0 - tail], method="inverted_cdf")
    return float(low), float(high)
