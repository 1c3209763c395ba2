"""Hyperparameter importance with optuna's evaluators (fANOVA, PED-ANOVA) applied to trials."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from analysis._design import RANDOM_DESIGNS, varied
from analysis._load import prepare_results, score_at_chance
from analysis._pairs import pair_all
from analysis._schema import (
    ARM,
    CATEGORICAL,
    DENSE,
    HYPERPARAMETERS,
    INTEGER,
    LOG_SCALED,
    Metric,
    arm_label,
    resolve_metric,
    sort_arms,
    ssvi_only,
)
from analysis._variance import estimate, summarize

EVALUATORS = {
    "fanova": "fANOVA (optuna FanovaImportanceEvaluator: share of the variance explained)",
    "ped_anova": "PED-ANOVA (optuna PedAnovaImportanceEvaluator: importance for reaching the "
    "top 10% of configurations)",
}
# Fewest configurations for an identifiable importance, per evaluator. Measured with one
# hyperparameter that matters and three that do not (the local study's surface): fANOVA gives
# the three irrelevant ones a median 37% of the importance at 12 configurations, 12% at 20 and
# 10% at 30; PED-ANOVA, which looks at the top 10% only, needs that top to hold 5 configurations.
MIN_CONFIGS = {"fanova": 20, "ped_anova": 50}
N_BOOT = 20  # bootstrap resamples of the configurations, for the intervals
# Most configurations per arm and design handed to the evaluators. fANOVA's cost grows with
# them: a forest of 16 trees takes about 0.1 s at 50 configurations and 0.6 s at 200 on this
# project's 2-core VM, and a report fits 21 forests per arm, design and metric (252 for the
# local designs and 4 metrics). Larger designs are analysed on a seeded random subsample of
# this many (PED-ANOVA's minimum, so that both evaluators still run).
MAX_CONFIGS = 50


class NotEnoughTrialsError(ValueError):
    """Too few configurations, or no varied hyperparameter, for an importance analysis."""


def importance(
    df: pd.DataFrame,
    metric: str | Metric = "accuracy",
    evaluator: str = "fanova",
    designs: tuple[str, ...] | None = RANDOM_DESIGNS,
    min_configs: int | None = None,
    seed: int = 0,
    n_trees: int = 32,
    n_boot: int = N_BOOT,
    max_configs: int | None = MAX_CONFIGS,
) -> pd.DataFrame:
    """Importance of each varied hyperparameter for the metric, per arm and design, with a
    bootstrap interval over configurations.

    Each configuration (its metric averaged over seeds; diverged runs scored at chance, so a
    knob that makes runs diverge counts as important) becomes a finished optuna trial, with
    log-scaled distributions for ``kl_weight``, ``init_sigma``, ``prior_std``, ``lr``,
    ``update_interval`` and categorical ones for ``removal``/``addition``; the study's
    direction follows the metric; ``optuna.importance.get_param_importances`` evaluates them,
    normalised to sum to 1. Each design is analysed on its own (the ``random`` design samples
    the shared knobs, ``random_ssvi`` SSVI's own ones), and dense VI only ever gets the knobs it
    has. ``low``/``high``: 2.5 and 97.5 percentiles over ``n_boot`` resamples of the
    configurations.

    - ``fanova``: ``FanovaImportanceEvaluator`` (Hutter et al., ICML 2014): the share of the
      metric's variance, under a random forest fitted to the configurations, that each
      hyperparameter explains on its own.
    - ``ped_anova``: ``PedAnovaImportanceEvaluator`` (Watanabe et al., IJCAI 2023): how much
      each hyperparameter's distribution in the top 10% differs from all configurations.

    Args:
        df: results table (raw or prepared).
        metric: metric key or test_* column.
        evaluator: ``fanova`` or ``ped_anova``.
        designs: designs to analyse (default: the random designs); ``None`` for all rows as one.
        min_configs: fewest configurations per arm and design (default ``MIN_CONFIGS``).
        seed: random-forest and bootstrap seed.
        n_trees: random-forest size (fANOVA).
        n_boot: bootstrap resamples for the intervals (0: none).
        max_configs: most configurations per arm and design (default ``MAX_CONFIGS``, 50;
            ``None``: all). An arm and design with more is analysed on a random subsample of
            ``max_configs`` of them (at least the evaluator's minimum) drawn with
            ``numpy.random.default_rng(seed)`` (``subsample``), and its intervals are those of
            the subsample; ``config_share`` still uses every configuration. Tables with at
            most ``max_configs`` configurations per arm and design are not affected.

    Returns:
        Rows ``arm``, ``design``, ``param``, ``importance``, ``low``, ``high``, ``evaluator``,
        ``metric``, ``n_configs`` (configurations evaluated), ``config_share`` (share of the
        variance of the configuration means that is not seed noise) and ``explained``
        (``importance * config_share``: the share each knob explains; importances sum to 1
        even when no knob matters). ``attrs["subsampled"]`` lists the subsampled arms and
        designs as ``{"arm", "design", "n_configs", "of"}``.

    Raises:
        NotEnoughTrialsError: no arm and design has ``min_configs`` configurations with a
            finite metric and a varied hyperparameter: importance is not identifiable.
    """
    if evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}; allowed: {', '.join(EVALUATORS)}")
    m = resolve_metric(metric)
    minimum = MIN_CONFIGS[evaluator] if min_configs is None else min_configs
    data = score_at_chance(prepare_results(df))
    only = ssvi_only(data)
    if designs is not None:
        data = data[data["design"].isin(designs)]
    groups = data.groupby("design") if designs is not None else [("all", data)]
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    reasons = []
    subsampled = []
    for design, part in groups:
        for arm in sort_arms(part[ARM]):
            trials = part[part[ARM] == arm]
            grouped = trials.groupby("config_id")
            configs = grouped[list(HYPERPARAMETERS)].first()
            configs[m.column] = grouped[m.column].mean()
            configs = configs.dropna(subset=[m.column])
            available = len(configs)
            cap = None if max_configs is None else max(max_configs, minimum)
            if cap is not None and available > cap:
                configs = configs.iloc[subsample(available, cap, seed)]
            knobs = [p for p in varied(configs) if arm != DENSE or p not in only]
            if len(configs) < minimum or not knobs:
                reasons.append(
                    f"{arm_label(arm)}, {design} design: {available} configurations, "
                    f"{len(knobs)} varied hyperparameters"
                )
                continue
            if len(configs) < available:
                subsampled.append(
                    {"arm": arm, "design": design, "n_configs": len(configs), "of": available}
                )
            point = _evaluate(configs, knobs, m, evaluator, seed, n_trees)
            share = config_share(trials, m.column)
            draws = [
                _evaluate(configs.iloc[idx], knobs, m, evaluator, seed, max(8, n_trees // 2))
                for idx in rng.integers(0, len(configs), size=(n_boot, len(configs)))
            ]
            for p, value in point.items():
                boot = [d.get(p, 0.0) for d in draws]
                low, high = np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan)
                rows.append(
                    {
                        "arm": arm,
                        "design": design,
                        "param": p,
                        "importance": value,
                        "low": float(low),
                        "high": float(high),
                        "config_share": share,
                        "explained": value * share,
                        "evaluator": evaluator,
                        "metric": m.key,
                        "n_configs": len(configs),
                    }
                )
    if not rows:
        where = f" in designs {list(designs)}" if designs is not None else ""
        detail = "; ".join(reasons) or "no configurations"
        raise NotEnoughTrialsError(
            f"importance is not identifiable: {EVALUATORS[evaluator].split(' (')[0]} needs at "
            f"least {minimum} configurations with a finite {m.column} and a varied "
            f"hyperparameter per method{where} ({detail})"
        )
    out = pd.DataFrame(rows)
    out.attrs["subsampled"] = subsampled
    return out


def subsample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of ``size`` of ``n`` items, drawn without replacement with
    ``numpy.random.default_rng(seed)``: the stated, seeded subsample of ``importance``."""
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def config_share(trials: pd.DataFrame, column: str) -> float:
    """Share of the variance of the configurations' seed-averaged values that is configuration
    effect rather than seed noise (one-way random-effects ANOVA, clipped to [0, 1]; 1 when no
    configuration has two seeds). Importances always sum to 1, even when no knob matters;
    ``importance * config_share`` is the share of that variance each knob explains."""
    arm = str(trials[ARM].iloc[0])
    paired = pair_all(trials, (column,), (arm,), score_diverged=True)[column]
    summary = summarize(paired.values)
    if summary.df < 1 or summary.n_configs < 2:
        return 1.0
    config_var, seed_var = estimate(summary)
    noise = float(seed_var[0]) * float(np.mean(summary.noise))
    total = max(float(config_var[0]), 0.0) + noise
    return float(np.clip(max(float(config_var[0]), 0.0) / total, 0.0, 1.0)) if total > 0 else 0.0


def _distributions(trials: pd.DataFrame, params: list[str]) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for p in params:
        values = trials[p]
        if p in CATEGORICAL or values.dtype == object:
            out[p] = CategoricalDistribution(sorted(values.astype(str).unique()))
            continue
        low, high = float(values.min()), float(values.max())
        log = p in LOG_SCALED and low > 0
        if p in INTEGER:
            out[p] = IntDistribution(int(low), int(high), log=log)
        else:
            out[p] = FloatDistribution(low, high, log=log)
    return out


def _evaluate(
    trials: pd.DataFrame, params: list[str], m: Metric, evaluator: str, seed: int, n_trees: int
) -> dict[str, float]:
    import optuna
    from optuna.study import StudyDirection

    dists = _distributions(trials, params)
    records = trials[params].to_dict("records")
    values = trials[m.column].to_numpy(dtype=float)
    if np.ptp(values) == 0:  # a flat response: nothing to attribute
        return dict.fromkeys(dists, 1.0 / len(dists))
    frozen = [
        optuna.trial.create_trial(params=_cast(record, dists), distributions=dists, value=v)
        for record, v in zip(records, values, strict=True)
    ]
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        direction = StudyDirection.MAXIMIZE if m.higher_is_better else StudyDirection.MINIMIZE
        study = optuna.create_study(direction=direction)
        study.add_trials(frozen)
        chosen = (
            optuna.importance.FanovaImportanceEvaluator(n_trees=n_trees, seed=seed)
            if evaluator == "fanova"
            else optuna.importance.PedAnovaImportanceEvaluator()
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = optuna.importance.get_param_importances(study, evaluator=chosen)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return {p: float(scores.get(p, 0.0)) for p in HYPERPARAMETERS if p in dists}


def _cast(record: dict[str, Any], dists: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for p, v in record.items():
        kind = type(dists[p]).__name__
        out[p] = (
            str(v)
            if kind == "CategoricalDistribution"
            else int(v)
            if kind == "IntDistribution"
            else float(np.float64(v))
        )
    return out
