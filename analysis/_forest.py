"""Forest plot of a pooled comparison: one row per study, then the pooled diamond."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from analysis._pool import SENSITIVITY, Pooled
from analysis._schema import resolve_metric
from analysis._style import PARAM_LABELS, new_figure

STUDY_COLOR = "#333333"
POOLED_COLOR = "#c0392b"


def plot_forest(pooled: Pooled, metric: str = "accuracy", scope: str = "overall",
                line: str = "") -> Figure:  # fmt: skip
    """Forest plot of one pooled comparison.

    Rows: each study's estimate with its 95% interval (marker size: its random-effects weight),
    then the pooled estimate as a diamond (its 95% Hartung–Knapp interval) with the prediction
    interval as a thin line through it. Shaded: the margin of practical equivalence. The
    ``sensitivity`` family is drawn as the ratio of configuration SDs on a log axis; ``range``
    (``scope`` a knob, ``line`` a failure line) in decades of working-range width.

    Raises:
        ValueError: ``pooled`` has no such comparison.
    """
    family = SENSITIVITY if scope == "overall" else "range"
    key = resolve_metric(metric).key
    pick = (pooled.summary["family"] == family) & (pooled.summary["metric"] == key)
    pick &= (pooled.summary["scope"] == scope) & (pooled.summary["line"] == line)
    if not pick.any():
        raise ValueError(f"no pooled comparison {family}/{key}/{scope}/{line!r}")
    row = pooled.summary[pick].iloc[0]
    s = pooled.studies
    studies = s[(s["family"] == family) & (s["metric"] == key) & (s["scope"] == scope)]
    studies = studies[studies["line"] == line]
    ratio = family == SENSITIVITY
    tf = np.exp if ratio else (lambda x: np.asarray(x, float))
    n = len(studies)
    fig = new_figure(8.4, 1.9 + 0.42 * (n + 1))
    ax = fig.add_subplot()
    ax.axvspan(*tf([row["margin_low"], row["margin_high"]]), color="#cccccc", alpha=0.4, lw=0)
    ax.axvline(float(tf(0.0)), color="#666666", lw=1, ls=":")
    labels = []
    for i, st in enumerate(studies.itertuples()):
        y = n - i
        lo, hi, est = tf([st.low, st.high, st.effect])
        usable = st.se == st.se
        ax.plot([lo, hi], [y, y], color=STUDY_COLOR if usable else "#999999", lw=1.5)
        size = 4 + 10 * math.sqrt(st.weight) if usable else 4
        ax.plot([est], [y], "s", color=STUDY_COLOR if usable else "#999999", ms=size)
        text = f"{st.study}  {_fmt(est, ratio)} [{_fmt(lo, ratio)}, {_fmt(hi, ratio)}]"
        labels.append(text + ("" if usable else " (left out)"))
    if row["effect"] == row["effect"]:
        lo, hi, est = tf([row["ci_low"], row["ci_high"], row["effect"]])
        ax.add_patch(Polygon([(lo, 0), (est, 0.28), (hi, 0), (est, -0.28)], color=POOLED_COLOR))
        if row["pi_low"] == row["pi_low"]:
            ax.plot(tf([row["pi_low"], row["pi_high"]]), [0, 0], color=POOLED_COLOR, lw=1)
        labels.append(f"pooled  {_fmt(est, ratio)} [{_fmt(lo, ratio)}, {_fmt(hi, ratio)}]")
    else:
        labels.append("pooled: " + str(row["note"]))
    ax.set_yticks(list(range(n, -1, -1)), labels, fontsize="small")
    ax.set_ylim(-0.8, n + 0.8)
    if ratio:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("ratio of configuration SDs, SSVI / dense VI (< 1: SSVI less sensitive)")
    else:
        ax.set_xlabel("working-range width, SSVI − dense VI (decades; > 0: SSVI's wider)")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(_title(row, key, scope, line), fontsize="small")
    handles = [
        Line2D([], [], color=STUDY_COLOR, marker="s", lw=1.5),
        Patch(color=POOLED_COLOR),
        Line2D([], [], color=POOLED_COLOR, lw=1),
        Patch(color="#cccccc", alpha=0.4),
    ]
    names = [
        "study: estimate, 95% CI (size: weight)",
        "pooled, 95% CI (random effects, Hartung–Knapp)",
        "95% prediction interval (a new study)",
        "margin of practical equivalence",
    ]
    fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize="x-small",
               frameon=False)  # fmt: skip
    return fig


def _fmt(x: float, ratio: bool) -> str:
    return f"{x:.2f}" if ratio else f"{x:+.2f}"


def _title(row: pd.Series, metric: str, scope: str, line: str) -> str:
    what = resolve_metric(metric).label
    if scope != "overall":
        what += f", working range along {PARAM_LABELS.get(scope, scope)} ({line} line)"
    head = f"{what}\nverdict {row['verdict'] or 'n/a'}, practical {row['practical'] or 'n/a'}"
    if row["effect"] != row["effect"]:
        return head
    return (
        f"{head}; τ² = {row['tau2']:.3g}, I² = {100 * row['i2']:.0f}%, "
        f"Q = {row['q']:.2f} (p = {row['q_p_value']:.2g}), {int(row['n_studies'])} studies"
    )
