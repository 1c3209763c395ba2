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
  finding from more sensitivity, and is reported as such. Divergence shares the family on
  purpose: both are run-to-run outcomes at a fixed configuration, the "is it reliable" question
  beside the headline's "does it need tuning", so one family-wise error rate covers it.
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

from typing import Any

import numpy as np
import pandas as pd

from analysis._comparisons import config_sd_test, divergence, seed_noise
from analysis._design import effect_rows, grid_axes, oat_params, shared_rows, ssvi_only_rows
from analysis._load import prepare_results, score_at_chance
from analysis._pairs import Paired, pair_all
from analysis._power import POWER
from analysis._practical import RANGE_MARGIN, RATIO_MARGIN
from analysis._range_verdicts import DESCRIPTION, FAMILY, range_verdicts
from analysis._saturation import saturation_note
from analysis._schema import (
    ARM,
    DEFAULT_METRICS,
    DENSE,
    HYPERPARAMETERS,
    Metric,
    resolve_metric,
    shared_params,
    sort_arms,
    ssvi_only,
)
from analysis._variance import by_level, summarize
from analysis._verdict_rows import COLUMNS, LESS, MORE, NONE, holm, row
from analysis._verdict_sentences import sentence

__all__ = [
    "COLUMNS",
    "FAMILIES",
    "LESS",
    "MIN_CONFIGS",
    "MORE",
    "NONE",
    "POWER",
    "sentence",
    "verdicts",
]

FAMILIES = {
    "sensitivity": "configuration effect of the shared hyperparameters, SSVI vs dense VI",
    "noise": "seed noise and divergence, SSVI vs dense VI",
    "ssvi_only": "SSVI's sensitivity to its own knobs",
    FAMILY: DESCRIPTION,
}
MIN_CONFIGS = 5  # fewest paired configurations for an overall (or SSVI-only random) verdict
MIN_LEVELS = 2


def verdicts(
    table: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 10_000,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    alpha: float = 0.05,
    diverged: str = "exclude",
    margin: float = RATIO_MARGIN,
    range_margin: float = RANGE_MARGIN,
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
        margin: the practical reading's margin on the ratio of configuration SDs,
            ``[1 / margin, margin]`` (``analysis._practical``); must be > 1.
        range_margin: its margin on a difference of working-range widths, in decades (> 0).

    Returns:
        One row per comparison, columns ``COLUMNS``: ``family``, ``arm`` (the SSVI arm),
        ``metric``, ``scope`` (``overall``, a shared hyperparameter, ``seed_noise``,
        ``divergence``, ``ssvi_only`` or ``ssvi_only:<knob>``), ``statistic`` (``config_sd``,
        ``seed_sd`` or ``divergence_rate``), ``source`` (the design the rows come from), the
        statistic for ``ssvi`` and ``dense_vi``, ``difference`` (SSVI minus dense VI, metric
        units) with its 95% interval ``ci_low``/``ci_high``, ``ratio`` (SSVI / dense VI) with
        its interval, ``p_value``, ``p_holm``, ``verdict`` (``less``, ``none``, ``more``),
        ``detectable`` (smallest difference detectable with 80% power), ``practical``
        (``equivalent``, ``less``, ``more``, ``inconclusive``: does the difference lie inside
        the margin? empty for the noise and ssvi_only families) with ``equivalence_margin``
        (the narrowest margin it would have read equivalent within), counts and a ``note``.
    """
    if diverged not in ("exclude", "chance"):
        raise ValueError(f"diverged must be 'exclude' or 'chance', got {diverged!r}")
    if not margin > 1 or not range_margin > 0:
        raise ValueError(
            f"margin must be > 1 (a ratio) and range_margin > 0 (decades); got {margin!r} "
            f"and {range_margin!r}"
        )
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
            summary = summarize(paired.values)
            minimum = MIN_CONFIGS if sample else MIN_LEVELS
            test = config_sd_test(summary, paired, n_boot, rng, minimum, resample=sample)
            rows.append(row("ssvi_only", arm, m.key, scope, test, source=source))
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "_direction", "_detect", "_tests"])
    out = holm(frame.assign(line=""), alpha, margin)
    ranges = range_verdicts(
        data, tuple(m.key for m in keys), seed=seed, n_boot=n_boot, alpha=alpha,
        margin=range_margin,
    )  # fmt: skip
    out = pd.concat([out, ranges[COLUMNS]], ignore_index=True) if len(ranges) else out
    unbalanced = errors_note(data.attrs.get("errors_by_method", {}))
    if unbalanced:  # every SSVI vs dense VI comparison may be biased by what went missing
        compared = out["family"].isin(("sensitivity", "noise", "range"))
        out.loc[compared, "note"] = [f"{n}; {unbalanced}" if n else unbalanced
                                     for n in out.loc[compared, "note"]]  # fmt: skip
    out.attrs.update(margin=margin, range_margin=range_margin)  # the report states them
    return out


def errors_note(by_method: dict[str, list[int]], alpha: float = 0.05) -> str:
    """A note when errored trials (status ``error``, excluded) are unbalanced between SSVI and
    dense VI: an exact binomial test of the errors' split against the methods' shares of the
    trials. Errors at random drop runs from both methods alike; errors of one method (a crash
    at some settings) can bias a comparison."""
    from scipy.stats import binomtest

    ssvi, dense = by_method.get("ssvi", [0, 0]), by_method.get(DENSE, [0, 0])
    errors = ssvi[0] + dense[0]
    if not errors or not ssvi[1] or not dense[1]:
        return ""
    share = ssvi[1] / (ssvi[1] + dense[1])
    p = binomtest(ssvi[0], errors, share).pvalue
    if p >= alpha:
        return ""
    return (
        f"errored trials are unbalanced: {ssvi[0]} of {ssvi[1]} SSVI and {dense[0]} of "
        f"{dense[1]} dense VI trials errored and are excluded (exact binomial p = {p:.2g}); "
        "the comparison may be biased by what is missing"
    )


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
            summary = summarize(paired.values)
            test = config_sd_test(summary, paired, n_boot, rng, MIN_CONFIGS, resample=True)
            saturated = saturation_note(paired.values, m, paired.arms)
            for r in (
                row("sensitivity", arm, m.key, "overall", test, source=source),
                row("noise", arm, m.key, "seed_noise", seed_noise(paired, n_boot, rng)),
            ):
                if saturated:  # a capped method's smaller spread is the cap's
                    r["note"] = f"{r['note']}; {saturated}" if r["note"] else saturated
                rows.append(r)
    for param in shared_params(shared):
        found = _levels(shared, param)
        if found is None:
            continue
        level_rows, source = found
        by_column = pair_all(level_rows, columns, (arm, DENSE), score)
        for m in keys:
            paired = by_column[m.column]
            if paired.n_configs and paired.levels is not None:
                summary = by_level(summarize(paired.values), paired.levels)
                if summary.n_configs >= MIN_LEVELS:
                    test = config_sd_test(summary, paired, n_boot, rng, MIN_LEVELS, False)
                    rows.append(row("sensitivity", arm, m.key, param, test, source=source))
    first = overall[keys[0].column]
    if first.diverged.size:
        rows.append(row("noise", arm, "divergence", "divergence", divergence(first)))
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
