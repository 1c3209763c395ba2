"""The study's answer: is SSVI less sensitive to its hyperparameters than dense VI?

``verdicts(table)`` returns one row per comparison, in three families, each with its own Holm
correction:

- ``sensitivity`` (the headline): SSVI against dense VI, paired by configuration and seed, on
  the hyperparameters both methods have. ``scope == "overall"``: every paired configuration;
  ``scope == <hyperparameter>``: its one-at-a-time sweep (or a grid axis). The statistic is the
  *configuration SD*: the standard deviation of the true configuration means, seed noise removed
  (``analysis._variance``).
- ``noise``: seed-to-seed noise (``scope == "seed_noise"``: pooled within-configuration SD) and
  divergence (``scope == "divergence"``, ``metric == "divergence"``: share of runs that
  diverged), both paired like the headline. Noisier seeds or more divergence is a different
  finding from more sensitivity, and is reported as such.
- ``ssvi_only``: SSVI's sensitivity to the knobs dense VI does not have (``scope ==
  "ssvi_only:<knob>"`` for a one-at-a-time sweep, ``"ssvi_only"`` for the SSVI-only random
  sample): SSVI's configuration SD against the 0 that dense VI has by construction.
- ``range``: the width of the working range along each shared knob with one-at-a-time rows
  (designs ``oat`` and ``edge``), per failure line (column ``line``), SSVI minus dense VI in
  decades; ``less`` = SSVI's range is wider (``analysis._range_verdicts``).

How a verdict is reached:

- Diverged runs are set apart: a (configuration, seed) pair where either method diverged is
  dropped from both, so no metric loses diverged runs from one method only; divergence is
  compared on its own (exact McNemar test over the pairs).
- Configurations sampled or spread over a design (``overall``, ``ssvi_only``, ``seed_noise``):
  the difference must be detectable both with the configurations held fixed (seed noise only,
  parametric bootstrap) and with the configurations resampled (cluster bootstrap, which carries
  each configuration's seed noise along): the p-value is the larger of the two (an
  intersection-union test, Berger 1982); the interval is the union of the two bootstraps'
  intervals, so that it excludes zero only when both tests do.
- One-at-a-time levels are single configurations, and a grid axis's levels are fixed by the
  design: only seeds vary, so only the parametric bootstrap (fiducial seed variance: honest
  with 3 seeds) applies.
- Intervals are 95% and not adjusted for multiplicity; verdicts are.
- Holm's step-down correction within each family; ``verdict`` is ``less`` / ``more`` (SSVI
  relative to dense VI) when the Holm-adjusted p-value is below ``alpha``, else ``none``.
- ``detectable``: the smallest difference the comparison would detect with 80% power after the
  correction, so that ``none`` can be read as "equal" or as "too few trials".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from analysis import _variance as var
from analysis._design import effect_rows, grid_axes, oat_params, shared_rows, ssvi_only_rows
from analysis._exact import _norm_isf, mcnemar_p, newcombe_interval
from analysis._load import prepare_results, score_at_chance
from analysis._pairs import Paired, pair_all
from analysis._range_verdicts import DESCRIPTION, FAMILY, range_sentence, range_verdicts
from analysis._schema import (
    ARM,
    DEFAULT_METRICS,
    DENSE,
    HYPERPARAMETERS,
    Metric,
    arm_label,
    resolve_metric,
    shared_params,
    sort_arms,
    ssvi_only,
)

LESS, NONE, MORE = "less", "none", "more"
FAMILIES = {
    "sensitivity": "configuration effect of the shared hyperparameters, SSVI vs dense VI",
    "noise": "seed noise and divergence, SSVI vs dense VI",
    "ssvi_only": "SSVI's sensitivity to its own knobs",
    FAMILY: DESCRIPTION,
}
MIN_CONFIGS = 5  # fewest paired configurations for an overall (or SSVI-only random) verdict
MIN_LEVELS = 2
POWER = 0.8  # of the smallest detectable difference
COLUMNS = [
    "family",
    "arm",
    "metric",
    "scope",
    "line",
    "statistic",
    "source",
    "ssvi",
    "dense_vi",
    "difference",
    "ci_low",
    "ci_high",
    "ratio",
    "ratio_low",
    "ratio_high",
    "p_value",
    "p_holm",
    "verdict",
    "detectable",
    "n_configs",
    "n_pairs",
    "n_dropped",
    "note",
]


@dataclass(frozen=True)
class _Test:
    """A finished comparison before the family-wise correction."""

    point: tuple[float, float]  # SSVI, dense VI (statistic units)
    draws: tuple[np.ndarray, ...]  # (2, B) draws of the statistic per test; interval: union
    p_value: float
    paired: Paired
    note: str = ""
    units: int | None = None  # configurations (or levels) compared, when not the pairs'


def verdicts(
    table: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 10_000,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    alpha: float = 0.05,
    diverged: str = "exclude",
) -> pd.DataFrame:
    """Sensitivity verdicts, SSVI relative to dense VI, with intervals and Holm's correction.

    Args:
        table: a results table (``load_results``) or a prepared one.
        seed: seed of the bootstraps (the result is a deterministic function of it).
        n_boot: bootstrap draws per comparison (10,000: a p-value near a Holm threshold of
            0.004 is then estimated to about 10%; 2,000 let the local study's OOD AUROC verdict
            change with the seed). A comparison over more than ``_variance.EXACT_MAX_CONFIGS``
            (1,000) configurations draws the sums its statistics need instead of resampling
            every configuration (``_variance``), so its cost does not grow with the study.
        metrics: metric keys (``accuracy``, ``nll``, ``ece``, ``ood_auroc``, ``brier``).
        alpha: family-wise error rate of each family.
        diverged: ``exclude`` (diverged pairs dropped from both methods; the default) or
            ``chance`` (diverged runs scored as the uniform predictor: a sensitivity analysis;
            ECE still drops them).

    Returns:
        One row per comparison, columns ``COLUMNS``: ``family``, ``arm`` (the SSVI arm),
        ``metric``, ``scope`` (``overall``, a shared hyperparameter, ``seed_noise``,
        ``divergence``, ``ssvi_only`` or ``ssvi_only:<knob>``), ``statistic`` (``config_sd``,
        ``seed_sd`` or ``divergence_rate``), ``source`` (the design the rows come from), the
        statistic for ``ssvi`` and ``dense_vi``, ``difference`` (SSVI minus dense VI, metric
        units) with its 95% interval ``ci_low``/``ci_high``, ``ratio`` (SSVI / dense VI) with
        its interval, ``p_value``, ``p_holm``, ``verdict`` (``less``, ``none``, ``more``),
        ``detectable`` (smallest difference detectable with 80% power), counts and a ``note``.
    """
    if diverged not in ("exclude", "chance"):
        raise ValueError(f"diverged must be 'exclude' or 'chance', got {diverged!r}")
    data = prepare_results(table)
    if diverged == "chance":
        data = score_at_chance(data)
    keys = [resolve_metric(k) for k in metrics]
    rng = np.random.default_rng(seed)
    shared, _ = shared_rows(data)
    rows: list[dict[str, Any]] = []
    for arm in [a for a in sort_arms(shared[ARM]) if a != DENSE]:
        rows += _sensitivity_rows(shared, arm, keys, n_boot, rng, diverged == "chance")
    for m, found in _ssvi_only_scopes(data, keys, diverged == "chance"):
        for arm, scope, source, paired in found:
            sample = source == "random_ssvi"
            summary = var.summarize(paired.values)
            minimum = MIN_CONFIGS if sample else MIN_LEVELS
            test = _config_sd_test(summary, paired, n_boot, rng, minimum, resample=sample)
            rows.append(_row("ssvi_only", arm, m.key, scope, test, source=source))
    out = _holm(pd.DataFrame(rows, columns=COLUMNS).assign(line=""), alpha)
    ranges = range_verdicts(data, tuple(m.key for m in keys), seed=seed, n_boot=n_boot, alpha=alpha)
    return pd.concat([out, ranges[COLUMNS]], ignore_index=True) if len(ranges) else out


def _sensitivity_rows(
    shared: pd.DataFrame,
    arm: str,
    keys: list[Metric],
    n_boot: int,
    rng: np.random.Generator,
    score: bool,
) -> list[dict[str, Any]]:
    columns = tuple(m.column for m in keys)
    rows = []
    overall = pair_all(shared, columns, (arm, DENSE), score)
    source = ",".join(d for d in ("grid", "oat", "random") if d in set(shared["design"]))
    for m in keys:
        paired = overall[m.column]
        if paired.n_configs:
            summary = var.summarize(paired.values)
            test = _config_sd_test(summary, paired, n_boot, rng, MIN_CONFIGS, resample=True)
            rows.append(_row("sensitivity", arm, m.key, "overall", test, source=source))
            rows.append(_row("noise", arm, m.key, "seed_noise", _seed_noise(paired, n_boot, rng)))
    for param in shared_params(shared):
        found = _levels(shared, param)
        if found is None:
            continue
        level_rows, source = found
        by_column = pair_all(level_rows, columns, (arm, DENSE), score)
        for m in keys:
            paired = by_column[m.column]
            if paired.n_configs and paired.levels is not None:
                summary = var.by_level(var.summarize(paired.values), paired.levels)
                if summary.n_configs >= MIN_LEVELS:
                    test = _config_sd_test(summary, paired, n_boot, rng, MIN_LEVELS, False)
                    rows.append(_row("sensitivity", arm, m.key, param, test, source=source))
    first = overall[keys[0].column]
    if first.diverged.size:
        rows.append(_row("noise", arm, "divergence", "divergence", _divergence(first)))
    return rows


def _levels(rows: pd.DataFrame, param: str) -> tuple[pd.DataFrame, str] | None:
    """Rows measuring ``param``'s effect, with a ``level`` column.

    A one-at-a-time level is one configuration. A grid level spans the other axis: its value is
    the mean over that axis's configurations (``_variance.by_level``), and the seed variance
    comes from within configurations, so the other axis's effect counts as neither.
    """
    if param in oat_params(rows):
        found = effect_rows(rows, param, "oat")
    elif (axes := grid_axes(rows)) is not None and param in axes:
        found = effect_rows(rows, param, "grid")
    else:
        return None
    if found is None:
        return None
    return found


def _ssvi_only_scopes(
    data: pd.DataFrame, keys: list[Metric], score: bool
) -> list[tuple[Metric, list[tuple[str, str, str, Paired]]]]:
    """Per metric: ``(arm, scope, source, paired)`` of SSVI's own-knob sweeps and sample."""
    columns = tuple(m.column for m in keys)
    found: list[tuple[str, str, str, dict[str, Paired]]] = []
    knobs = [p for p in (*HYPERPARAMETERS, "density") if p in ssvi_only(data)]
    for knob in knobs:
        rows = ssvi_only_rows(data, knob)
        if rows is None:
            continue
        base = rows[rows["oat_param"] == "base"]
        arm = str((base if not base.empty else rows)[ARM].iloc[0])
        # a level is a configuration: the density sweep's points share the base's config_id
        # (density is not part of it), so they are told apart by their level
        keyed = rows.assign(
            **{ARM: "ssvi"}, config_id=rows["config_id"] + "@" + rows["level"].astype(str)
        )
        paired = pair_all(keyed, columns, ("ssvi",), score)
        found.append((arm, f"ssvi_only:{knob}", "oat", paired))
    sample = data[(data["design"] == "random_ssvi") & (data["method"] != DENSE)]
    for arm in sort_arms(sample[ARM]):
        found.append((arm, "ssvi_only", "random_ssvi", pair_all(sample, columns, (arm,), score)))
    return [
        (m, [(a, s, src, p[m.column]) for a, s, src, p in found if p[m.column].n_configs])
        for m in keys
    ]


