"""Sensitivity curves: one-at-a-time sweeps and marginal effects, both methods overlaid."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis._design import RANDOM_DESIGNS, analysed_params, effect_rows, oat_params
from analysis._load import prepare_results
from analysis._schema import (
    ARM,
    CATEGORICAL,
    DENSE,
    LOG_SCALED,
    Metric,
    arm_label,
    resolve_metric,
    ssvi_only,
)
from analysis._stats import marginal_effects
from analysis._style import arm_color, log_ticks, new_figure, param_label
from analysis._tuning import tuning_curves

NCOLS = 4


def plot_oat_curves(
    df: pd.DataFrame,
    metric: str | Metric = "accuracy",
    params: list[str] | None = None,
    effects: dict[str, pd.DataFrame] | None = None,
) -> Figure:
    """One-at-a-time sensitivity curves: one panel per swept hyperparameter.

    Line: mean over seeds at each value (all other hyperparameters at the base
    configuration); band: min to max over seeds; dotted line: the base value; a cross marks
    values where some seeds diverged (scored at chance). Log axes for log-scaled
    hyperparameters; all panels share the metric axis.

    ``effects``: ``marginal_effects(df, metric, p, source="oat")`` of some swept ``p``, already
    computed (the others are computed here).

    Raises:
        ValueError: no ``oat`` design rows in the table.
    """
    m = resolve_metric(metric)
    data = prepare_results(df)
    swept = oat_params(data)
    if not swept:
        raise ValueError("no one-at-a-time (design == 'oat') rows in the table")
    params = [p for p in (params or swept) if p in swept]
    base = data[(data["design"] == "oat") & (data["oat_param"] == "base")]
    given = effects or {}
    tables = {
        p: given[p] if p in given else marginal_effects(data, m, p, source="oat") for p in params
    }
    bases = {p: base[p].iloc[0] for p in params if not base.empty}
    return _figure(
        tables,
        m,
        ("min", "max"),
        "band: min–max over seeds",
        bases,
        f"One-at-a-time sensitivity of {m.label} around the base configuration",
    )


def plot_marginal_effects(
    df: pd.DataFrame,
    metric: str | Metric = "accuracy",
    params: list[str] | None = None,
    source: str = "random",
) -> Figure:
    """Marginal effect curves: mean metric per hyperparameter value with a 95% band.

    The band is a Student-t 95% interval of the mean over all trials at that value (seeds
    and the other hyperparameters). Numeric values of the random designs are binned
    (quantile bins, log-spaced where the hyperparameter is log-scaled). Dense VI gets no curve
    for the SSVI-only knobs.

    Args:
        df: results table.
        metric: metric key or column.
        params: hyperparameters to draw (default: all that ``source`` varies).
        source: ``random`` (designs random/tune), ``grid`` or ``oat``.

    Raises:
        ValueError: the requested design varies none of the hyperparameters.
    """
    m = resolve_metric(metric)
    data = prepare_results(df)
    candidates = params or analysed_params(data)
    only = ssvi_only(data)
    tables = {
        p: _own_knobs(marginal_effects(data, m, p, source=source), p, only)
        for p in candidates
        if effect_rows(data, p, source) is not None
    }
    if not tables:
        designs = RANDOM_DESIGNS if source == "random" else (source,)
        raise ValueError(f"no design {list(designs)} in the table varies {candidates}")
    return _figure(
        tables,
        m,
        ("ci_low", "ci_high"),
        "band: 95% CI of the mean",
        {},
        f"Marginal effect of each hyperparameter on {m.label} ({source} design)",
    )


def _own_knobs(table: pd.DataFrame, param: str, only: frozenset[str]) -> pd.DataFrame:
    """Drop dense VI's curve of a knob it does not have (its "effect" there is noise)."""
    return table[table[ARM] != DENSE] if param in only else table


def _figure(
    tables: dict[str, pd.DataFrame],
    m: Metric,
    band: tuple[str, str],
    band_text: str,
    bases: dict[str, object],
    title: str,
) -> Figure:
    n = len(tables)
    ncols = min(NCOLS, n)
    nrows = math.ceil(n / ncols)
    fig = new_figure(3.3 * ncols, 2.9 * nrows + 0.9)
    axs = _panels(fig, nrows, ncols, n)
    arms: list[str] = []
    any_div = False
    for k, (ax, (param, table)) in enumerate(zip(axs, tables.items(), strict=False)):
        any_div |= _draw(ax, param, table, m, band, bases.get(param))
        arms += [a for a in table[ARM].unique() if a not in arms]
        if k % ncols == 0:
            ax.set_ylabel(m.axis_label(), fontsize="small")
    handles: list[Line2D | Patch] = [
        Line2D([], [], color=arm_color(a), marker="o", lw=2) for a in arms
    ]
    labels = [arm_label(a) for a in arms]
    handles.append(Patch(color="#999999", alpha=0.3))
    labels.append(band_text)
    if bases:
        handles.append(Line2D([], [], color="#666666", ls=":"))
        labels.append("base value")
    if any_div:
        handles.append(Line2D([], [], color="black", marker="x", ls="", markersize=8))
        labels.append("some seeds diverged (excluded from the mean)")
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), 5),
        fontsize="small",
        frameon=False,
    )
    fig.suptitle(title, fontsize="medium")
    return fig


