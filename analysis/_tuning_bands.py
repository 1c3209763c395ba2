"""Median tuning curves with exact, distribution-free confidence bands (the ``opda`` package).

Lourie, Cho and He, "Show Your Work with Confidence: Confidence Bands for Tuning Curves",
NAACL 2024. The tuning curve at ``k`` is a statistic of the best of ``k`` configurations drawn
at random; its median is ``F^{-1}(0.5^{1/k})`` (maximising; ``F^{-1}(1 - 0.5^{1/k})``
minimising), ``F`` the distribution of a configuration's score. A simultaneous confidence band
for ``F`` (Learned-Miller–DeStefano, equal-tailed: tight near the ends, where tuning curves
live) maps to a band for the whole curve, every ``k`` at once, whatever ``F`` is. Coverage is
exact for a continuous ``F``; ties (diverged runs scored at chance) make it conservative.

The band's critical value is simulated by opda; a generator seeded by ``(seed, n)`` is kept per
sample size, so opda's cache reuses it and the bands are a deterministic function of the data.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np

CONFIDENCE = 0.95
METHOD = "ld_equal_tailed"  # near the tightest (highest density) and several times faster


@cache
def _generator(n: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, n])


def median_tuning_curve(
    values: np.ndarray,
    ks: np.ndarray,
    *,
    higher_is_better: bool = True,
    lower: float = -np.inf,
    upper: float = np.inf,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The median tuning curve of a score and its simultaneous confidence band.

    Args:
        values: the score of each configuration tried (one per configuration, NaN-free).
        ks: numbers of configurations.
        higher_is_better: maximise (accuracy) or minimise (NLL).
        lower, upper: the score's possible range (a bound where the band runs out of data).
        confidence: the band's simultaneous coverage, over every ``k``.
        seed: of the band's simulated critical value.

    Returns:
        ``(median, low, high)`` at ``ks``, ``low <= high`` in score units; a side of the band
        beyond the data is the bound (``±inf`` where the score has none).
    """
    from opda.nonparametric import EmpiricalDistribution

    ys = np.asarray(values, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ties: the band is then conservative
        cdf_low, cdf_point, cdf_high = EmpiricalDistribution.confidence_bands(
            ys,
            confidence,
            a=lower,
            b=upper,
            generator=_generator(ys.size, seed),
            method=METHOD,
            n_jobs=1,
        )
    minimize = not higher_is_better
    ks = np.asarray(ks, float)
    point = cdf_point.quantile_tuning_curve(ks, minimize=minimize)
    # the upper CDF band puts mass lower: it gives the low side of the curve, and vice versa
    low = cdf_high.quantile_tuning_curve(ks, minimize=minimize)
    high = cdf_low.quantile_tuning_curve(ks, minimize=minimize)
    return np.asarray(point, float), np.asarray(low, float), np.asarray(high, float)