# ---- the tests -----------------------------------------------------------------------------
def _with_zero(x: np.ndarray) -> np.ndarray:
    """A single method's draws, with dense VI's 0 as the second row."""
    return np.vstack([x[:1], np.zeros_like(x[:1])]) if x.shape[0] == 1 else x


def _config_sd_test(
    summary: var.Summary,
    paired: Paired,
    n_boot: int,
    rng: np.random.Generator,
    minimum: int,
    resample: bool,
) -> _Test:
    """SSVI's configuration SD against dense VI's (or against 0 for a single method).

    ``resample``: the configurations are a sample (or spread over designs): the difference must
    also hold when they are resampled, an intersection-union test whose interval is the union
    of its tests' intervals. Otherwise (a one-at-a-time sweep, a grid axis) only seeds vary.
    """
    config_var, _ = var.estimate(summary)
    point = _with_zero(var.sd(config_var)[:, None])[:, 0]
    note = _too_few(summary, minimum)
    frames = [_with_zero(var.fixed_draws(summary, n_boot, rng)[0])]
    if resample:
        frames.append(_with_zero(var.cluster_draws(summary, n_boot, rng)[0]))
    ps = [var.two_sided_p(d[0] - d[1]) for d in frames]
    p = float("nan") if note or any(x != x for x in ps) else max(ps)
    draws = tuple(var.sd(d) for d in frames)
    point_ = (float(point[0]), float(point[1]))
    return _Test(point_, draws, p, paired, note, units=summary.n_configs)


