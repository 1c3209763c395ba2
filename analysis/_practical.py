"""The practical reading beside a verdict: does the difference matter? (Region of practical
equivalence, read with two one-sided tests.)

``verdict`` says whether SSVI and dense VI differ detectably; ``practical`` says whether the
difference lies inside a stated margin: ``equivalent`` when the interval at the Holm-adjusted
level lies inside it (the two one-sided tests reject both "at or below the lower end" and "at or
above the upper end"), ``less`` / ``more`` when it lies entirely beyond one end, ``inconclusive``
otherwise. Margins: on the ratio of configuration SDs (SSVI / dense VI), ``[1 / margin,
margin]`` (default 1.25: [0.8, 1.25]); on a difference of working-range widths, ``±margin``
decades (default 0.3, a factor of 2).

Each reading is a one-sided test on the same bootstrap draws as the verdict: with several tests
(the cluster and the seeds-only bootstrap) the largest p-value counts (intersection-union), and
Holm's correction runs within the family for each of the three readings.
``equivalence_margin`` is the narrowest margin for which the draws would have read
``equivalent`` at the family's Bonferroni level (``alpha / m``, at least as strict as Holm's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EQUIVALENT, INCONCLUSIVE, LESS, MORE = "equivalent", "inconclusive", "less", "more"
RATIO_MARGIN = 1.25  # configuration SDs: SSVI / dense VI within [0.8, 1.25]
RANGE_MARGIN = 0.3  # working-range widths: within ±0.3 decades (a factor of 2)


def tails(draws: list[np.ndarray], lo: float, hi: float) -> tuple[float, float, float]:
    """One-sided p-values from each test's draws of the compared quantity (a ratio, or a
    difference): ``(inside, below, above)`` for the alternatives lo < x < hi, x < lo, x > hi."""
    inside, below, above = 0.0, 0.0, 0.0
    for d in draws:
        n = d.size
        at_or_below, at_or_above = float((d <= lo).sum()), float((d >= hi).sum())
        inside = max(inside, (max(at_or_below, at_or_above) + 1) / (n + 1))
        below = max(below, (float((d >= lo).sum()) + 1) / (n + 1))
        above = max(above, (float((d <= hi).sum()) + 1) / (n + 1))
    return inside, below, above


def ratio_draws(sd_draws: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Each test's draws of SSVI's SD over dense VI's; both 0 (neither method moves) reads 1."""
    out = []
    for d in sd_draws:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = d[0] / d[1]
        out.append(np.where((d[0] == 0) & (d[1] == 0), 1.0, r))
    return out


def narrowest(draws: list[np.ndarray], level: float, ratio: bool) -> float:
    """The narrowest symmetric margin whose interval at ``level`` (two one-sided tests at
    ``level`` each) lies inside: a factor for ratios, a distance for differences."""
    widest = 0.0
    for d in draws:
        lo, hi = np.quantile(d, [level, 1 - level], method="inverted_cdf")
        if ratio:  # a ratio draw of 0 (SSVI's SD clipped at 0) or inf: no finite margin
            with np.errstate(divide="ignore"):
                lo, hi = np.log(max(float(lo), 0.0)), np.log(float(hi))
        widest = max(widest, abs(float(lo)), abs(float(hi)))
    return float(np.exp(widest)) if ratio else widest


def _holm(p: pd.Series) -> pd.Series:
    tested = p.dropna().sort_values(kind="stable")
    m = len(tested)
    out = pd.Series(np.nan, index=p.index)
    if m:
        steps = tested.to_numpy() * (m - np.arange(m))
        out.loc[tested.index] = np.minimum(1.0, np.maximum.accumulate(steps))
    return out


def read(tests: pd.Series, alpha: float, lo: float, hi: float, ratio: bool) -> pd.DataFrame:
    """``practical`` and ``equivalence_margin`` for one family's rows.

    Args:
        tests: per row, the list of each test's draws (ratios or differences), or None where
            the row has no practical reading (it reads ``inconclusive``); a tuple
            ``(draws, allowed)`` limits the readings to ``allowed`` (a censored working range can
            only be wider or narrower, never shown equivalent).
        alpha: family-wise error rate; lo, hi: the margin; ratio: draws are ratios.
    """
    p = pd.DataFrame(np.nan, index=tests.index, columns=[EQUIVALENT, LESS, MORE])
    margin = pd.Series(np.nan, index=tests.index)
    rows = [i for i, t in tests.items() if t is not None]
    for i in rows:
        draws, allowed = tests[i] if isinstance(tests[i], tuple) else (tests[i], None)
        inside, below, above = tails(draws, lo, hi)
        for reading, value in ((EQUIVALENT, inside), (LESS, below), (MORE, above)):
            if allowed is None or reading in allowed:
                p.loc[i, reading] = value
        if allowed is None or EQUIVALENT in allowed:
            margin[i] = narrowest(draws, alpha / max(len(rows), 1), ratio)
    adjusted = {reading: _holm(p[reading]) for reading in p.columns}
    practical = pd.Series(INCONCLUSIVE, index=tests.index, dtype=object)
    for reading in (LESS, MORE, EQUIVALENT):
        practical[adjusted[reading] < alpha] = reading
    return pd.DataFrame({"practical": practical, "equivalence_margin": margin})
