"""Removal and addition scores of the sparse subspace (SSVI, Li et al., ICLR 2024, Sec. 4).

For theta ~ N(mu, sigma^2) every removal score depends on r = |mu| / sigma and sigma only. The
naive formulas cancel catastrophically when sigma << |mu| (Var|theta| = mu^2 + sigma^2 - E|theta|^2
is then a difference of nearly equal numbers; float32 gives 0 or a negative number). Here:

* with G(r) = phi(r) - r Phi(-r) (the normal loss function, > 0), E|theta| = sigma (r + 2 G(r)) and
  Var|theta| = sigma^2 (1 - 4 r G(r) - 4 G(r)^2): every term is small next to the leading one, so
  both are accurate at every ratio, and snr_abs = (r + 2G) / sqrt(1 - 4rG - 4G^2) depends on r only;
* for exp(lambda |theta|), with a = lambda sigma and T = |theta| / sigma (a folded normal with
  location r and scale 1), E exp(lambda|theta|) = exp(lambda |mu| + a^2/2 + M(a)) with
  M(a) = log(Phi(r + a) + exp(-2 a r) Phi(a - r)), and the squared coefficient of variation of
  exp(lambda|theta|) is expm1(D) with D = K_T(2a) - 2 K_T(a) = a^2 + M(2a) - 2 M(a) (K_T the
  cumulant generating function of T). For a < 1e-6 the difference M(2a) - 2M(a) loses digits, and
  D = Var(T) a^2 (1 + O(a)) is used instead.

Scores are evaluated in float64 and returned in the dtype of ``mu``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ssvi.enums import AdditionCriterion, RemovalCriterion

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_MIN_SIGMA = 1e-30
# Below this a = lambda * sigma the exp-moment scores use the series D = Var(T) a^2.
_SERIES_BELOW = 1e-6


def _phi(x: Tensor) -> Tensor:
    return torch.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _cdf(x: Tensor) -> Tensor:
    """Standard normal CDF through erfc: accurate in both tails."""
    return 0.5 * torch.erfc(-x / _SQRT2)


def _loss_fn(r: Tensor) -> Tensor:
    """G(r) = phi(r) - r Phi(-r) >= 0 (clamped: at large r it is tiny and cancels)."""
    return (_phi(r) - r * _cdf(-r)).clamp_min(0.0)


def folded_moments(mu: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    """E|theta| and Var|theta| for theta ~ N(mu, sigma^2), stable at every |mu|/sigma (float64)."""
    m = mu.double().abs()
    s = sigma.double().clamp_min(_MIN_SIGMA)
    r = m / s
    g = _loss_fn(r)
    mean = m + 2.0 * s * g
    var_unit = (1.0 - 4.0 * r * g - 4.0 * g * g).clamp_min(torch.finfo(torch.float64).tiny)
    return mean, s * s * var_unit


def _log_mass(r: Tensor, a: Tensor) -> Tensor:
    """M(a) = log(Phi(r + a) + exp(-2 a r) Phi(a - r)) via log1p (it is ~0 for large r)."""
    return torch.log1p(-_cdf(-(r + a)) + torch.exp(-2.0 * a * r) * _cdf(a - r))


def exp_abs_moments(mu: Tensor, sigma: Tensor, lam: float) -> tuple[Tensor, Tensor]:
    """E exp(lam|theta|) and its squared coefficient of variation Var/E^2, stable (float64)."""
    if lam <= 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    m = mu.double().abs()
    s = sigma.double().clamp_min(_MIN_SIGMA)
    r = m / s
    a = lam * s
    mean = torch.exp(lam * m + 0.5 * a * a + _log_mass(r, a))
    d_direct = a * a + _log_mass(r, 2.0 * a) - 2.0 * _log_mass(r, a)
    _, var_t = folded_moments(r, torch.ones_like(r))
    d = torch.where(a < _SERIES_BELOW, var_t * a * a, d_direct).clamp_min(0.0)
    return mean, torch.expm1(d)


def removal_score(
    name: RemovalCriterion | str, mu: Tensor, sigma: Tensor, lam: float = 1.0
) -> Tensor:
    """Score of each weight for staying in the subspace (the lowest scores are removed).

    Args:
        name: ``mean`` |mu|, ``snr`` |mu|/sigma, ``e_abs`` E|theta|, ``snr_abs`` (default in the
            paper) E|theta| / sd|theta|, ``e_exp_abs`` E exp(lam|theta|), ``snr_exp_abs``
            E exp(lam|theta|) / sd exp(lam|theta|).
        mu, sigma: posterior means and standard deviations (same shape).
        lam: lambda of the exp-moment criteria.

    Returns:
        A finite tensor of ``mu``'s shape and dtype.
    """
    crit = RemovalCriterion.parse(name, "removal criterion")
    if mu.shape != sigma.shape:
        raise ValueError(f"mu shape {tuple(mu.shape)} != sigma shape {tuple(sigma.shape)}")
    m = mu.double().abs()
    s = sigma.double().clamp_min(_MIN_SIGMA)
    if crit == RemovalCriterion.MEAN:
        score = m
    elif crit == RemovalCriterion.SNR:
        score = m / s
    elif crit in (RemovalCriterion.E_ABS, RemovalCriterion.SNR_ABS):
        mean, var = folded_moments(m, s)
        score = mean if crit == RemovalCriterion.E_ABS else mean / var.sqrt()
    else:
        mean, cv2 = exp_abs_moments(m, s, lam)
        score = mean if crit == RemovalCriterion.E_EXP_ABS else cv2.rsqrt()
    finfo = torch.finfo(mu.dtype) if mu.dtype.is_floating_point else torch.finfo(torch.float32)
    return score.clamp(max=finfo.max).to(mu.dtype)


def addition_score(
    name: AdditionCriterion | str,
    dense_grad: Tensor | None,
    shape: torch.Size,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Score of each inactive weight for entering the subspace (the highest are added).

    ``grad``: |dL/dmu| of the dense gradient (mean over the accumulated minibatches); ``random``:
    uniform noise from ``generator`` (seeded by the subspace).
    """
    crit = AdditionCriterion.parse(name, "addition criterion")
    if crit == AdditionCriterion.RANDOM:
        return torch.rand(shape, generator=generator)
    if dense_grad is None:
        raise RuntimeError("the grad addition criterion needs a captured dense gradient")
    return dense_grad.abs()
