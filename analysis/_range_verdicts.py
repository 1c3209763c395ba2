"""The ``range`` family of ``verdicts``: is SSVI's working range along a knob wider?

One row per SSVI arm, metric, shared knob and failure line (``analysis._ranges``): the
difference of the working ranges' widths in decades, SSVI minus dense VI, both measured inside
the range of values probed for both methods, with a percentile-bootstrap interval over seeds.

Censored edges: an edge beyond the probed range counts at the probed bound, so a width with a
censored edge is a lower bound. Where only one method's edge is censored, the truncated
difference understates that method's advantage: it is tested one-sided, and only in the
direction the bound implies (``less`` when only SSVI has censored edges, ``more`` when only
dense VI has); with censored edges on both sides of the ledger no direction is implied and the
row has no p-value. Where both methods' edges are censored on the same side they tie there:
the verdict then says which working range is wider inside the probed range.

Holm's step-down correction within the family. ``detectable``: the difference that a test at
the family's most stringent Holm level would detect with 80% power, from the bootstrap's
standard error under a shift alternative (normal approximation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from analysis._practical import RANGE_MARGIN, read
from analysis._ranges import RANGE_METRICS, Edges, all_edges, width
from analysis._schema import DENSE, arm_label, resolve_metric
from analysis._style import PARAM_LABELS, fmt_setting

FAMILY = "range"
DESCRIPTION = "width of the working range along each shared knob, SSVI vs dense VI"
STATISTIC = "range_width"
LESS, NONE, MORE = "less", "none", "more"
POWER = 0.8
# The family's metrics: the paper's. NLL and OOD AUROC collapse with accuracy, so their width
# verdicts would nearly repeat accuracy's while diluting Holm's correction; ``working_ranges``
# gives their edges and intervals.
VERDICT_METRICS = ("accuracy",)


def range_verdicts(
    data: pd.DataFrame,
    metrics: tuple[str, ...] = RANGE_METRICS,
    *,
    seed: int = 0,
    n_boot: int = 10_000,
    alpha: float = 0.05,
    delta: float | Mapping[str, float] | None = None,
    margin: float = RANGE_MARGIN,
) -> pd.DataFrame:
    """The ``range`` family's rows (``verdicts``' columns and ``line``), Holm-corrected.

    Args:
        data: a prepared results table.
        metrics: metric keys; only those in ``VERDICT_METRICS`` (accuracy) get rows.
        seed, n_boot, alpha, delta: as ``verdicts`` and ``working_ranges``.
        margin: the practical reading's margin on the width difference, in decades.
    """
    metrics = tuple(k for k in metrics if resolve_metric(k).key in VERDICT_METRICS)
    found = all_edges(data, metrics, delta, n_boot, seed) if metrics else []
    index = {(e.curve.arm, e.curve.knob, e.curve.metric.key, e.line): e for e in found}
    rows = []
    for (arm, knob, metric, line), ssvi in index.items():
        dense = index.get((DENSE, knob, metric, line))
        if arm != DENSE and dense is not None:
            rows.append(_compare(ssvi, dense, knob, metric, line))
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return _holm(out, alpha, margin)


def _compare(ssvi: Edges, dense: Edges, knob: str, metric: str, line: str) -> dict[str, Any]:
    low = max(ssvi.curve.x[0], dense.curve.x[0])
    high = min(ssvi.curve.x[-1], dense.curve.x[-1])
    w_s, w_d = float(width(ssvi.point, low, high)), float(width(dense.point, low, high))
    draws = width(ssvi.draws, low, high) - width(dense.draws, low, high)
    # a side is censored when its edge lies beyond the common probed range
    cens_s = np.array([ssvi.point[0] <= low, ssvi.point[1] >= high])
    cens_d = np.array([dense.point[0] <= low, dense.point[1] >= high])
    may_less = not (cens_d & ~cens_s).any()  # SSVI's true width exceeds its bound only
    may_more = not (cens_s & ~cens_d).any()
    ci_low, ci_high = np.percentile(draws, [2.5, 97.5], method="inverted_cdf")
    n = draws.size
    below, above = int((draws <= 0).sum()), int((draws >= 0).sum())
    if (cens_s & cens_d).all():
        p, sides = float("nan"), 2  # no edge anywhere: nothing to compare
    elif may_less and may_more:
        p, sides = min(1.0, 2 * (min(below, above) + 1) / (n + 1)), 2
    elif may_less:
        p, sides = (below + 1) / (n + 1), 1
    elif may_more:
        p, sides = (above + 1) / (n + 1), 1
    else:
        p, sides = float("nan"), 2
    runs = {c.arm: c for c in (ssvi.curve, dense.curve)}
    common = np.intersect1d(ssvi.curve.x, dense.curve.x)
    pairs = sum(
        min(c.values[int(np.flatnonzero(c.x == v)[0])].size for c in runs.values()) for v in common
    )
    return {
        "family": FAMILY,
        "arm": ssvi.curve.arm,
        "metric": metric,
        "scope": knob,
        "line": line,
        "statistic": STATISTIC,
        "source": ",".join(sorted({ssvi.curve.source, dense.curve.source})),
        "ssvi": w_s,
        "dense_vi": w_d,
        "difference": w_s - w_d,
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "ratio": np.nan,
        "ratio_low": np.nan,
        "ratio_high": np.nan,
        "p_value": p,
        "n_configs": int(common.size),
        "n_pairs": int(pairs),
        "n_dropped": 0,
        "note": _note(ssvi, dense, cens_s, cens_d, low, high),
        "_sides": sides,
        "_se": float(np.std(draws)),
        "_may": (may_less, may_more),
        "_tests": _practical_tests(draws, cens_s, cens_d, may_less, may_more),
    }


def _practical_tests(
    draws: np.ndarray, cens_s: np.ndarray, cens_d: np.ndarray, may_less: bool, may_more: bool
) -> Any:
    """The draws a practical reading may use: equivalence only when both methods' edges are
    censored on the same sides (the widths then compare inside the same probed range); a
    censored width alone can only show the direction it bounds."""
    if (cens_s & cens_d).all():
        return None  # no edge anywhere
    if (cens_s == cens_d).all():
        return [draws]
    allowed = {LESS} if may_less and not may_more else {MORE} if may_more and not may_less else ()
    return ([draws], allowed) if allowed else None


def _note(
    ssvi: Edges, dense: Edges, cens_s: np.ndarray, cens_d: np.ndarray, low: float, high: float
) -> str:
    parts = []
    for side in range(2):
        bound = fmt_setting(10 ** (low if side == 0 else high))
        where = f"{'below' if side == 0 else 'above'} {bound}"
        if cens_s[side] and cens_d[side]:
            parts.append(f"neither method reaches an edge {where} (a tie there)")
        elif cens_s[side] or cens_d[side]:
            who = "SSVI" if cens_s[side] else "dense VI"
            parts.append(f"{who} reaches no edge {where} (its width is a lower bound)")
    if (cens_s & ~cens_d).any() and (cens_d & ~cens_s).any():
        parts.append("each method has an edge the other lacks: no direction is implied")
    return "; ".join(parts)


def _holm(out: pd.DataFrame, alpha: float, margin: float = RANGE_MARGIN) -> pd.DataFrame:
    p = out["p_value"]
    tested = p.dropna().sort_values(kind="stable")
    m = len(tested)
    out["p_holm"] = np.nan
    if m:
        adjusted = np.minimum(1.0, np.maximum.accumulate(tested.to_numpy() * (m - np.arange(m))))
        out.loc[tested.index, "p_holm"] = adjusted
    power = float(special.ndtri(POWER))
    z = np.array([-special.ndtri(alpha / (s * max(m, 1))) for s in out["_sides"]]) + power
    out["detectable"] = np.where(out["p_value"].notna(), z * out["_se"], np.nan)
    wider = out["difference"] > 0
    allowed = np.array([may[0] if w else may[1] for may, w in zip(out["_may"], wider, strict=True)])
    significant = (out["p_holm"] < alpha).to_numpy() & allowed & (out["difference"] != 0)
    out["verdict"] = np.where(significant, np.where(wider, LESS, MORE), NONE)
    # wider is less sensitive: the reading's "less" is a difference beyond +margin
    reading = read(out["_tests"].map(_flip), alpha, -margin, margin, ratio=False)
    out["practical"] = reading["practical"]
    out["equivalence_margin"] = reading["equivalence_margin"]
    return out.drop(columns=["_sides", "_se", "_may", "_tests"])


def _flip(tests: Any) -> Any:
    """Width differences as 'SSVI less sensitive is negative', the practical reading's sign."""
    if tests is None:
        return None
    if isinstance(tests, tuple):
        return [-d for d in tests[0]], tests[1]
    return [-d for d in tests]


