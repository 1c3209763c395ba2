"""The seeds-only bootstrap: the configurations fixed by the design, only the seeds redrawn.

A one-at-a-time sweep's levels, or a grid axis's, are a design, not a sample: their uncertainty
is the seeds'. Each replicate redraws, parametrically, Gaussian seed noise around means shrunk so
that their spread is the estimated configuration variance (not that plus seed noise), and the
within sums of squares the seed variance is estimated from (``_variance.components``):

- Each level (a configuration, or a grid level) has its own seed covariance, estimated from its
  own seeds and shrunk toward the pooled one by how much the levels' variances spread beyond
  what chance gives with their seeds (empirical Bayes): a level with 5x the seed noise of the
  others has it in the replicates too, equal noise gives the pooled variance (a plug-in per level
  would overstate the noise's spread by 1 + 2/df). With one pooled variance a noisy level looked
  like sensitivity in 9% of simulated tables (issue 21). A level without two seeds takes the
  pooled covariance.
- The two methods of a pair share a seed: their noise is drawn jointly, from the level's 2x2
  covariance of the two methods' deviations, so a correlation between them stays.
- Each replicate first draws its true seed variance, the estimate's scale times
  ``df / chi2(df)`` (fiducial, pooled degrees of freedom: a variance from 3 seeds is uncertain;
  for one method's levels, the own part of each level's shrunk variance is drawn with the
  level's own degrees of freedom, ``_exact``),
  then what a study in that world observes: the means' noise from ``N(0, S_c / n_c)`` and the
  within sums of squares from the Wishart distribution with the level's degrees of freedom
  (Bartlett's decomposition). These are two different draws, not one counted twice: the first
  is the uncertainty about the truth, the second the estimator's own noise, which the statistic
  subtracts. Without the first, the 95% interval of a 5-level sweep with 3 seeds covered the
  truth in 90% of tables (``tests/analysis/test_analysis_variance.py``).

The draws are kept in pieces (``_variance.Draws``): the spread of the means and the seed noise
can be rescaled without redrawing, which the power calculation of ``detectable`` uses.

Above ``_variance.EXACT_MAX_CONFIGS`` configurations (only comparisons over sampled
configurations, where the cluster bootstrap is the other test of the intersection-union test),
one pooled seed variance per method is used, the methods are drawn independently, and the draws
are the sums the statistics need (``_fixed_sums``), exact in distribution for that model.
"""

from __future__ import annotations

import numpy as np

from analysis import _variance as var
from analysis._variance import Draws, Summary

CHUNK = 2000  # replicates drawn at once (memory: CHUNK x configurations x 4 numbers)


