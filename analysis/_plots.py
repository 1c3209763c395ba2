"""Figures over configurations: grid heatmaps, ECDFs, importance bars, accuracy vs FLOPs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from analysis._design import config_table, grid_axes, spread_rows
from analysis._importance import EVALUATORS
from analysis._load import prepare_results
from analysis._schema import ARM, Metric, arm_label, resolve_metric, sort_arms
from analysis._style import PARAM_LABELS, arm_color, fmt_setting, log_ticks, new_figure, note


def plot_heatmaps(
    df: pd.DataFrame, metric: str | Metric = "accuracy", axes: tuple[str, str] | None = None
) -> Figure:
    """Heatmaps of the seed-averaged metric over the grid design, one panel per method.

    All panels share one colour scale (brighter is better); cells where at least one seed
    diverged get a red frame and a ``k/n div.`` note (diverged runs are scored at chance).

    Args:
        df: results table with ``design == "grid"`` rows.
        metric: metric key or column.
        axes: the two grid hyperparameters ``(x, y)``; detected when ``None``.

    Raises:
        ValueError: no grid design with two varied hyperparameters.
    """
    m = resolve_metric(metric)
    data = spread_rows(prepare_results(df))
    axes = axes or grid_axes(data)
    if axes is None:
        raise ValueError("no grid design with two varied hyperparameters in the table")
    x, y = axes
    grid = data[data["design"] == "grid"].assign(_div=lambda t: t["status"].eq("diverged"))
    panel_col = "method" if "density" in axes else ARM
    cells = grid.groupby([panel_col, y, x]).agg(
        value=(m.column, "mean"), n=(m.column, "size"), div=("_div", "sum")
    )
    panels = sort_arms(grid[panel_col]) if panel_col == ARM else ["dense_vi", "ssvi"]
    panels = [p for p in panels if p in cells.index.get_level_values(0)]
    values = cells["value"] * m.scale
    vmin, vmax = float(np.nanmin(values)), float(np.nanmax(values))
    cmap = colormaps["viridis" if m.higher_is_better else "viridis_r"].with_extremes(bad="#dddddd")
    fig = new_figure(3.4 * len(panels) + 1.3, 3.8)
    axs = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    image = None
    for ax, panel in zip(axs, panels, strict=True):
        block = cells.loc[panel]
        xs = sorted(block.index.get_level_values(x).unique())
        ys = sorted(block.index.get_level_values(y).unique())
        full = block.reindex(pd.MultiIndex.from_product([ys, xs], names=[y, x]))
        z = full["value"].to_numpy().reshape(len(ys), len(xs)) * m.scale
        image = ax.imshow(z, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower", aspect="auto")
        for (i, j), row in zip(np.ndindex(len(ys), len(xs)), full.itertuples(), strict=True):
            _annotate_cell(ax, i, j, row, m, image)
        ax.set_xticks(range(len(xs)), [fmt_setting(v) for v in xs])
        ax.set_yticks(range(len(ys)), [fmt_setting(v) for v in ys])
        ax.set_xlabel(PARAM_LABELS.get(x, x))
        if ax is axs[0]:
            ax.set_ylabel(PARAM_LABELS.get(y, y))
        ax.set_title(_panel_title(panel))
    assert image is not None
    fig.colorbar(image, ax=list(axs), label=m.axis_label(), shrink=0.9)
    fig.suptitle(
        f"{m.title} on the grid, mean over seeds (red frame: some seeds diverged, excluded)",
        fontsize="medium",
    )
    return fig


def _panel_title(panel: str) -> str:
    return {"ssvi": "SSVI (all densities)"}.get(panel, arm_label(panel))


def _annotate_cell(ax: Axes, i: int, j: int, row: Any, m: Metric, image: AxesImage) -> None:
    value = row.value * m.scale if row.value == row.value else float("nan")
    if value != value:
        ax.text(j, i, "n/a", ha="center", va="center", fontsize="small")
        return
    r, g, b, _ = image.to_rgba(np.asarray(value))
    color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
    text = f"{value:.1f}" if m.scale == 100 else f"{value:.3f}"
    if row.div:
        ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, ec="#d62728", lw=2.2))
        text += f"\n{int(row.div)}/{int(row.n)} div."
    ax.text(j, i, text, ha="center", va="center", color=color, fontsize="small")


def plot_ecdf(df: pd.DataFrame, metric: str | Metric = "accuracy") -> Figure:
    """ECDF of the seed-averaged metric across configurations, one curve per method.

    A method that is robust to its hyperparameters has most configurations near its best
    value: its curve rises steeply at the good end of the axis.
    """
    m = resolve_metric(metric)
    configs = config_table(spread_rows(prepare_results(df)), m)
    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    for arm in sort_arms(configs[ARM]):
        v = np.sort(configs.loc[configs[ARM] == arm, "value"].dropna().to_numpy() * m.scale)
        if v.size == 0:
            continue
        frac = np.arange(1, v.size + 1) / v.size
        ax.step(
            np.r_[v[0], v],
            np.r_[0.0, frac],
            where="post",
            color=arm_color(arm),
            lw=2,
            label=f"{arm_label(arm)} ({v.size} configurations)",
        )
    ax.set_xlabel(m.axis_label())
    ax.set_ylabel("fraction of configurations ≤ value")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    good = "right" if m.higher_is_better else "left"
    ax.set_title(
        f"Distribution of {m.label} over configurations\n(seed-averaged; robust = "
        f"steep rise at the {good}; {m.diverged_note})",
        fontsize="medium",
    )
    ax.legend(loc="upper left" if m.higher_is_better else "lower right", fontsize="small")
    return fig


def plot_importance(table: pd.DataFrame) -> Figure:
    """Importance of each hyperparameter per method, with bootstrap intervals.

    One panel per (design, evaluator): the ``random`` design's shared knobs (both methods) and
    the ``random_ssvi`` design's SSVI-only knobs (SSVI only) are separate samples.

    Args:
        table: output of ``importance`` (or several concatenated, e.g. one per evaluator)
            for a single metric.
    """
    if table.empty:
        raise ValueError("empty importance table")
    if "design" not in table.columns:
        table = table.assign(design="random")
    panels = [
        (d, e)
        for d in sorted(set(table["design"]))
        for e in EVALUATORS
        if ((table["design"] == d) & (table["evaluator"] == e)).any()
    ]
    arms = sort_arms(table["arm"])
    most = max(table[table["design"] == d]["param"].nunique() for d, _ in panels)
    fig = new_figure(4.8 * len(panels) + 0.6, 0.32 * most * len(arms) + 2.4)
    axs = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    height = 0.8 / len(arms)
    for ax, (design, evaluator) in zip(axs, panels, strict=True):
        part = table[(table["design"] == design) & (table["evaluator"] == evaluator)]
        order = part.groupby("param")["importance"].max().sort_values().index.tolist()
        for k, arm in enumerate(arms):
            rows = part[part["arm"] == arm].set_index("param").reindex(order)
            if rows["importance"].isna().all():
                continue
            # bars: the share of the configuration means' variance each knob explains (seed
            # noise is the rest), so that knobs that do nothing stay short
            share = rows["config_share"].to_numpy() if "config_share" in rows else 1.0
            values = rows["importance"].to_numpy() * share
            low, high = rows["low"].to_numpy() * share, rows["high"].to_numpy() * share
            err = np.vstack([values - low, high - values])
            ax.barh(
                np.arange(len(order)) + ((len(arms) - 1) / 2 - k) * height,  # 1st on top
                values,
                height=height,
                xerr=np.clip(np.nan_to_num(err), 0, None),
                capsize=2,
                color=arm_color(arm),
                label=arm_label(arm),
            )
        ax.set_yticks(range(len(order)), [PARAM_LABELS.get(p, p) for p in order])
        ax.tick_params(axis="y", labelsize="small")
        ax.set_xlabel("share of the variance of configuration means", fontsize="small")
        n = int(part["n_configs"].max()) if "n_configs" in part else 0
        ax.set_title(
            f"{EVALUATORS[evaluator].split(' (')[0]}, {design} design ({n} configurations)",
            fontsize="small",
        )
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right", fontsize="x-small")
    metric = resolve_metric(str(table["metric"].iloc[0]))
    fig.suptitle(
        f"Hyperparameter importance for {metric.label}: optuna's importance x the share of "
        "the variance that is not seed noise (95% bootstrap intervals over configurations)",
        fontsize="medium",
    )
    return fig


def plot_accuracy_vs_flops(df: pd.DataFrame, metric: str | Metric = "accuracy") -> Figure:
    """Seed-averaged metric of every configuration against its training FLOPs, per method.

    Raises:
        ValueError: the table has no ``train_flops`` column.
    """
    m = resolve_metric(metric)
    data = spread_rows(prepare_results(df))
    if "train_flops" not in data.columns:
        raise ValueError("the results table has no train_flops column")
    configs = config_table(data, m)
    flops = data.groupby([ARM, "config_id"])["train_flops"].mean()
    configs["flops"] = flops.reindex(
        pd.MultiIndex.from_frame(configs[[ARM, "config_id"]])
    ).to_numpy()
    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    for arm in sort_arms(configs[ARM]):
        c = configs[configs[ARM] == arm]
        clean = c["n_diverged"] == 0
        ax.scatter(
            c.loc[clean, "flops"],
            c.loc[clean, "value"] * m.scale,
            s=22,
            alpha=0.75,
            color=arm_color(arm),
            label=arm_label(arm),
        )
        ax.scatter(
            c.loc[~clean, "flops"],
            c.loc[~clean, "value"] * m.scale,
            s=40,
            marker="x",
            color=arm_color(arm),
        )
    if (configs["n_diverged"] > 0).any():
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], marker="x", ls="", color="#444444"))
        labels.append("some seeds diverged (excluded from the mean)")
        ax.legend(handles, labels, fontsize="small")
    else:
        ax.legend(fontsize="small")
    if configs["flops"].notna().any() and (configs["flops"] > 0).all():
        ax.set_xscale("log")
        log_ticks(ax.xaxis, configs["flops"].tolist(), levels=False)
    else:
        note(ax, "no training FLOPs recorded")
    ax.set_xlabel("training FLOPs per run (forward + backward, log scale)")
    ax.set_ylabel(m.axis_label())
    ax.grid(alpha=0.3, which="both")
    ax.set_title(
        f"{m.title} against training cost (one point per configuration, mean over seeds)",
        fontsize="medium",
    )
    return fig
