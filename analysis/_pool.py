"""One answer across tasks: pool several studies' verdicts with a random-effects model.

Per metric, each study contributes its ``sensitivity`` verdict of scope ``overall``: the log
ratio of configuration SDs (SSVI / dense VI), with a standard error read off the same
bootstrap interval its verdict rests on, ``SE = (log ratio_high − log ratio_low) / (2 z)``
(``z`` the normal 97.5% quantile; the interval is the union of the verdict's two bootstraps,
so the SE is on the safe side). Per shared knob and failure line, each study's ``range``
verdict contributes its difference of working-range widths in decades, with
``SE = (ci_high − ci_low) / (2 z)``. ``analysis._meta.combine`` pools them (Paule–Mandel τ²,
Hartung–Knapp interval, prediction interval, Holm within each family, practical reading).

A study whose comparison has no verdict (too few configurations or seeds, no edge reached) or
an interval that reaches a ratio of 0 or infinity carries no standard error and is left out of
that comparison, with a note. Studies must share the metrics pooled: a study with no values of
a metric (no OOD data, say) is refused with one line (``PoolError``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis._load import ResultsTableError, prepare_results
from analysis._meta import EFFECT_COLUMNS, combine
from analysis._range_verdicts import FAMILY as RANGE
from analysis._schema import DEFAULT_METRICS, DENSE, resolve_metric
from analysis._verdicts import verdicts

SENSITIVITY = "sensitivity"
MARGIN = 1.25  # ratio of configuration SDs: practically equal within [1/1.25, 1.25]
RANGE_MARGIN = 0.3  # decades of working range: practically equal within ±0.3 (a factor of 2)
Z = 1.959963984540054  # normal 97.5% quantile: the verdicts' intervals are 95%
MIN_STUDIES = 2


class PoolError(ResultsTableError):
    """The studies cannot be pooled (they do not share a metric, or fewer than two)."""


@dataclass(frozen=True)
class Pooled:
    """What ``pool`` returns.

    Attributes:
        summary: one row per pooled comparison (``analysis._meta.POOLED_COLUMNS``, plus
            ``ratio``, ``ratio_low``/``ratio_high``, ``ratio_pi_low``/``ratio_pi_high`` for the
            ``sensitivity`` family): on the effect's additive scale (log ratio, or decades).
        studies: the per-study effects pooled, one row per (comparison, study), with the
            study's own interval (``low``/``high``) and its weight in the pool.
        margin, range_margin: the margins of practical equivalence used.
    """

    summary: pd.DataFrame
    studies: pd.DataFrame
    margin: float
    range_margin: float


def pool(
    tables: Mapping[str, pd.DataFrame],
    *,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    margin: float = MARGIN,
    range_margin: float = RANGE_MARGIN,
    alpha: float = 0.05,
    density: float | None = None,
    seed: int = 0,
    n_boot: int = 10_000,
) -> Pooled:
    """Pool studies' sensitivity (and working-range) verdicts across tasks.

    Args:
        tables: results tables by study name (``load_results``).
        metrics: metric keys every study must have.
        margin: practical-equivalence margin on the ratio of configuration SDs,
            ``[1/margin, margin]`` (default 1.25: [0.8, 1.25]).
        range_margin: the same for working-range widths, ± decades (default 0.3).
        alpha: family-wise error rate (Holm over the metrics of a family).
        density: the SSVI arm to pool, where a study has several.
        seed, n_boot: of each study's verdicts.

    Returns:
        ``Pooled``.

    Raises:
        PoolError: fewer than two studies, a study lacking a metric, or several SSVI arms and no
            ``density``.
    """
    if len(tables) < MIN_STUDIES:
        raise PoolError(f"pooling needs at least {MIN_STUDIES} studies, got {len(tables)}")
    if margin <= 1 or range_margin <= 0:
        raise PoolError(f"margins must be > 1 (ratio) and > 0 (decades): {margin}, {range_margin}")
    keys = tuple(resolve_metric(k).key for k in metrics)
    prepared = {name: prepare_results(t) for name, t in tables.items()}
    check_shared_metrics(prepared, keys)
    parts = []
    for name, data in prepared.items():
        found = verdicts(data, seed=seed, n_boot=n_boot, metrics=keys, alpha=alpha)
        parts.append(study_effects(found, name, density))
    effects = pd.concat(parts, ignore_index=True)
    summary = combine(
        effects[EFFECT_COLUMNS],
        {SENSITIVITY: (-math.log(margin), math.log(margin)), RANGE: (-range_margin, range_margin)},
        alpha=alpha,
        less_is_negative={SENSITIVITY: True, RANGE: False},
    )
    summary = _left_out(summary, effects)
    return Pooled(_with_ratios(summary), _weights(effects, summary), margin, range_margin)


def check_shared_metrics(tables: Mapping[str, pd.DataFrame], metrics: tuple[str, ...]) -> None:
    """Refuse studies that do not all have every metric (one line, naming study and metric)."""
    for key in metrics:
        m = resolve_metric(key)
        missing = [n for n, t in tables.items() if m.column not in t or t[m.column].isna().all()]
        if missing:
            others = " ".join(k for k in metrics if k != key) or "with another metric"
            raise PoolError(
                f"study {missing[0]!r} has no {m.label} values ({m.column}): the studies do not "
                f"share that metric; pool without it (--metrics {others})"
            )


def study_effects(found: pd.DataFrame, study: str, density: float | None = None) -> pd.DataFrame:
    """A study's effects to pool, from its ``verdicts``: one row per comparison.

    ``sensitivity`` rows of scope ``overall``: ``effect`` = log ratio of configuration SDs;
    ``range`` rows: difference of widths (decades). ``se`` is NaN (the row left out, the reason
    in ``note``) where the verdict has no p-value or the interval gives no finite SE.
    """
    arms = sorted(set(found["arm"]) - {DENSE, ""})
    if density is not None:
        arm = f"ssvi@{density:g}"
        if arm not in arms:
            raise PoolError(f"study {study!r} has no SSVI arm at density {density:g} ({arms})")
        arms = [arm]
    elif len(arms) > 1:
        raise PoolError(f"study {study!r} has SSVI arms {', '.join(arms)}: choose one (--density)")
    rows = found[found["arm"].isin(arms)]
    sens = rows[(rows["family"] == SENSITIVITY) & (rows["scope"] == "overall")]
    out = [_sensitivity_effect(r, study) for _, r in sens.iterrows()]
    out += [_range_effect(r, study) for _, r in rows[rows["family"] == RANGE].iterrows()]
    return pd.DataFrame(out, columns=[*EFFECT_COLUMNS, "low", "high"])


def _sensitivity_effect(r: pd.Series, study: str) -> dict[str, Any]:
    ratio, low, high = (float(r[c]) for c in ("ratio", "ratio_low", "ratio_high"))
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log([ratio, low, high])
    se = float((logs[2] - logs[1]) / (2 * Z))
    note = str(r["note"])
    if r["p_value"] != r["p_value"]:
        se, note = math.nan, note or "no verdict"
    elif not np.isfinite(logs).all() or not se > 0:
        se, note = math.nan, "its ratio or interval reaches 0 or infinity: no standard error"
    return _effect(r, study, float(logs[0]), se, note, float(logs[1]), float(logs[2]))


def _range_effect(r: pd.Series, study: str) -> dict[str, Any]:
    low, high = float(r["ci_low"]), float(r["ci_high"])
    se = (high - low) / (2 * Z)
    note = str(r["note"])
    if r["p_value"] != r["p_value"]:
        se, note = math.nan, note or "no verdict"
    elif not se > 0:
        se, note = math.nan, "its interval has no width: no standard error"
    return _effect(r, study, float(r["difference"]), se, note, low, high)


def _effect(
    r: pd.Series, study: str, effect: float, se: float, note: str, low: float, high: float
) -> dict[str, Any]:
    keys = {k: r[k] for k in ("family", "metric", "scope", "line")}
    return {**keys, "study": study, "arm": r["arm"], "effect": effect, "se": se, "note": note,
            "low": low, "high": high}  # fmt: skip


def _left_out(summary: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """Name, in each comparison's note, the studies left out and why."""
    summary = summary.copy()
    for i, row in summary.iterrows():
        same = (effects[["family", "metric", "scope", "line"]] == row[["family", "metric",
                "scope", "line"]].to_numpy()).all(axis=1)  # fmt: skip
        dropped = effects[same & effects["se"].isna()]
        notes = [str(row["note"])] if row["note"] else []
        notes += [f"{d.study} left out: {d.note}" for d in dropped.itertuples()]
        summary.loc[i, "note"] = "; ".join(notes)
    return summary


def _with_ratios(summary: pd.DataFrame) -> pd.DataFrame:
    out = summary.copy()
    sens = out["family"] == SENSITIVITY
    pairs = {"ratio": "effect", "ratio_low": "ci_low", "ratio_high": "ci_high",
             "ratio_pi_low": "pi_low", "ratio_pi_high": "pi_high"}  # fmt: skip
    for name, column in pairs.items():
        out[name] = np.where(sens, np.exp(out[column].astype(float)), np.nan)
    return out


def _weights(effects: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Each study's relative random-effects weight, ``1/(se² + τ²)`` normalised (NaN: left out)."""
    tau2 = summary.set_index(["family", "metric", "scope", "line"])["tau2"]
    out = effects.copy()
    key = pd.MultiIndex.from_frame(out[["family", "metric", "scope", "line"]])
    t = tau2.reindex(key).to_numpy(float)
    w = 1 / (out["se"].to_numpy(float) ** 2 + np.nan_to_num(t))
    out["weight"] = w / out.assign(w=w).groupby(["family", "metric", "scope", "line"])[
        "w"
    ].transform("sum")
    return out
