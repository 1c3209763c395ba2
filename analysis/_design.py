"""Which rows answer which question: designs, varied hyperparameters, seed-averaged configs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis._schema import (
    ARM,
    CATEGORICAL,
    DENSE,
    HYPERPARAMETERS,
    LOG_SCALED,
    PAIRED_DESIGNS,
    Metric,
    resolve_metric,
    ssvi_only,
)

RANDOM_DESIGNS = ("random", "random_ssvi", "tune")
MAX_LEVELS = 6  # numeric hyperparameters with more distinct values than this are binned
N_BINS = 5


def varied(df: pd.DataFrame, params: tuple[str, ...] = HYPERPARAMETERS) -> list[str]:
    """The hyperparameters that take more than one value in ``df`` (in ``params`` order)."""
    return [p for p in params if df[p].dropna().nunique() > 1]


def config_table(df: pd.DataFrame, metric: str | Metric) -> pd.DataFrame:
    """Seed-averaged table: one row per (arm, config_id).

    Columns: ``arm``, ``config_id``, ``value`` (mean of the metric over the config's trials,
    NaN-skipping), ``n_trials``, ``n_values`` (non-NaN values), ``n_diverged``, ``is_default``,
    ``method``, ``density`` and the hyperparameters.
    """
    col = resolve_metric(metric).column
    work = df.assign(_diverged=df["status"].eq("diverged"))
    grouped = work.groupby([ARM, "config_id"], sort=False)
    out = grouped.agg(
        value=(col, "mean"),
        n_trials=(col, "size"),
        n_values=(col, "count"),
        n_diverged=("_diverged", "sum"),
        is_default=("is_default", "any"),
    )
    first = grouped[["method", "density", *HYPERPARAMETERS]].first()  # one pass, not one each
    return pd.concat([out, first], axis=1).reset_index()


def grid_axes(df: pd.DataFrame) -> tuple[str, str] | None:
    """The two hyperparameters a ``grid`` design varies, or ``None``.

    If the grid varies one hyperparameter and SSVI runs at several densities, the axes are
    that hyperparameter and ``density``.
    """
    grid = df[df["design"] == "grid"]
    if grid.empty:
        return None
    params = varied(grid)
    if len(params) == 2:
        return params[0], params[1]
    if len(params) == 1 and grid.loc[grid["method"] == "ssvi", "density"].nunique() > 1:
        return params[0], "density"
    return None


def oat_params(df: pd.DataFrame) -> list[str]:
    """Hyperparameters swept by the ``oat`` design (``oat_param`` other than ``base``)."""
    names = set(df.loc[df["design"] == "oat", "oat_param"]) - {"", "base"}
    known = [p for p in HYPERPARAMETERS if p in names]
    return known + sorted(names - set(known))


def effect_rows(
    df: pd.DataFrame, param: str, source: str | None = None
) -> tuple[pd.DataFrame, str] | None:
    """The rows that measure the effect of one hyperparameter, with a ``level`` column.

    Preference (``source=None``): the one-at-a-time sweep of ``param`` (its points and the
    base point: the other hyperparameters are fixed), then a grid that varies it (averaging
    over the other grid axis), then the random designs (numeric values binned into quantile
    bins, on a log scale where the hyperparameter is log-scaled; a bin's level is its median
    value). ``source`` (``oat``, ``grid`` or ``random``) asks for one of them.

    Returns:
        ``(rows, source)``, or ``None`` when no (requested) design varies ``param``.
    """
    if source not in (None, "oat", "grid", "random"):
        raise ValueError(f"unknown source {source!r}; allowed: oat, grid, random")
    if source in (None, "oat") and param in oat_params(df):
        rows = df[(df["design"] == "oat") & df["oat_param"].isin([param, "base"])]
        return rows.assign(level=rows[param]), "oat"
    axes = grid_axes(df)
    if source in (None, "grid") and axes is not None and param in axes:
        rows = df[df["design"] == "grid"]
        return rows.assign(level=rows[param]), "grid"
    rows = df[df["design"].isin(RANDOM_DESIGNS)]
    if source not in (None, "random") or rows.empty or param not in varied(rows, (param,)):
        return None
    return rows.assign(level=_levels(rows[param], param)), "random"


def _levels(values: pd.Series, param: str) -> pd.Series:
    if param in CATEGORICAL or values.nunique() <= MAX_LEVELS:
        return values
    scaled = np.log(values) if param in LOG_SCALED else values
    bins = pd.qcut(scaled, q=N_BINS, duplicates="drop")
    return values.groupby(bins, observed=True).transform("median")


def spread_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that describe a method's spread over the configurations it ran: every design but
    ``edge``, whose values are chosen adaptively to find where each method fails (they belong to
    the working ranges, ``analysis._ranges``)."""
    return df[df["design"] != "edge"]


