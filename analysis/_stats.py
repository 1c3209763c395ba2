"""Sensitivity statistics of one method: spread, tunability, seed noise, marginal effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from analysis._design import (
    config_table,
    default_config,
    effect_rows,
    same_as,
    same_except,
    shared_rows,
    spread_rows,
    ssvi_only_rows,
)
from analysis._load import prepare_results
from analysis._pairs import pair_all
from analysis._schema import (
    ARM,
    DENSE,
    HYPERPARAMETERS,
    Metric,
    arm_density,
    resolve_metric,
    shared_params,
    sort_arms,
    ssvi_only,
)
from analysis._variance import components, estimate, sd, summarize


def t975(dof: int) -> float:
    """Two-sided 95% Student-t quantile for ``dof`` degrees of freedom (NaN for ``dof < 1``).

    ``scipy.special.stdtrit``, which ``scipy.stats.t.ppf`` evaluates (the same values), without
    importing ``scipy.stats`` (half a second of the report command)."""
    return float(special.stdtrit(dof, 0.975)) if dof >= 1 else float("nan")


def spread(values: np.ndarray, metric: Metric, tolerance: float) -> dict[str, float]:
    """Best, median, worst, range, IQR, std and robust fraction of seed-averaged values."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        keys = ("best", "median", "worst", "range", "iqr", "std", "robust_fraction")
        return dict.fromkeys(keys, float("nan"))
    sign = 1.0 if metric.higher_is_better else -1.0
    s = sign * v
    q25, q75 = np.percentile(v, [25, 75])
    return {
        "best": sign * s.max(),
        "median": float(np.median(v)),
        "worst": sign * s.min(),
        "range": float(v.max() - v.min()),
        "iqr": float(q75 - q25),
        "std": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "robust_fraction": float(np.mean(s >= s.max() - tolerance - 1e-12)),
    }


def sensitivity_summary(
    df: pd.DataFrame, metric: str | Metric = "accuracy", tolerance: float | None = None
) -> pd.DataFrame:
    """How much one method's outcome varies across configurations (seed-averaged, converged).

    Two scopes per arm: ``paired``, the configurations and seeds the headline verdict compares
    (the shared knobs, pairs where neither method diverged: the same count for both methods),
    and ``all``, every configuration the arm ran (SSVI's includes the sweeps and samples of its
    own knobs). Per arm and scope: best, median, worst, range, interquartile range and standard
    deviation of the seed-averaged metric over configurations, the configuration SD (the same
    with seed noise removed, as in the verdicts); the *robust fraction* (share of configurations
    within ``tolerance`` of the arm's best); the divergence rate (share of runs that diverged);
    and the regret of the default configuration, best minus default in the "better" direction
    (tunability, Probst, Boulesteix and Bischl, JMLR 2019).

    Args:
        df: results table (raw from ``load_results`` or from ``prepare_results``).
        metric: ``accuracy``, ``nll``, ``ece``, ``ood_auroc``, ``brier`` or a test_* column.
        tolerance: robust-fraction tolerance in metric units (default: the metric's, e.g.
            0.01 = 1 point of accuracy).

    Returns:
        One row per (scope, arm).
    """
    m = resolve_metric(metric)
    tol = m.tolerance if tolerance is None else tolerance
    data = spread_rows(prepare_results(df))
    shared, _ = shared_rows(data)
    rows = []
    for arm in [a for a in sort_arms(shared[ARM]) if a != DENSE]:
        paired = pair_all(shared, (m.column,), (arm, DENSE))[m.column]
        if not paired.n_configs:
            continue
        summary = summarize(paired.values)
        config_var, _ = estimate(summary)
        ran = pd.Series(paired.config_ids)
        for k, name in enumerate(paired.arms):
            trials = shared[(shared[ARM] == name) & shared["config_id"].isin(ran)]
            default = trials.loc[trials["is_default"], "config_id"].unique()
            where = np.flatnonzero(np.isin(paired.config_ids, default))
            rows.append(
                _summary_row(
                    "paired",
                    name,
                    m,
                    tol,
                    summary.mean[k],
                    float(sd(config_var[k])),
                    len(trials),
                    float(paired.diverged[k].mean()),
                    float(summary.mean[k][where[0]]) if where.size else float("nan"),
                )  # fmt: skip
            )
    configs = config_table(data, m)
    for arm in sort_arms(configs[ARM]):
        arm_configs = configs[configs[ARM] == arm]
        trials = data[data[ARM] == arm]
        default = default_config(arm_configs)
        rows.append(
            _summary_row(
                "all",
                arm,
                m,
                tol,
                arm_configs["value"].to_numpy(),
                float("nan"),
                len(trials),
                float(trials["status"].eq("diverged").mean()),
                float(default["value"]) if default is not None else float("nan"),
            )  # fmt: skip
        )
    return pd.DataFrame(rows)


