"""Verdicts in plain language: one sentence per row of ``verdicts``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis._range_verdicts import FAMILY, range_sentence
from analysis._schema import Metric, arm_label, resolve_metric
from analysis._verdict_rows import LESS, MORE, NONE


def sentence(row: Mapping[str, Any] | pd.Series) -> str:
    """One verdict in plain language, with its numbers and what it means."""
    if row["family"] == FAMILY:
        return range_sentence(row)
    statistic, scope, verdict = str(row["statistic"]), str(row["scope"]), str(row["verdict"])
    label = arm_label(str(row["arm"]))
    if statistic == "divergence_rate":
        head = {
            LESS: f"{label} diverges less often than dense VI",
            MORE: f"{label} diverges more often than dense VI",
            NONE: "No detectable difference in divergence",
        }[verdict]
        return (
            f"{head}: {_pct(row['ssvi'])} of {label} runs diverged vs {_pct(row['dense_vi'])} "
            f"of dense VI runs on the same {row['n_pairs']} configurations and seeds "
            f"(difference {_pct(row['difference'], True)} points, 95% CI "
            f"{_pct(row['ci_low'], True)} to {_pct(row['ci_high'], True)}{_p(row)})."
        )
    m = resolve_metric(str(row["metric"]))
    what = {"config_sd": "configuration SD", "seed_sd": "seed-to-seed SD"}[statistic]
    where = {
        "overall": f"across {row['n_configs']} paired configurations",
        "seed_noise": f"within {row['n_configs']} paired configurations",
        "ssvi_only": f"across {row['n_configs']} configurations of SSVI's own knobs",
    }.get(scope, f"along {row['n_configs']} values of {scope.removeprefix('ssvi_only:')}")
    interval = f"95% CI {_fmt(m, row['ci_low'], True)} to {_fmt(m, row['ci_high'], True)}{_p(row)}"
    if row["family"] == "ssvi_only":
        knob = scope.removeprefix("ssvi_only:") if ":" in scope else "its own knobs"
        head = (
            f"{label} is sensitive to {knob}, which dense VI does not have, in {m.label}"
            if verdict == MORE
            else f"No detectable sensitivity of {label} to {knob} in {m.label}"
        )
        text = f"{head}: {what} {where} {_fmt(m, row['ssvi'])} ({interval})"
    else:
        if statistic == "seed_sd":
            head = {
                LESS: f"{label} runs are less noisy from seed to seed than dense VI's",
                MORE: f"{label} runs are noisier from seed to seed than dense VI's",
                NONE: "No detectable difference in seed noise",
            }[verdict] + f" in {m.label}"
        else:
            subject = "the shared hyperparameters" if scope == "overall" else scope
            head = {
                LESS: f"{label} is less sensitive than dense VI to {subject}",
                MORE: f"{label} is more sensitive than dense VI to {subject}",
                NONE: f"No detectable difference in sensitivity to {subject}",
            }[verdict] + f" in {m.label}"
        ratio = f", {row['ratio']:.2f}x" if row["ratio"] == row["ratio"] else ""
        text = (
            f"{head}: {what} {where} {_fmt(m, row['ssvi'])} vs {_fmt(m, row['dense_vi'])}"
            f"{ratio}, difference {_fmt(m, row['difference'], True)} ({interval})"
        )
    if row["note"]:
        text += f"; {row['note']}"
    elif verdict == NONE and row["detectable"] == row["detectable"]:
        text += f"; a difference of {_fmt(m, row['detectable'])} would have been detected"
    return text + practical_clause(row, ratio=True) + "."


def practical_clause(row: Mapping[str, Any] | pd.Series, ratio: bool) -> str:
    """What the practical reading adds: does the difference matter (``analysis._practical``)?"""
    reading = row.get("practical", "")
    if not isinstance(reading, str) or not reading:
        return ""
    margin = row.get("equivalence_margin", float("nan"))
    if ratio:
        narrowest = f"{margin:.2f}x" if margin == margin and margin < 1e6 else "none"
    else:
        narrowest = f"±{margin:.2f} decades" if margin == margin else "none"
    detected = row.get("verdict") in (LESS, MORE)
    return {
        "equivalent": "; practically equivalent: the difference lies inside the margin"
        + (" (detectable, but too small to matter)" if detected else ""),
        "less": "; beyond the margin: SSVI is less sensitive by more than it allows",
        "more": "; beyond the margin: SSVI is more sensitive by more than it allows",
        "inconclusive": "; practically inconclusive: the interval reaches past the margin",
    }[reading] + f" (narrowest margin the study could show equivalence within: {narrowest})"


def _fmt(m: Metric, value: float, signed: bool = False) -> str:
    """A value in display units with its unit (``1.2 points``, ``0.013 nats``, ``0.004``)."""
    unit = {"%": " points", "": ""}.get(m.unit, f" {m.unit}")
    text = m.fmt(value, signed)
    return text if text == "n/a" else text + unit


def _p(row: Mapping[str, Any] | pd.Series) -> str:
    p = row["p_holm"]
    return "" if p != p else f", Holm-adjusted p = {p:.3g}"


def _pct(value: float, signed: bool = False) -> str:
    if value != value:
        return "n/a"
    return f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}%"
