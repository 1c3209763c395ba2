"""``detectable`` of the divergence row: the exact McNemar test's power under the alternative.

The power is computed exactly over the discordant pairs, the method that diverged less often
alone keeping its observed rate and the other ``delta`` more; ``detectable`` is the smallest
``delta`` with power ``POWER`` at the family's most stringent Holm level (``alpha / m``). Half
the observed interval (what the configuration-SD rows still use, ``_verdict_rows.holm``)
claimed 8.5 points with 75 pairs and no divergence, where this test needs about 13 (issue 21).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

POWER = 0.8
STEPS = 20


def _solve(power: Callable[[float], float], scale: float, target: float = POWER) -> float:
    """The smallest ``delta`` with ``power(delta) >= target``: the first point of a geometric
    grid from ``scale / 1000`` to ``1000 scale`` that reaches it, then bisection below it (power
    need not grow beyond: where one method's statistic reaches 0, the other's relative
    precision bounds it). NaN when no difference on the grid reaches it."""
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    grid = scale * np.logspace(-3, 3, 19)
    low = 0.0
    for high in grid:
        if power(float(high)) >= target:
            break
        low = float(high)
    else:
        return float("nan")
    high = float(high)
    for _ in range(STEPS):
        mid = (low + high) / 2
        low, high = (mid, high) if power(mid) < target else (low, mid)
    return high


def divergence_power(n: int, b: int, c: int) -> Callable[[float], float]:
    """``level -> detectable`` rate difference of the exact McNemar test over ``n`` pairs."""
    base = min(b, c) / n if n else 0.0

    def at(level: float) -> float:
        if n == 0:
            return float("nan")
        k = np.arange(n + 1)
        crit = _critical(k, level)  # largest count of the rarer discordance that rejects

        def power(delta: float) -> float:
            p_low, p_high = base, base + delta
            if p_low + p_high > 1:
                return 1.0
            total = p_low + p_high
            if total <= 0:
                return 0.0
            log_pk = _log_binom_pmf(k, n, total)
            share = p_low / total
            ok = crit >= 0
            reject = np.zeros(n + 1)
            # min(b, c) <= crit: either count small enough (disjoint when crit < k / 2)
            reject[ok] = special.bdtr(crit[ok], k[ok], share) + special.bdtr(
                crit[ok], k[ok], 1 - share
            )
            return float(np.sum(np.exp(log_pk) * np.clip(reject, 0, 1)))

        return _solve(power, 0.1)

    return at


def _critical(k: np.ndarray, level: float) -> np.ndarray:
    """Per total ``k``: the largest ``j < k / 2`` with exact two-sided McNemar p
    ``2 P(Bin(k, 1/2) <= j) < level``; -1 when none."""
    kf = k.astype(float)
    with np.errstate(invalid="ignore"):
        guess = np.floor(np.nan_to_num(special.bdtrik(level / 2, kf, 0.5), nan=-1.0))
    j = np.clip(guess + 2, -1, np.ceil(kf / 2) - 1)
    for _ in range(k.size + 2):
        bad = (j >= 0) & ((2 * special.bdtr(np.maximum(j, 0), k, 0.5) >= level) | (2 * j >= kf))
        if not bad.any():
            break
        j = np.where(bad, j - 1, j)
    return j.astype(int)


def _log_binom_pmf(k: np.ndarray, n: int, p: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (
            special.gammaln(n + 1)
            - special.gammaln(k + 1)
            - special.gammaln(n - k + 1)
            + special.xlogy(k, p)
            + special.xlog1py(n - k, -p)
        )