def _seed_noise(paired: Paired, n_boot: int, rng: np.random.Generator) -> _Test:
    summary = var.summarize(paired.values)
    _, seed_var = var.estimate(summary)
    note = "" if summary.df >= 2 else "too few seeds: no configuration has two usable seeds"
    _, cluster = var.cluster_draws(summary, n_boot, rng)
    _, fixed = var.fixed_draws(summary, n_boot, rng)
    p = np.nan
    ps = [var.two_sided_p(cluster[0] - cluster[1]), var.two_sided_p(fixed[0] - fixed[1])]
    if not note and not any(x != x for x in ps):
        p = max(ps)
    sd = np.sqrt(seed_var)
    return _Test((float(sd[0]), float(sd[1])), (np.sqrt(cluster), np.sqrt(fixed)), p, paired, note)


def _divergence(paired: Paired) -> _Test:
    """Exact McNemar test over the pairs both methods ran; Newcombe's hybrid score interval for
    the difference of paired proportions (Newcombe 1998, method 10), honest with no event."""
    div = paired.diverged > 0
    n = div.shape[1]
    both = int((div[0] & div[1]).sum())
    b = int((div[0] & ~div[1]).sum())  # SSVI diverged, dense VI did not
    c = int((div[1] & ~div[0]).sum())
    rates = div.mean(axis=1)
    low, high = newcombe_interval(both, b, c, n - both - b - c)
    p = mcnemar_p(b, c)
    note = f"{b} pairs where only SSVI diverged, {c} where only dense VI did, of {n}"
    interval = np.array([[low], [high]])
    return _Test((float(rates[0]), float(rates[1])), (interval,), p, paired, note)