def range_sentence(row: Mapping[str, Any] | pd.Series) -> str:
    """A ``range`` row in words."""
    m = resolve_metric(str(row["metric"]))
    knob = PARAM_LABELS.get(str(row["scope"]), str(row["scope"]))
    label = arm_label(str(row["arm"]))
    line = (
        "collapse (half-way to chance)"
        if row["line"] == "collapse"
        else "tolerance (a set distance from its own base value)"
    )
    head = {
        LESS: f"{label}'s working range along {knob} is wider than dense VI's",
        MORE: f"{label}'s working range along {knob} is narrower than dense VI's",
        NONE: f"No detectable difference in the working range along {knob}",
    }[str(row["verdict"])]
    p = row["p_holm"]
    text = (
        f"{head} in {m.label}, failure line {line}: {row['ssvi']:.2f} vs "
        f"{row['dense_vi']:.2f} decades, difference {row['difference']:+.2f} (95% CI "
        f"{row['ci_low']:+.2f} to {row['ci_high']:+.2f}"
        + ("" if p != p else f", Holm-adjusted p = {p:.3g}")
        + ")"
    )
    if row["note"]:
        text += f"; {row['note']}"
    if row["verdict"] == NONE and row["detectable"] == row["detectable"]:
        text += f"; a difference of {row['detectable']:.2f} decades would have been detected"
    from analysis._verdict_sentences import practical_clause

    return text + practical_clause(row, ratio=False) + "."
