"""Exact and score tests of paired proportions, for the divergence comparison of ``verdicts``."""

from __future__ import annotations

import numpy as np
from scipy import special


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value of ``b`` and ``c`` discordant pairs: twice the smaller
    binomial(``b + c``, 1/2) tail, at most 1 (``scipy.stats.binomtest(b, b + c).pvalue``, here
    in exact integer arithmetic, correctly rounded, without importing ``scipy.stats``)."""
    n, k = b + c, min(b, c)
    if 2 * k >= n:
        return 1.0
    term = total = 1  # C(n, 0)
    for i in range(k):
        term = term * (n - i) // (i + 1)
        total += term
    return min(1.0, 2 * total / 2**n)


def _norm_isf(q: float) -> float:
    """Upper-tail standard normal quantile, as ``scipy.stats.norm.isf`` computes it."""
    return float(-special.ndtri(q))


def newcombe_interval(a: int, b: int, c: int, d: int, level: float = 0.95) -> tuple[float, float]:
    """95% interval of ``p1 - p2`` from a paired 2x2 table (``a``: both events, ``b``: only the
    first, ``c``: only the second, ``d``: neither), Newcombe's method 10 (Wilson score limits
    of each margin combined with the phi correlation)."""
    n = a + b + c + d
    if n == 0:
        return float("nan"), float("nan")
    z = _norm_isf((1 - level) / 2)

    def wilson(k: int) -> tuple[float, float]:
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    p1, p2 = (a + b) / n, (a + c) / n
    (l1, u1), (l2, u2) = wilson(a + b), wilson(a + c)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / np.sqrt(denominator) if denominator > 0 else 0.0
    delta = np.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
    eps = np.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
    return float(p1 - p2 - delta), float(p1 - p2 + eps)
