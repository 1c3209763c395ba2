"""SSVI against dense VI: paired differences of sensitivity statistics, bootstrap CIs, verdicts."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis._bootstrap import Paired, build_paired, config_means, resample
from analysis._design import analysed_params, effect_rows
from analysis._load import prepare_results
from analysis._schema import ARM, DENSE, SSVI_ONLY, Metric, arm_label, resolve_metric, sort_arms

LESS, MORE, NO_DIFF = "less sensitive", "more sensitive", "no detectable difference"
BETTER, WORSE, TOO_LITTLE = "better", "worse", "too little data"
MIN_CONFIGS = 5  # fewest paired configurations for an overall verdict
MIN_TRIALS_PER_LEVEL = 2  # fewest paired trials at each value of a hyperparameter


@dataclass(frozen=True)
class _Ctx:
    sign: float
    tolerance: float
    paired: Paired


Stat = Callable[[np.ndarray, np.ndarray, _Ctx], np.ndarray]


def _nan(fn: Callable[..., np.ndarray], *args: object, **kwargs: object) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def _robust(m: np.ndarray, d: np.ndarray, c: _Ctx) -> np.ndarray:
    s = c.sign * m
    best = _nan(np.nanmax, s, axis=-1, keepdims=True)
    return (s >= best - c.tolerance - 1e-12).sum(-1) / np.maximum((~np.isnan(s)).sum(-1), 1)


def _default_regret(m: np.ndarray, d: np.ndarray, c: _Ctx) -> np.ndarray:
    s = c.sign * m
    return _nan(np.nanmax, s, axis=-1) - s[..., c.paired.default]


def _effect_range(m: np.ndarray, d: np.ndarray, c: _Ctx) -> np.ndarray:
    strata = c.paired.strata
    means = np.stack(
        [_nan(np.nanmean, m[..., strata == k], axis=-1) for k in np.unique(strata)], axis=-1
    )
    return _nan(np.nanmax, means, axis=-1) - _nan(np.nanmin, means, axis=-1)


# name -> (function, kind, description); kind "up": larger = more sensitive, "down": larger =
# less sensitive, "level": a performance level (better / worse).
STATISTICS: dict[str, tuple[Stat, str, str]] = {
    "std": (lambda m, d, c: _nan(np.nanstd, m, axis=-1, ddof=1), "up", "standard deviation"),
    "iqr": (
        lambda m, d, c: (
            _nan(np.nanpercentile, m, 75, axis=-1) - _nan(np.nanpercentile, m, 25, axis=-1)
        ),
        "up",
        "interquartile range",
    ),
    "range": (
        lambda m, d, c: _nan(np.nanmax, m, axis=-1) - _nan(np.nanmin, m, axis=-1),
        "up",
        "range (best to worst)",
    ),
    "robust_fraction": (_robust, "down", "share of configurations within {tol} of the best"),
    "divergence_rate": (
        lambda m, d, c: _nan(np.nanmean, d, axis=-1),
        "up",
        "share of trials that diverged",
    ),
    "default_regret": (_default_regret, "up", "regret of the default configuration"),
    "best": (lambda m, d, c: c.sign * _nan(np.nanmax, c.sign * m, axis=-1), "level", "best"),
    "median": (lambda m, d, c: _nan(np.nanmedian, m, axis=-1), "level", "median"),
    "worst": (lambda m, d, c: c.sign * _nan(np.nanmin, c.sign * m, axis=-1), "level", "worst"),
    "effect_range": (_effect_range, "up", "range of the mean over the values of {param}"),
}
OVERALL = (
    "std",
    "iqr",
    "range",
    "robust_fraction",
    "divergence_rate",
    "default_regret",
    "best",
    "median",
    "worst",
)
COLUMNS = [
    "arm",
    "metric",
    "scope",
    "source",
    "statistic",
    "ssvi",
    "dense_vi",
    "difference",
    "ci_low",
    "ci_high",
    "n_configs",
    "n_pairs",
    "verdict",
    "sentence",
]


def compare_methods(
    df: pd.DataFrame,
    metric: str | Metric = "accuracy",
    n_boot: int = 1000,
    seed: int = 0,
    tolerance: float | None = None,
    params: list[str] | None = None,
) -> pd.DataFrame:
    """Paired comparison of each SSVI arm with dense VI, with bootstrap CIs and verdicts.

    Pairs are trials with the same ``config_id`` and ``seed`` (each SSVI density is compared
    with dense VI separately). For every statistic the difference SSVI minus dense VI gets a
    95% percentile interval from a two-level bootstrap: configurations are resampled (within
    the levels of a hyperparameter for per-hyperparameter scopes; the default configuration
    is always kept), then seeds within each configuration, with the same draws for both
    methods. A verdict is "more sensitive" / "less sensitive" (or "better" / "worse" for
    performance levels) only when the interval excludes zero, else "no detectable
    difference"; "too little data" when there are fewer than ``MIN_CONFIGS`` paired
    configurations (overall) or ``MIN_TRIALS_PER_LEVEL`` paired trials at some value of the
    hyperparameter. Intervals are not corrected for multiple comparisons.

    Scopes: ``overall`` (all configurations; statistics ``OVERALL``) and one scope per
    hyperparameter a design varies (statistic ``effect_range``: range of the mean metric over
    the hyperparameter's values, measured as in ``marginal_effects``).

    Args:
        df: results table (raw or prepared).
        metric: metric key or test_* column.
        n_boot: bootstrap resamples.
        seed: seed of the bootstrap.
        tolerance: robust-fraction tolerance (default: the metric's).
        params: hyperparameters for per-hyperparameter scopes (default: all analysed ones).

    Returns:
        One row per (SSVI arm, scope, statistic) with columns ``COLUMNS``; the ``sentence``
        column states the verdict in plain language with its interval.
    """
    m = resolve_metric(metric)
    tol = m.tolerance if tolerance is None else tolerance
    data = prepare_results(df)
    rng = np.random.default_rng(seed)
    params = analysed_params(data) if params is None else params
    rows: list[dict[str, object]] = []
    for arm in sort_arms(data[ARM]):
        if arm == DENSE:
            continue
        paired = build_paired(data, m.column, arm, by_level=False)
        if paired is not None:
            stats = [s for s in OVERALL if s != "default_regret" or paired.default >= 0]
            rows += _rows(paired, m, tol, arm, "overall", "all configurations", stats, n_boot, rng)
        for param in params:
            found = effect_rows(data, param)
            if found is None:
                continue
            paired = build_paired(found[0], m.column, arm, by_level=True)
            if paired is not None and len(paired.levels) > 1:
                rows += _rows(paired, m, tol, arm, param, found[1], ["effect_range"], n_boot, rng)
    return pd.DataFrame(rows, columns=COLUMNS)


def _rows(
    paired: Paired,
    m: Metric,
    tol: float,
    arm: str,
    scope: str,
    source: str,
    stats: list[str],
    n_boot: int,
    rng: np.random.Generator,
) -> list[dict[str, object]]:
    ctx = _Ctx(1.0 if m.higher_is_better else -1.0, tol, paired)
    per_level = np.bincount(paired.strata, weights=paired.n_seeds)
    enough = (
        paired.n_configs >= MIN_CONFIGS
        if scope == "overall"
        else bool(per_level.min() >= MIN_TRIALS_PER_LEVEL)
    )
    point_m, point_d = config_means(paired)
    boot_m, boot_d = resample(paired, n_boot, rng)
    rows = []
    for name in stats:
        fn, kind, _ = STATISTICS[name]
        point = fn(point_m, point_d, ctx)[:, 0]
        diffs = fn(boot_m, boot_d, ctx)
        diffs = diffs[0] - diffs[1]
        diffs = diffs[~np.isnan(diffs)]
        lo, hi = np.percentile(diffs, [2.5, 97.5]) if diffs.size else (np.nan, np.nan)
        row = {
            "arm": arm,
            "metric": m.key,
            "scope": scope,
            "source": source,
            "statistic": name,
            "ssvi": point[0],
            "dense_vi": point[1],
            "difference": point[0] - point[1],
            "ci_low": lo,
            "ci_high": hi,
            "n_configs": paired.n_configs,
            "n_pairs": paired.n_pairs,
            "verdict": _verdict(kind, lo, hi, ctx.sign) if enough else TOO_LITTLE,
        }
        row["sentence"] = sentence(row, m, tol)
        rows.append(row)
    return rows


def _verdict(kind: str, lo: float, hi: float, sign: float) -> str:
    if not (lo > 0 or hi < 0):  # the interval includes 0 (or is NaN)
        return NO_DIFF
    if kind == "level":
        return BETTER if (lo > 0) == (sign > 0) else WORSE
    return MORE if (lo > 0) == (kind == "up") else LESS


def format_value(value: float, statistic: str, m: Metric, signed: bool = False) -> str:
    """Display text of a statistic's value: shares in percent, the rest in metric units."""
    if statistic in ("robust_fraction", "divergence_rate"):
        if value != value:
            return "n/a"
        return f"{value * 100:+.0f}" if signed else f"{value * 100:.0f}%"
    return m.fmt(value, signed)


def sentence(
    row: Mapping[str, Any] | pd.Series, metric: str | Metric, tolerance: float | None = None
) -> str:
    """The plain-language verdict of one ``compare_methods`` row, with its interval."""
    m = resolve_metric(metric)
    tol = m.tolerance if tolerance is None else tolerance
    stat, scope = str(row["statistic"]), str(row["scope"])
    label, verdict = arm_label(str(row["arm"])), str(row["verdict"])
    a, b, d, lo, hi = (
        float(row[k]) for k in ("ssvi", "dense_vi", "difference", "ci_low", "ci_high")
    )
    diff_unit = "points" if m.unit == "%" else m.unit
    tol_text = m.fmt(tol) + _sp(diff_unit)
    value_unit = m.unit if STATISTICS[stat][1] == "level" else diff_unit
    if stat in ("robust_fraction", "divergence_rate"):
        value_unit, diff_unit = "", "percentage points"
    what = STATISTICS[stat][2].format(param=scope, tol=tol_text)
    if scope == "overall":
        what += f" across {row['n_configs']} configurations"
    a_, b_ = format_value(a, stat, m), format_value(b, stat, m)
    d_, lo_, hi_ = (format_value(x, stat, m, signed=True) for x in (d, lo, hi))
    numbers = (
        f"{what} {a_} vs {b_}{_sp(value_unit)}, difference {d_}{_sp(diff_unit)} "
        f"(95% CI {lo_} to {hi_})"
    )
    if verdict == TOO_LITTLE:
        minimum = (
            f"{MIN_CONFIGS} paired configurations"
            if scope == "overall"
            else f"{MIN_TRIALS_PER_LEVEL} paired trials per value"
        )
        text = (
            f"Too little data to compare {label} with dense VI in {m.label} (a verdict needs "
            f"{minimum}; {row['n_configs']} configurations, {row['n_pairs']} paired trials): "
            f"{numbers}."
        )
    elif verdict == NO_DIFF:
        text = f"No detectable difference between {label} and dense VI in {m.label}: {numbers}."
    else:
        text = f"{label} is {verdict} than dense VI in {m.label}: {numbers}."
    if scope in SSVI_ONLY:
        noise = "seed noise"
        if row.get("source") != "oat":
            noise += " and the other hyperparameters"
        text += f" Dense VI does not use {scope}: its range reflects {noise} only."
    return text


def _sp(unit: str) -> str:
    if unit in ("", "%"):
        return unit
    return f" {unit}"
