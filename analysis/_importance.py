"""Hyperparameter importance with optuna's evaluators (fANOVA, PED-ANOVA) applied to trials."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from analysis._design import RANDOM_DESIGNS, varied
from analysis._load import prepare_results
from analysis._schema import (
    ARM,
    CATEGORICAL,
    HYPERPARAMETERS,
    INTEGER,
    LOG_SCALED,
    Metric,
    resolve_metric,
    sort_arms,
)

EVALUATORS = {
    "fanova": "fANOVA (optuna FanovaImportanceEvaluator: share of the variance explained)",
    "ped_anova": "PED-ANOVA (optuna PedAnovaImportanceEvaluator: importance for reaching the "
    "top 10% of trials)",
}
MIN_TRIALS = 20


class NotEnoughTrialsError(ValueError):
    """Too few trials, or no varied hyperparameter, for an importance analysis."""


def importance(
    df: pd.DataFrame,
    metric: str | Metric = "accuracy",
    evaluator: str = "fanova",
    designs: tuple[str, ...] | None = RANDOM_DESIGNS,
    min_trials: int = MIN_TRIALS,
    seed: int = 0,
    n_trees: int = 32,
) -> pd.DataFrame:
    """Importance of each varied hyperparameter for the metric, per arm.

    Every trial (row) becomes a finished optuna trial (its hyperparameters with log-scaled
    float/int distributions for ``kl_weight``, ``init_sigma``, ``prior_std``, ``lr``,
    ``update_interval``, categorical ones for ``removal``/``addition``, and the metric as its
    value; the study's direction follows the metric) and
    ``optuna.importance.get_param_importances`` evaluates them, normalised to sum to 1.

    - ``fanova``: ``FanovaImportanceEvaluator`` (Hutter et al., ICML 2014): the share of the
      metric's variance, under a random forest fitted to the trials, that each
      hyperparameter explains on its own.
    - ``ped_anova``: ``PedAnovaImportanceEvaluator`` (Watanabe et al., IJCAI 2023): how much
      each hyperparameter's distribution in the top 10% of trials differs from all trials.

    Args:
        df: results table (raw or prepared).
        metric: metric key or test_* column.
        evaluator: ``fanova`` or ``ped_anova``.
        designs: designs whose trials to use (default: the random designs, whose joint
            sampling is what importance analyses assume); ``None`` for all.
        min_trials: fewest trials per arm to attempt an analysis.
        seed: random-forest seed (fANOVA).
        n_trees: random-forest size (fANOVA).

    Returns:
        Rows ``arm``, ``param``, ``importance``, ``evaluator``, ``metric``, ``n_trials``.

    Raises:
        NotEnoughTrialsError: no arm has ``min_trials`` trials with a finite metric and at
            least one varied hyperparameter.
    """
    if evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}; allowed: {', '.join(EVALUATORS)}")
    m = resolve_metric(metric)
    data = prepare_results(df)
    if designs is not None:
        data = data[data["design"].isin(designs)]
    rows: list[dict[str, Any]] = []
    reasons = []
    for arm in sort_arms(data[ARM]):
        trials = data[data[ARM] == arm].dropna(subset=[m.column])
        params = varied(trials)
        if len(trials) < min_trials or not params:
            reasons.append(f"{arm}: {len(trials)} trials, {len(params)} varied hyperparameters")
            continue
        scores = _evaluate(trials, params, m, evaluator, seed, n_trees)
        rows += [
            {
                "arm": arm,
                "param": p,
                "importance": v,
                "evaluator": evaluator,
                "metric": m.key,
                "n_trials": len(trials),
            }
            for p, v in scores.items()
        ]
    if not rows:
        where = f" in designs {list(designs)}" if designs is not None else ""
        detail = "; ".join(reasons) or "no trials"
        raise NotEnoughTrialsError(
            f"importance needs at least {min_trials} trials with a finite {m.column} and a "
            f"varied hyperparameter per method{where} ({detail})"
        )
    return pd.DataFrame(rows)


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
