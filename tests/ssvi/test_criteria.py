"""Removal scores against Monte Carlo estimates and exact (mpmath) values."""

import math

import mpmath as mp
import pytest
import torch

from ssvi.criteria import addition_score, removal_score

CRITERIA = ["mean", "snr", "e_abs", "snr_abs", "e_exp_abs", "snr_exp_abs"]


def exact_score(name: str, mu: float, sigma: float, lam: float = 1.0) -> mp.mpf:
    """The defining formulas (folded-normal moments, exp-moments), with 80 significant digits."""
    with mp.workdps(80):
        m, s = mp.mpf(abs(mu)), mp.mpf(sigma)
        r = m / s
        e_abs = m * (1 - 2 * mp.ncdf(-r)) + s * mp.sqrt(2 / mp.pi) * mp.exp(-(r**2) / 2)

        def e_exp(k: float) -> mp.mpf:
            l = mp.mpf(k)  # noqa: E741
            return mp.exp(l**2 * s**2 / 2 + l * m) * mp.ncdf(r + l * s) + mp.exp(
                l**2 * s**2 / 2 - l * m
            ) * mp.ncdf(-r + l * s)

        if name == "mean":
            return m
        if name == "snr":
            return r
        if name == "e_abs":
            return e_abs
        if name == "snr_abs":
            return e_abs / mp.sqrt(m**2 + s**2 - e_abs**2)
        if name == "e_exp_abs":
            return e_exp(lam)
        return e_exp(lam) / mp.sqrt(e_exp(2 * lam) - e_exp(lam) ** 2)


@pytest.mark.parametrize("name", CRITERIA)
@pytest.mark.parametrize(
    "mu,sigma", [(0.0, 0.3), (0.05, 1.0), (-0.4, 0.4), (0.7, 0.05), (-1.0, 2e-3), (0.2, 1e-3)]
)
def test_against_monte_carlo(name: str, mu: float, sigma: float) -> None:
    gen = torch.Generator().manual_seed(0)
    theta = mu + sigma * torch.randn(2_000_000, generator=gen, dtype=torch.float64)
    a = theta.abs()
    estimates = {
        "mean": abs(mu),
        "snr": abs(mu) / sigma,
        "e_abs": a.mean(),
        "snr_abs": a.mean() / a.std(),
        "e_exp_abs": a.exp().mean(),
        "snr_exp_abs": a.exp().mean() / a.exp().std(),
    }
    got = removal_score(
        name, torch.tensor([mu], dtype=torch.float64), torch.tensor([sigma], dtype=torch.float64)
    )
    expected = float(estimates[name])
    # 2e6 samples: relative standard errors of these statistics are below ~1e-3.
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(expected, rel=5e-3, abs=1e-12)


def _grid() -> list[tuple[float, float]]:
    mus = [0.0, 1e-8, 3e-7, 1e-5, 4e-4, 3e-3, 0.02, 0.1, 0.37, 1.0]
    sigmas = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0]
    return [(sign * m, s) for m in mus for s in sigmas for sign in (1.0, -1.0)]


@pytest.mark.parametrize("name", CRITERIA)
def test_float32_accuracy_against_exact(name: str) -> None:
    pairs = _grid()
    mu = torch.tensor([p[0] for p in pairs], dtype=torch.float32)
    sigma = torch.tensor([p[1] for p in pairs], dtype=torch.float32)
    got = removal_score(name, mu, sigma)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    worst = 0.0
    for g, m, s in zip(got.tolist(), mu.tolist(), sigma.tolist(), strict=True):
        ex = exact_score(name, m, s)  # exact at the float32 inputs
        err = abs(g - float(ex)) / float(ex) if ex != 0 else abs(g)
        worst = max(worst, err)
    assert worst < 1e-3


def test_naive_folded_variance_fails_where_the_score_does_not() -> None:
    # The reference code's formula: E|theta|^2 cancels against mu^2 + sigma^2 in float32.
    mu, sigma = torch.tensor([0.5]), torch.tensor([1e-4])
    e_abs = mu * (
        1 - 2 * torch.distributions.Normal(0.0, 1.0).cdf(-mu / sigma)
    ) + sigma * math.sqrt(2 / math.pi) * torch.exp(-(mu**2) / (2 * sigma**2))
    naive_var = mu**2 + sigma**2 - e_abs**2
    assert naive_var.item() <= 0.0 or not math.isfinite((e_abs / naive_var.sqrt()).item())
    assert removal_score("snr_abs", mu, sigma).item() == pytest.approx(5000.0, rel=1e-4)


@pytest.mark.parametrize("name", ["snr", "snr_abs"])
def test_monotone_in_ratio(name: str) -> None:
    # |mu| / sigma from 0 to 1e8 (float32 inputs), by varying mu at fixed sigma and vice versa.
    ratios = torch.cat([torch.zeros(1), torch.logspace(-6, 8, 4000, dtype=torch.float64)])
    for sigma in (1e-8, 1e-4, 0.3):
        mu = (ratios * sigma).clamp(max=1.0)
        s = torch.full_like(mu, sigma)
        scores = removal_score(name, mu.float(), s.float()).double()
        r32 = mu.float().double() / s.float().double()
        order = torch.argsort(r32)
        assert (scores[order].diff() >= 0).all()
    mu = torch.full((3000,), 0.5)
    sig = torch.logspace(0, -8, 3000).float()  # ratio increasing
    assert (removal_score(name, mu, sig).diff() >= 0).all()


def test_sign_symmetric_and_shape() -> None:
    mu = torch.randn(3, 4, 5)
    sigma = torch.rand(3, 4, 5) + 0.01
    for name in CRITERIA:
        s = removal_score(name, mu, sigma)
        assert s.shape == mu.shape
        assert torch.equal(s, removal_score(name, -mu, sigma))


def test_unknown_criterion_names_allowed_values() -> None:
    with pytest.raises(ValueError, match="snr_abs"):
        removal_score("bogus", torch.zeros(1), torch.ones(1))
    with pytest.raises(ValueError, match="'grad', 'random'"):
        addition_score("bogus", None, torch.Size([2]))


def test_addition_scores() -> None:
    g = torch.tensor([[-3.0, 1.0], [0.5, -0.1]])
    assert torch.equal(addition_score("grad", g, g.shape), g.abs())
    r1 = addition_score("random", None, g.shape, torch.Generator().manual_seed(1))
    r2 = addition_score("random", None, g.shape, torch.Generator().manual_seed(1))
    assert torch.equal(r1, r2) and r1.shape == g.shape