def fixed_draws(
    summary: Summary, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(config_var, seed_var)``, each ``(K, n_boot)``, of the seeds-only bootstrap."""
    draws = fixed_pieces(summary, n_boot, rng)
    return draws.config_var(), draws.seed_var()


def fixed_pieces(summary: Summary, n_boot: int, rng: np.random.Generator) -> Draws:
    """The seeds-only bootstrap's draws, in pieces (module docstring)."""
    config_var, seed_var = var.estimate(summary)
    k, c = summary.mean.shape
    a = summary.mean - summary.mean.mean(-1, keepdims=True)
    spread = a.var(-1, ddof=1) if c > 1 else np.zeros(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(spread > 0, np.sqrt(np.clip(config_var, 0, None) / spread), 0.0)
    keep = np.nan_to_num(keep)
    df = max(summary.df, 1)
    noise = summary.noise.astype(float)
    if c > var.EXACT_MAX_CONFIGS:
        linear, constant, seed = _large(a, noise, np.nan_to_num(seed_var), df, n_boot, rng)
    else:
        linear, constant, seed = _exact(summary, a, noise, df, n_boot, rng)
    return Draws(
        quadratic=np.broadcast_to(spread[:, None], (k, n_boot)),
        linear=linear,
        constant=constant,
        seed=seed,
        noise_mean=np.full(n_boot, noise.mean()),
        observed=spread,
        offset=np.zeros(k),
        test_scale=keep,
    )


def _exact(
    summary: Summary,
    a: np.ndarray,
    noise: np.ndarray,
    df: int,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k, c = a.shape
    cov, pooled, weight = _level_covariances(summary)
    root = _sqrt_psd(cov)  # (C, K, K)
    dof = summary.dof.astype(int)
    # each level's variance is (1 - w) pooled + w own. One method's levels (an SSVI-only
    # sweep): the pooled part's uncertainty is common to every level (pooled degrees of
    # freedom), the own part's is the level's (its seeds), so that a level whose seeds happened
    # to look quiet can still be noisy (issue 21: one value with 5x the seed noise gave a false
    # ssvi_only verdict in 8/120 studies with one common draw, 5/120 with this). Two methods
    # keep one common draw: the per-level one cost the headline a tenth of its power at 0.6x,
    # and shared-knob levels with 5x the noise held (at most 1/120) without it.
    diag = np.einsum("ckk->kc", cov)
    with np.errstate(divide="ignore", invalid="ignore"):
        common = np.where(diag > 0, (1 - weight) * np.diagonal(pooled)[:, None] / diag, 1.0)
    mine = 1.0 - common  # (K, C) shares of each level's variance
    has = dof > 0
    linear, constant, seed = (np.empty((k, n_boot)) for _ in range(3))
    for start in range(0, n_boot, CHUNK):
        b = min(CHUNK, n_boot - start)
        part = slice(start, start + b)
        # the replicate's true seed variance of each level, over the estimate (fiducial)
        shared = df / rng.chisquare(df, size=(k, b, 1))
        if k == 1:  # one method (a knob dense VI lacks): each level's own uncertainty too
            own_draw = dof / rng.chisquare(np.maximum(dof, 1), size=(k, b, c))
            level = np.where(has, own_draw, shared)
            truth = common[:, None, :] * shared + mine[:, None, :] * level  # (K, B, C)
        else:  # two methods: the shrunk variances' common uncertainty (pooled freedom)
            truth = np.broadcast_to(shared, (k, b, c))
        z = rng.standard_normal((b, c, k))
        e = np.einsum("ckj,bcj->kbc", root, z) * np.sqrt(noise) * np.sqrt(truth)
        e -= e.mean(-1, keepdims=True)
        linear[:, part] = 2 * np.einsum("kc,kbc->kb", a, e) / max(c - 1, 1)
        constant[:, part] = (e**2).sum(-1) / max(c - 1, 1)
        wishart = _wishart_diagonal(root, dof, b, rng)  # (B, C, K)
        seed[:, part] = np.einsum("kbc,bck->kb", truth, wishart) / df
    return linear, constant, seed


def _level_covariances(summary: Summary) -> tuple[np.ndarray, np.ndarray, float]:
    """``(C, K, K)`` seed covariance of each level (the pooled one where a level has no degree
    of freedom), with the pooled ``(K, K)`` covariance it mixes with the level's own and the
    own one's weight."""
    k = summary.mean.shape[0]
    if summary.within_cp is not None:
        cp = summary.within_cp.astype(float)
    else:
        cp = np.einsum("kc,kj->ckj", summary.within_ss, np.eye(k))
    dof = summary.dof.astype(float)
    pooled = cp.sum(0) / max(dof.sum(), 1.0)
    has = dof > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(has[:, None, None], cp / dof[:, None, None], pooled[None])
    # shrink toward the pooled covariance by what the levels' variances spread beyond chance
    # (a variance from df seeds varies by 2 sigma^4 / df around its truth): equal seed noise
    # gives the pooled one, one level with 5x the noise keeps its own
    diag = np.einsum("ckk->ck", own)[has]
    centre = np.diagonal(pooled)
    spread = ((diag - centre) ** 2).sum()
    chance = (2 * centre**2 / dof[has][:, None]).sum()
    weight = np.sqrt(max(0.0, 1.0 - chance / spread)) if spread > 0 else 0.0
    return pooled[None] + weight * (own - pooled[None]), pooled, weight


def _sqrt_psd(cov: np.ndarray) -> np.ndarray:
    """Symmetric square roots of a stack of positive semi-definite matrices."""
    values, vectors = np.linalg.eigh(cov)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]) @ np.swapaxes(
        vectors, -1, -2
    )


def _wishart_diagonal(
    root: np.ndarray, dof: np.ndarray, b: int, rng: np.random.Generator
) -> np.ndarray:
    """``(b, C, K)`` diagonals of ``Wishart(dof_c, root_c root_c^T)`` draws (Bartlett: ``root A
    A^T root^T`` with ``A`` lower triangular, ``A_ii^2 ~ chi2(dof - i)``, ``A_ij ~ N(0, 1)``
    below the diagonal; ``dof < K`` gives the singular Wishart of ``dof`` vectors)."""
    c, k = root.shape[0], root.shape[1]
    bartlett = np.tril(rng.standard_normal((b, c, k, k)), -1)
    for i in range(k):
        free = dof - i
        chi = rng.chisquare(np.maximum(free, 1), size=(b, c))
        bartlett[:, :, i, i] = np.sqrt(np.where(free > 0, chi, 0.0))
    bartlett *= (dof > 0)[None, :, None, None]
    product = np.einsum("ckj,bcjl->bckl", root, bartlett)
    return (product**2).sum(-1)


def _large(
    a: np.ndarray,
    noise: np.ndarray,
    seed_var: np.ndarray,
    df: int,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces from the sums, one pooled seed variance per method."""
    linear, constant, seed = [], [], []
    for k in range(a.shape[0]):
        sigma2 = seed_var[k] * df / rng.chisquare(df, size=n_boot)  # as in the exact path
        stream = int(rng.integers(2**63))
        zero = _fixed_sums(np.zeros_like(a[k]), noise, sigma2, np.random.default_rng(stream))
        full = _fixed_sums(a[k], noise, sigma2, np.random.default_rng(stream))
        spread = a[k].var(ddof=1) if a[k].size > 1 else 0.0
        linear.append(full - spread - zero)
        constant.append(zero)
        seed.append(sigma2 * rng.chisquare(df, size=n_boot) / df)
    return np.stack(linear), np.stack(constant), np.stack(seed)


def _fixed_sums(
    mu: np.ndarray, noise: np.ndarray, sigma2: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``var(mu + sqrt(sigma2 * noise) * z, ddof=1)`` over configurations for each of the
    ``(B,)`` ``sigma2``, ``z`` standard normal, in ``O(B x groups)`` instead of ``O(B x C)``.

    The variance needs, per group ``g`` of configurations with the same ``noise``, only
    ``sum z``, ``sum a z`` (``a``: the centred ``mu``) and ``sum z^2``. Writing ``z`` in an
    orthonormal basis whose first vectors span the group's ones and ``a`` gives them exactly:
    ``sum z = sqrt(n) u1``, ``sum a z = mean(a) sqrt(n) u1 + |a - mean(a)| u2`` and
    ``sum z^2 = u1^2 + u2^2 + chi2(n - rank)``, with ``u1, u2`` standard normal.
    """
    a = mu - mu.mean()
    levels, group = np.unique(noise, return_inverse=True)
    n = np.bincount(group).astype(float)
    a_sum = np.bincount(group, weights=a)
    a_mean = a_sum / n
    rest = np.sqrt(np.bincount(group, weights=(a - a_mean[group]) ** 2))
    rank = np.where(rest > 0, 2.0, 1.0)
    b = np.sqrt(levels)
    size = (sigma2.size, levels.size)
    u1, u2 = rng.standard_normal(size), rng.standard_normal(size)
    free = np.maximum(n - rank, 0.0)
    chi2 = np.where(free > 0, rng.chisquare(np.maximum(free, 1.0), size=size), 0.0)
    u2 = np.where(rest > 0, u2, 0.0)
    z_sum = np.sqrt(n) * u1
    az_sum = a_mean * z_sum + rest * u2
    zz_sum = u1**2 + u2**2 + chi2
    sigma = np.sqrt(sigma2)
    total = a_sum.sum() + sigma * (z_sum @ b)
    squares = (a**2).sum() + 2 * sigma * (az_sum @ b) + sigma2 * (zz_sum @ b**2)
    count = mu.size
    return (squares - total**2 / count) / max(count - 1, 1)