def _summary_row(
    scope: str,
    arm: str,
    m: Metric,
    tol: float,
    values: np.ndarray,
    config_sd: float,
    n_trials: int,
    divergence: float,
    default_value: float,
) -> dict[str, object]:
    stats_ = spread(values, m, tol)
    sign = 1.0 if m.higher_is_better else -1.0
    return {
        "scope": scope,
        "arm": arm,
        "density": arm_density(arm),
        "metric": m.key,
        "n_configs": int(np.isfinite(values).sum()),
        "n_trials": n_trials,
        **stats_,
        "config_sd": config_sd,
        "tolerance": tol,
        "divergence_rate": divergence,
        "default_value": default_value,
        "default_regret": sign * (stats_["best"] - default_value) + 0.0,  # no -0.0
    }


def seed_vs_config_variance(df: pd.DataFrame, metric: str | Metric = "accuracy") -> pd.DataFrame:
    """Split each arm's variance into seed noise and configuration effect (one-way ANOVA).

    Random-effects one-way ANOVA with configurations as groups and seeds as replicates
    (Bouthillier et al., "Accounting for variance in machine learning benchmarks", MLSys
    2021, compare exactly these sources), with the verdicts' estimator
    (``analysis._variance.components``, one estimator for the whole report): ``seed_std`` is
    the pooled within-configuration std, ``config_std`` the std of the configurations' true
    means, the variance of the seed-averaged means minus the seed variance times the mean of
    ``1 / seeds``, clipped at 0. ``noise_fraction`` is the share of one trial's variance due to
    the seed; ``mean_noise_fraction`` the share of the variance of seed-averaged configuration
    values (what ``sensitivity_summary`` spreads over) that is still seed noise; ``f_ratio``
    the variance of the means over the seed noise they hold (the ANOVA's F for equal seeds).

    Returns:
        One row per arm: ``n_configs``, ``n_trials``, ``seeds_per_config``, ``seed_std``,
        ``config_std``, ``noise_fraction``, ``mean_noise_fraction``, ``f_ratio``.
    """
    m = resolve_metric(metric)
    data = spread_rows(prepare_results(df))
    rows = []
    for arm in sort_arms(data[ARM]):
        # Trials repeating a (configuration, seed) pair in another design are averaged: a
        # deterministic trainer would give them identical values, not independent noise.
        values = (
            data.loc[data[ARM] == arm, ["config_id", "seed", m.column]]
            .dropna()
            .groupby(["config_id", "seed"], as_index=False)[m.column]
            .mean()
        )
        groups = values.groupby("config_id")[m.column]
        n = groups.size().to_numpy(dtype=float)
        means = groups.mean().to_numpy()
        k, total = len(n), n.sum()
        row = {
            "arm": arm,
            "metric": m.key,
            "n_configs": k,
            "n_trials": int(total),
            "seeds_per_config": total / k if k else float("nan"),
        }
        if k < 2 or total <= k:
            rows.append(row)
            continue
        within = groups.var(ddof=1).fillna(0).mul(groups.size() - 1).to_numpy()
        config_var_, seed_var_ = components(means[None], within[None], 1.0 / n, n - 1)
        config_var, seed_var = max(0.0, float(config_var_[0])), float(seed_var_[0])
        noise_in_mean = seed_var * float(np.mean(1.0 / n))
        row.update(
            {
                "seed_std": seed_var**0.5,
                "config_std": config_var**0.5,
                "noise_fraction": _ratio(seed_var, seed_var + config_var),
                "mean_noise_fraction": _ratio(noise_in_mean, noise_in_mean + config_var),
                "f_ratio": _ratio(float(means.var(ddof=1)), noise_in_mean),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def tunability(df: pd.DataFrame, metric: str | Metric = "accuracy") -> pd.DataFrame:
    """Regret of the default configuration, overall and per hyperparameter.

    Tunability in the sense of Probst, Boulesteix and Bischl (JMLR 2019): how much better the
    best configuration is than the default, in the "better" direction (>= 0). Per
    hyperparameter it uses only configurations that equal the default in every other
    hyperparameter (what a one-at-a-time sweep or a grid through the default provides);
    hyperparameters without such configurations are left out. Arms without a default
    configuration (``is_default``) are left out.

    Returns:
        Rows ``arm``, ``hyperparameter`` (``all`` for the overall row), ``default_setting``,
        ``best_setting``, ``default_value``, ``best_value``, ``tunability``, ``n_configs``.
    """
    m = resolve_metric(metric)
    sign = 1.0 if m.higher_is_better else -1.0
    configs = config_table(spread_rows(prepare_results(df)), m).dropna(subset=["value"])
    rows = []
    for arm in sort_arms(configs[ARM]):
        arm_configs = configs[configs[ARM] == arm]
        default = default_config(arm_configs)
        if default is None:
            continue
        scopes = [("all", pd.Series(True, index=arm_configs.index))]
        equal = same_as(arm_configs, default)  # once per hyperparameter, not once per pair
        scopes += [(p, same_except(arm_configs, default, p, equal)) for p in HYPERPARAMETERS]
        for name, mask in scopes:
            candidates = arm_configs[mask]
            if name != "all" and candidates[name].nunique() < 2:
                continue
            best = candidates.loc[(sign * candidates["value"]).idxmax()]
            rows.append(
                {
                    "arm": arm,
                    "metric": m.key,
                    "hyperparameter": name,
                    "default_setting": "" if name == "all" else default[name],
                    "best_setting": "" if name == "all" else best[name],
                    "default_value": float(default["value"]),
                    "best_value": float(best["value"]),
                    "tunability": sign * (float(best["value"]) - float(default["value"])) + 0.0,
                    "n_configs": len(candidates),
                }
            )
    columns = [
        "arm",
        "metric",
        "hyperparameter",
        "default_setting",
        "best_setting",
        "default_value",
        "best_value",
        "tunability",
        "n_configs",
    ]
    return pd.DataFrame(rows, columns=columns)


def marginal_effects(
    df: pd.DataFrame, metric: str | Metric, param: str, source: str | None = None
) -> pd.DataFrame:
    """Mean metric at each value (level) of one hyperparameter, per arm, with a 95% band.

    The rows come from ``effect_rows``: the one-at-a-time sweep when there is one (the band
    is then over seeds only), else a grid or the random designs (the band is over seeds and
    the other hyperparameters); ``source`` (``oat``, ``grid``, ``random``) picks one.
    ``ci_low``/``ci_high`` are a Student-t 95% interval of the mean over trials, clipped to
    the metric's range; ``min``/``max`` the extreme trials.

    Returns:
        Rows ``arm``, ``param``, ``level``, ``mean``, ``ci_low``, ``ci_high``, ``min``,
        ``max``, ``n_trials``, ``n_diverged``, ``source``; empty when no design varies
        ``param``.
    """
    m = resolve_metric(metric)
    found = effect_rows(prepare_results(df), param, source)
    columns = [
        "arm",
        "param",
        "level",
        "mean",
        "ci_low",
        "ci_high",
        "min",
        "max",
        "n_trials",
        "n_diverged",
        "source",
    ]
    if found is None:
        return pd.DataFrame(columns=columns)
    rows, source = found
    rows = rows.assign(_diverged=rows["status"].eq("diverged"))
    grouped = rows.groupby([ARM, "level"], sort=True)
    out = grouped[m.column].agg(["mean", "std", "count", "min", "max"])
    out["n_diverged"] = grouped["_diverged"].sum()
    half = out["std"] / np.sqrt(out["count"]) * out["count"].map(lambda c: t975(int(c) - 1))
    out["ci_low"] = (out["mean"] - half).clip(lower=0.0)
    out["ci_high"] = (out["mean"] + half).clip(upper=m.upper)
    out = out.reset_index().rename(columns={"count": "n_trials"})
    out["param"], out["source"] = param, source
    order = {a: i for i, a in enumerate(sort_arms(out[ARM]))}
    out = out.sort_values([ARM, "level"], key=lambda s: s.map(order) if s.name == ARM else s)
    return out[columns].reset_index(drop=True)


def divergence_table(df: pd.DataFrame) -> pd.DataFrame:
    """Divergence per method and value of each hyperparameter a design varies.

    Shared hyperparameters from their one-at-a-time sweep, grid or random design (the rows
    ``effect_rows`` picks, SSVI-only knobs at their base values), SSVI-only ones from SSVI's
    sweeps; plus an ``all`` row per arm over every run.

    Returns:
        Rows ``hyperparameter``, ``level``, ``arm``, ``runs``, ``diverged``, ``rate``,
        ``source``.
    """
    data = spread_rows(prepare_results(df))
    shared, _ = shared_rows(data)
    parts = [
        data.assign(level="", hyperparameter="all", source="all designs"),
    ]
    for param in shared_params(data):
        found = effect_rows(shared, param)
        if found is not None:
            parts.append(found[0].assign(hyperparameter=param, source=found[1]))
    for param in (*HYPERPARAMETERS, "density"):
        if param in ssvi_only(data) and (rows := ssvi_only_rows(data, param)) is not None:
            parts.append(rows.assign(hyperparameter=param, source="oat"))
    columns = ["hyperparameter", "level", "arm", "runs", "diverged", "rate", "source"]
    out = []
    for part in parts:
        grouped = part.assign(_div=part["status"].eq("diverged")).groupby(
            ["hyperparameter", "level", ARM, "source"], sort=False
        )["_div"]
        table = pd.DataFrame({"runs": grouped.size(), "diverged": grouped.sum().astype(int)})
        out.append(table.reset_index())
    result = pd.concat(out, ignore_index=True)
    result["rate"] = result["diverged"] / result["runs"]
    return result[columns]