def _too_few(summary: var.Summary, minimum: int) -> str:
    if summary.n_configs < minimum:
        return f"too few configurations for a verdict ({summary.n_configs} < {minimum})"
    if summary.df < 2:
        return "too few seeds for a verdict (a configuration needs two usable seeds)"
    return ""


# ---- rows, correction ----------------------------------------------------------------------
def _row(
    family: str, arm: str, metric: str, scope: str, test: _Test, source: str = ""
) -> dict[str, Any]:
    statistic = {"divergence": "divergence_rate", "seed_noise": "seed_sd"}.get(scope, "config_sd")
    a, b = test.point
    if statistic == "divergence_rate":
        low, high = float(test.draws[0][0, 0]), float(test.draws[0][1, 0])
        ratio = (np.nan, np.nan, np.nan)
    else:
        bounds = []
        for d in test.draws:  # the union of the intervals of the tests that decide
            with np.errstate(divide="ignore", invalid="ignore"):
                bounds.append(
                    var.percentile_interval(d[0] - d[1]) + var.percentile_interval(d[0] / d[1])
                )
        edges = np.array(bounds)
        low, high, r_low, r_high = (
            _union(edges[:, 0], min),
            _union(edges[:, 1], max),
            _union(edges[:, 2], min),
            _union(edges[:, 3], max),
        )
        ratio = (a / b if b > 0 else np.nan, r_low, r_high)
    return {
        "family": family,
        "arm": arm,
        "metric": metric,
        "scope": scope,
        "statistic": statistic,
        "source": source,
        "ssvi": a,
        "dense_vi": b,
        "difference": a - b,
        "ci_low": low,
        "ci_high": high,
        "ratio": ratio[0],
        "ratio_low": ratio[1],
        "ratio_high": ratio[2],
        "p_value": test.p_value,
        "n_configs": test.paired.n_configs if test.units is None else test.units,
        "n_pairs": test.paired.diverged.shape[1]
        if statistic == "divergence_rate"
        else test.paired.n_pairs,
        "n_dropped": test.paired.dropped,
        "note": test.note,
    }


def _union(values: np.ndarray, pick: Any) -> float:
    finite = [float(x) for x in values if x == x]
    return pick(finite) if finite else float("nan")


def _holm(out: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm-adjusted p-values per family, verdicts and smallest detectable differences."""
    out["p_holm"] = np.nan
    out["detectable"] = np.nan
    for _, idx in out.groupby("family").groups.items():
        p = out.loc[idx, "p_value"]
        tested = p.dropna()
        m = len(tested)
        if m:
            order = tested.sort_values(kind="stable")
            adjusted = np.minimum(1.0, np.maximum.accumulate(order.to_numpy() * (m - np.arange(m))))
            out.loc[order.index, "p_holm"] = adjusted
        z = _norm_isf(alpha / (2 * max(m, 1))) + float(special.ndtri(POWER))
        half = (out.loc[idx, "ci_high"] - out.loc[idx, "ci_low"]) / 2
        out.loc[idx, "detectable"] = z * half / _norm_isf(0.025)
    significant = out["p_holm"] < alpha
    direction = np.where(out["difference"] < 0, LESS, MORE)
    out["verdict"] = np.where(significant, direction, NONE)
    return out[COLUMNS].reset_index(drop=True)


# ---- words -------------------------------------------------------------------------------
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
    return text + "."


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