def shared_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows that compare SSVI with dense VI on the hyperparameters both have.

    Rows of the paired designs (grid, oat, random), less the one-at-a-time sweeps of SSVI-only
    knobs, whose SSVI-only hyperparameters are at the reference values: those of the default
    configuration (``is_default``), else the most common ones. Configurations that vary an
    SSVI-only hyperparameter (tables planned before the random design kept those at their base
    values) are left out: dense VI ignores those knobs, so such a pair would credit SSVI's own
    sensitivity to the shared ones.

    Returns:
        ``(rows, excluded)``: the rows, and the ids of configurations left out.
    """
    only = ssvi_only(df)
    paired = df[df["design"].isin(PAIRED_DESIGNS)]
    # SSVI's sweeps of its own knobs run SSVI only; a density sweep's points even share the base
    # configuration's id (density is not part of it): none of them is a shared configuration
    paired = paired[~((paired["design"] == "oat") & paired["oat_param"].isin(only))]
    knobs = [p for p in HYPERPARAMETERS if p in only and p in df.columns]
    both = set(paired.loc[paired["method"] == DENSE, "config_id"]) & set(
        paired.loc[paired["method"] != DENSE, "config_id"]
    )
    candidates = paired[paired["config_id"].isin(both)]
    if candidates.empty or not knobs:
        return paired, []
    configs = candidates.drop_duplicates("config_id").set_index("config_id")
    configs = configs[knobs + ["is_default"]]
    defaults = configs[configs["is_default"]]
    text = configs[knobs].astype(str)
    keys = text[knobs[0]]
    for knob in knobs[1:]:  # "a|b|c" per configuration, column by column (not row by row)
        keys = keys + "|" + text[knob]
    reference = keys[defaults.index[0]] if not defaults.empty else keys.value_counts().idxmax()
    excluded = sorted(keys.index[keys != reference])
    return paired[~paired["config_id"].isin(excluded)], excluded


def ssvi_only_rows(df: pd.DataFrame, param: str) -> pd.DataFrame | None:
    """SSVI's one-at-a-time sweep of an SSVI-only hyperparameter, with a ``level`` column.

    The sweep's points and the base configuration, SSVI rows only; a ``density`` sweep spans
    several arms (its level is the density), the others stay in the arm of the sweep.
    """
    sweep = df[(df["design"] == "oat") & (df["method"] != DENSE)]
    points = sweep[sweep["oat_param"] == param]
    if points.empty:
        return None
    arms = set(points[ARM]) if ARM in df.columns else set()
    base = sweep[sweep["oat_param"] == "base"]
    if param != "density" and arms:
        base = base[base[ARM].isin(arms)]
    rows = pd.concat([base, points])
    if rows[param].nunique() < 2:
        return None
    return rows.assign(level=rows[param])


def analysed_params(df: pd.DataFrame) -> list[str]:
    """Hyperparameters whose effect some design in ``df`` measures (``effect_rows`` not None)."""
    return [p for p in HYPERPARAMETERS if effect_rows(df, p) is not None]


def default_config(configs: pd.DataFrame) -> pd.Series | None:
    """The default configuration's row of a ``config_table`` (one arm), or ``None``."""
    defaults = configs[configs["is_default"]]
    if defaults.empty:
        return None
    return defaults.sort_values("n_trials", ascending=False).iloc[0]


def same_except(
    configs: pd.DataFrame,
    reference: pd.Series,
    param: str,
    equal: dict[str, pd.Series] | None = None,
) -> pd.Series:
    """Mask of configs equal to ``reference`` in every hyperparameter except ``param``
    (``equal``: ``same_as(configs, reference)``, when it is already computed)."""
    equal = same_as(configs, reference) if equal is None else equal
    mask = pd.Series(True, index=configs.index)
    for p in HYPERPARAMETERS:
        if p != param:
            mask &= equal[p]
    return mask


def same_as(configs: pd.DataFrame, reference: pd.Series) -> dict[str, pd.Series]:
    """Per hyperparameter, the mask of configs equal to ``reference`` in it."""
    return {p: _equal(configs[p], reference[p]) for p in HYPERPARAMETERS}


def _equal(column: pd.Series, value: Any) -> pd.Series:
    if isinstance(value, str):
        return column == value
    if value != value:  # NaN
        return column.isna()
    return pd.Series(
        np.isclose(column.astype(float), float(value), rtol=1e-9, atol=0.0), index=column.index
    )
