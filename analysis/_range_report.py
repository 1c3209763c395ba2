"""Working ranges in the report: the figure, the lead's sentences and the section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis._document import Document
from analysis._load import prepare_results
from analysis._range_verdicts import FAMILY, NONE, range_sentence
from analysis._ranges import Curve, curves, range_knobs, working_ranges
from analysis._schema import DENSE, arm_label, resolve_metric, sort_arms
from analysis._style import PARAM_LABELS, arm_color, log_ticks, new_figure, param_label

LINE_STYLES = {"collapse": "--", "tolerance": ":"}


def plot_working_ranges(
    df: pd.DataFrame,
    metric: str = "accuracy",
    ranges: pd.DataFrame | None = None,
    lines: tuple[str, ...] = ("collapse", "tolerance"),
) -> Figure:
    """Where each method breaks: the metric against each shared knob (log axis), one panel
    per knob, both methods.

    Per-seed values (diverged runs at chance, crosses) and their mean; each method's failure
    lines (dashed: collapse, dotted: tolerance); its working range for the first of ``lines``
    shaded (to the outermost probed value where it reaches no edge); each edge at its line's
    height with its 95% interval. The paper's robustness figure, read as working ranges.

    Args:
        df: results table with one-at-a-time rows (designs ``oat`` and ``edge``).
        metric: metric key or column (not ``ece``).
        ranges: ``working_ranges(df)``, when already computed.
        lines: failure lines to draw.

    Raises:
        ValueError: no shared knob has one-at-a-time rows, or the metric has no working range.
    """
    m = resolve_metric(metric)
    data = prepare_results(df)
    knobs = range_knobs(data)
    if not knobs:
        raise ValueError("no one-at-a-time (design 'oat' or 'edge') rows of a shared knob")
    if ranges is None:
        ranges = working_ranges(data, metrics=(m.key,), n_boot=1000)
    ranges = ranges[(ranges["metric"] == m.key) & ranges["line"].isin(lines)]
    if ranges.empty:
        raise ValueError(f"no working range of {m.label} in the table")
    knobs = [k for k in knobs if k in set(ranges["knob"])]
    fig = new_figure(4.2 * len(knobs) + 0.4, 3.9)
    axs = np.atleast_1d(fig.subplots(1, len(knobs), squeeze=False, sharey=True)[0])
    arms: list[str] = []
    for ax, knob in zip(axs, knobs, strict=True):
        part = ranges[ranges["knob"] == knob]
        for curve in curves(data, m, knob):
            if curve.arm not in set(part["arm"]):
                continue
            arms += [curve.arm] if curve.arm not in arms else []
            _draw_curve(ax, curve, part[part["arm"] == curve.arm], lines, m.scale)
        ax.set_xscale("log")
        log_ticks(ax.xaxis, [float(v) for v in part[["probed_min", "probed_max"]].stack()], False)
        ax.axvline(float(part["base_value"].iloc[0]), color="#666666", ls="-", lw=0.8, alpha=0.6)
        ax.set_xlabel(param_label(knob), fontsize="small")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize="small")
    axs[0].set_ylabel(m.axis_label(), fontsize="small")
    handles: list[Line2D | Patch] = [
        Line2D([], [], color=arm_color(a), marker="o", lw=2) for a in sort_arms(arms)
    ]
    labels = [arm_label(a) for a in sort_arms(arms)]
    handles += [Line2D([], [], color="#444444", ls=LINE_STYLES[line]) for line in lines]
    labels += [f"{line} line" for line in lines]
    handles += [Patch(color="#999999", alpha=0.25), Line2D([], [], color="#666666", lw=0.8)]
    labels += [f"working range ({lines[0]})", "base value"]
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize="small")
    fig.suptitle(
        f"Where each method breaks: {m.label} along each knob (points: seeds, diverged at "
        "chance; bars: 95% intervals of the edges)",
        fontsize="small",
        wrap=True,
    )
    return fig


def _draw_curve(
    ax: Axes, curve: Curve, part: pd.DataFrame, lines: tuple[str, ...], scale: float
) -> None:
    color = arm_color(curve.arm)
    x = 10**curve.x
    sign = curve.sign * scale
    for xv, values in zip(x, curve.values, strict=True):
        ax.scatter(np.full(values.size, xv), values * sign, s=9, color=color, alpha=0.45, lw=0)
    ax.plot(x, curve.means() * sign, color=color, marker="o", ms=3.5, lw=1.6)
    for line in lines:
        rows = part[part["line"] == line].set_index("side")
        if rows.empty:
            continue
        height = float(rows["line_value"].iloc[0]) * scale
        ax.axhline(height, color=color, ls=LINE_STYLES[line], lw=1, alpha=0.8)
        for side in ("lower", "upper"):
            r = rows.loc[side]
            if r["censored"]:
                continue
            low, high = (
                min(max(v, r["probed_min"]), r["probed_max"]) for v in (r["ci_low"], r["ci_high"])
            )
            err = [[r["edge"] - low], [high - r["edge"]]]
            ax.errorbar(r["edge"], height, xerr=err, fmt="D", ms=5, color=color, capsize=3, lw=1.4)
        if line == lines[0]:
            lo = rows.loc["lower"]
            hi = rows.loc["upper"]
            start = lo["probed_min"] if lo["censored"] else lo["edge"]
            end = hi["probed_max"] if hi["censored"] else hi["edge"]
            ax.axvspan(start, end, color=color, alpha=0.08, lw=0)


def _value(x: float) -> str:
    if not np.isfinite(x) or x <= 0:
        return "beyond the probed range"
    return f"{x:.3g}"


def answer(v: pd.DataFrame, ranges: pd.DataFrame, metric: str = "accuracy") -> list[str]:
    """The lead's sentence per knob: each method's edges on the collapse line, then the width
    verdicts of both lines."""
    m = resolve_metric(metric)
    rows = v[(v["family"] == FAMILY) & (v["metric"] == m.key)]
    out = []
    for knob in dict.fromkeys(ranges.loc[ranges["metric"] == m.key, "knob"]):
        part = ranges[(ranges["knob"] == knob) & (ranges["metric"] == m.key)]
        clauses = [_edges_clause(part[part["line"] == "collapse"])]
        for line, what in (("collapse", "working range"), ("tolerance", "tolerance range")):
            for _, r in rows[(rows["scope"] == knob) & (rows["line"] == line)].iterrows():
                clauses.append(_verdict_clause(r, what))
        name = PARAM_LABELS.get(str(knob), str(knob))
        out.append(
            f"**{name[:1].upper() + name[1:]}: where each method breaks ({m.label})** — "
            + "; ".join(c for c in clauses if c)
            + "."
        )
    return out


def _edges_clause(part: pd.DataFrame) -> str:
    said = []
    for side, where in (("upper", "above"), ("lower", "below")):
        rows = part[part["side"] == side]
        if rows.empty:
            continue
        base = f"{float(rows['base_value'].iloc[0]):.2g}"
        bound = f"{float(rows['probed_max' if side == 'upper' else 'probed_min'].iloc[0]):.2g}"
        if rows["censored"].astype(bool).all():
            said.append(f"neither method collapses between {base} and {bound}")
            continue
        each = [
            f"{arm_label(r.arm)} at {_value(r.edge)} ({_value(r.ci_low)}–{_value(r.ci_high)})"
            if not r.censored
            else f"{arm_label(r.arm)} not up to {bound}"
            for r in sorted(rows.itertuples(), key=lambda r: r.arm != DENSE)
        ]
        said.append(f"collapse {where} {base}: " + ", ".join(each) + " (95% CI)")
    return "; ".join(said)


def _verdict_clause(r: pd.Series, what: str) -> str:
    label = arm_label(str(r["arm"]))
    if r["p_value"] != r["p_value"]:
        return f"no {what} to compare ({r['note']})"
    size = abs(float(r["difference"]))
    direction = "wider" if r["difference"] > 0 else "narrower"
    practical = str(r.get("practical", "") or "")
    return (
        f"{label}'s {what} is {size:.2f} decades {direction} than dense VI's (95% CI "
        f"{r['ci_low']:+.2f} to {r['ci_high']:+.2f}), verdict {r['verdict']}"
        + (f", practically {practical}" if practical else "")
    )


def section(doc: Document, v: pd.DataFrame, ranges: pd.DataFrame, figure: Path | None) -> None:
    """The report's working-range section: the verdict table, the figure, what was done."""
    rows = v[v["family"] == FAMILY]
    doc.heading("Working ranges: where each method breaks")
    doc.paragraph(
        "Along each shared knob (all others at their base values; designs oat and edge), a "
        "method's working range is where its seed-averaged metric stays above its failure "
        "line: *collapse*, half-way between its own base value and chance, or *tolerance*, a "
        "set distance below its base value (2 accuracy points). Edges are interpolated on the "
        "log scale and never extrapolated; diverged runs count as failed (scored at chance). "
        "Widths are compared inside the range probed for both methods, in decades: 'less' "
        "means SSVI's working range is wider (SSVI less sensitive). Holm within the family."
    )
    if not rows.empty:
        doc.table(_table(rows))
        doc.bullets([range_sentence(r) for _, r in rows.iterrows() if r["verdict"] != NONE])
    if figure is not None:
        doc.figure(
            figure,
            "Test accuracy along each knob: seeds (points) and their mean; dashed: collapse "
            "lines, dotted: tolerance lines; shaded: working ranges (collapse); diamonds: "
            "edges with 95% intervals over seeds.",
        )
    doc.paragraph("Every edge, with its interval and the probed range: `tables/ranges.csv`.")


def _table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": rows["arm"].map(arm_label),
            "metric": rows["metric"].map(lambda k: resolve_metric(str(k)).label),
            "knob": rows["scope"],
            "line": rows["line"],
            "SSVI width (decades)": rows["ssvi"].map("{:.2f}".format),
            "dense VI width": rows["dense_vi"].map("{:.2f}".format),
            "SSVI − dense VI [95% CI]": [
                f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]"
                for d, lo, hi in zip(
                    rows["difference"], rows["ci_low"], rows["ci_high"], strict=True
                )
            ],
            "Holm p": rows["p_holm"].map(lambda p: "n/a" if p != p else f"{p:.2g}"),
            "verdict": rows["verdict"],
            "detectable (80% power)": rows["detectable"].map(
                lambda d: "n/a" if d != d else f"{d:.2f}"
            ),
        }
    )