def _panels(fig: Figure, nrows: int, ncols: int, n: int) -> list[Axes]:
    """The first ``n`` cells of an ``nrows x ncols`` grid, sharing the y axis, y tick labels
    on the first column only (``Figure.subplots(sharey=True)`` without the empty cells, which
    would cost as much to create as a panel)."""
    grid = fig.add_gridspec(nrows, ncols)
    axs: list[Axes] = []
    for k in range(n):
        ax = fig.add_subplot(grid[k // ncols, k % ncols], sharey=axs[0] if axs else None)
        if k % ncols:
            ax.yaxis.set_tick_params(which="both", labelleft=False)
        axs.append(ax)
    return axs


def _draw(
    ax: Axes, param: str, table: pd.DataFrame, m: Metric, band: tuple[str, str], base: Any
) -> bool:
    levels = sorted(table["level"].unique(), key=lambda v: (isinstance(v, str), v))
    categorical = param in CATEGORICAL or any(isinstance(v, str) for v in levels)
    position = {v: i for i, v in enumerate(levels)}
    diverged = False
    for arm, part in table.groupby(ARM, sort=False):
        x = part["level"].map(position) if categorical else part["level"].astype(float)
        color = arm_color(str(arm))
        ax.plot(x, part["mean"] * m.scale, marker="o", ms=4, lw=1.8, color=color)
        ax.fill_between(
            x, part[band[0]] * m.scale, part[band[1]] * m.scale, color=color, alpha=0.2, lw=0
        )
        div = part["n_diverged"] > 0
        if div.any():
            diverged = True
            ax.scatter(
                x[div], part.loc[div, "mean"] * m.scale, marker="x", s=60, color="black", zorder=5
            )
    if categorical:
        ax.set_xticks(range(len(levels)), [str(v) for v in levels], rotation=20)
        ax.set_xlim(-0.4, len(levels) - 0.6)
    elif param in LOG_SCALED:
        ax.set_xscale("log")
        log_ticks(ax.xaxis, [float(v) for v in levels])
    if base is not None:
        ax.axvline(
            position.get(base, 0) if categorical else float(base),
            color="#666666",
            ls=":",
            lw=1.2,
        )
    ax.set_xlabel(param_label(param), fontsize="small")
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize="small")
    return diverged


def plot_tuning_curves(
    df: pd.DataFrame,
    metrics: tuple[str, ...] = ("accuracy", "nll"),
    n_boot: int = 1000,
    seed: int = 0,
    curves: pd.DataFrame | None = None,
) -> Figure:
    """Test value after tuning with ``k`` random configurations, one panel per metric.

    Solid line and band: the median of the best test value among ``k`` random configurations
    of the random design, with its exact, distribution-free 95% band, simultaneous over every
    ``k`` (Lourie, Cho and He, NAACL 2024; the ``opda`` package). Dashed line: Dodge et al.'s
    (EMNLP 2019) expected test value of the configuration best in validation accuracy, without
    its bootstrap band (Tang et al. 2020: biased at small ``k``, its intervals undercover). A
    method that needs little tuning is flat from small ``k``.

    ``curves``: the ``tuning_curves`` of ``metrics`` already computed (concatenated).

    Raises:
        ValueError: no configuration of the random design was run by every method.
    """
    if curves is None:
        tables = {k: tuning_curves(df, k, n_boot=n_boot, seed=seed) for k in metrics}
    else:
        tables = {k: curves[curves["metric"] == k] for k in metrics}
    if all(c.empty for c in tables.values()):
        raise ValueError("no configuration of the random design was run by every method")
    fig = new_figure(4.6 * len(metrics) + 0.4, 4.3)
    axs = np.atleast_1d(fig.subplots(1, len(metrics), squeeze=False)[0])
    arms: list[str] = []
    for ax, (key, table) in zip(axs, tables.items(), strict=True):
        m = resolve_metric(key)
        for arm, part in table.groupby(ARM, sort=False):
            color = arm_color(str(arm))
            arms += [] if arm in arms else [str(arm)]
            if "median" in part:
                ax.plot(part["k"], part["median"] * m.scale, color=color, lw=2)
                ax.fill_between(
                    part["k"], part["median_low"] * m.scale, part["median_high"] * m.scale,
                    color=color, alpha=0.2, lw=0,
                )  # fmt: skip
            ax.plot(part["k"], part["expected"] * m.scale, color=color, lw=1.3, ls="--")
        n = int(table["n_configs"].max()) if not table.empty else 0
        ax.set_xlabel(f"configurations tried, k (of {n} in the random design)", fontsize="small")
        ax.set_ylabel(m.axis_label(), fontsize="small")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter("{x:.0f}")
        ax.grid(alpha=0.3, which="both")
    handles: list[Line2D | Patch] = [Line2D([], [], color=arm_color(a), lw=2) for a in arms]
    labels = [arm_label(a) for a in arms]
    handles += [
        Line2D([], [], color="#555555", lw=2),
        Patch(color="#555555", alpha=0.2),
        Line2D([], [], color="#555555", lw=1.3, ls="--"),
    ]
    labels += [
        "median best test value of k (selected on it)",
        "its exact 95% band, all k at once (opda)",
        "expected test value of the best in validation accuracy (Dodge et al.)",
    ]
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="x-small",
               frameon=False)  # fmt: skip
    fig.suptitle(
        "How much tuning does each method need? Test value of the best of k random "
        "configurations (diverged runs at chance)",
        fontsize="small",
        wrap=True,
    )
    return fig
