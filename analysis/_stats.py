"""Sensitivity statistics of one method: spread, tunability, seed noise, marginal effects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis._design import config_table, default_config, effect_rows, same_except
from analysis._load import prepare_results
from analysis._schema import ARM, HYPERPARAMETERS, Metric, arm_density, resolve_metric, sort_arms

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (1.96 beyond).
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t975(dof: int) -> float:
    """Two-sided 95% Student-t quantile for ``dof`` degrees of freedom (NaN for ``dof < 1``)."""
    if dof < 1:
        return float("nan")
    return _T975[dof - 1] if dof <= len(_T975) else 1.96


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
    """How much one method's outcome varies across configurations (seed-averaged).

    Per arm (dense VI, and SSVI at each density): best, median, worst, range, interquartile
    range and standard deviation of the metric over configurations (each configuration's
    value is its mean over seeds); the *robust fraction* (share of configurations within
    ``tolerance`` of the arm's best); the divergence rate (share of trials that diverged);
    and the regret of the default configuration, best minus default in the "better"
    direction (tunability, Probst, Boulesteix and Bischl, JMLR 2019).

    Args:
        df: results table (raw from ``load_results`` or from ``prepare_results``).
        metric: ``accuracy``, ``nll``, ``ece``, ``ood_auroc``, ``brier`` or a test_* column.
        tolerance: robust-fraction tolerance in metric units (default: the metric's, e.g.
            0.01 = 1 point of accuracy).

    Returns:
        One row per arm.
    """
    m = resolve_metric(metric)
    tol = m.tolerance if tolerance is None else tolerance
    data = prepare_results(df)
    configs = config_table(data, m)
    rows = []
    for arm in sort_arms(configs[ARM]):
        arm_configs = configs[configs[ARM] == arm]
        trials = data[data[ARM] == arm]
        stats = spread(arm_configs["value"].to_numpy(), m, tol)
        default = default_config(arm_configs)
        default_value = float(default["value"]) if default is not None else float("nan")
        sign = 1.0 if m.higher_is_better else -1.0
        rows.append(
            {
                "arm": arm,
                "density": arm_density(arm),
                "metric": m.key,
                "n_configs": int(arm_configs["value"].notna().sum()),
                "n_trials": len(trials),
                **stats,
                "tolerance": tol,
                "divergence_rate": float(trials["status"].eq("diverged").mean()),
                "default_value": default_value,
                "default_regret": sign * (stats["best"] - default_value) + 0.0,  # no -0.0
            }
        )
    return pd.DataFrame(rows)


def seed_vs_config_variance(df: pd.DataFrame, metric: str | Metric = "accuracy") -> pd.DataFrame:
    """Split each arm's variance into seed noise and configuration effect (one-way ANOVA).

    Random-effects one-way ANOVA with configurations as groups and seeds as replicates
    (Bouthillier et al., "Accounting for variance in machine learning benchmarks", MLSys
    2021, compare exactly these sources): ``seed_std`` is the pooled within-configuration
    std, ``config_std`` the std of the configurations' true means, ``(MSB - MSW) / n0``
    clipped at 0. ``noise_fraction`` is the share of one trial's variance due to the seed;
    ``mean_noise_fraction`` the share of the variance of seed-averaged configuration values
    (what ``sensitivity_summary`` spreads over) that is still seed noise.

    Returns:
        One row per arm: ``n_configs``, ``n_trials``, ``seeds_per_config``, ``seed_std``,
        ``config_std``, ``noise_fraction``, ``mean_noise_fraction``, ``f_ratio``.
    """
    m = resolve_metric(metric)
    data = prepare_results(df)
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
        grand = values[m.column].mean()
        msb = float(np.sum(n * (means - grand) ** 2) / (k - 1))
        msw = float(groups.var(ddof=1).fillna(0).mul(groups.size() - 1).sum() / (total - k))
        n0 = (total - np.sum(n**2) / total) / (k - 1)
        config_var = max(0.0, (msb - msw) / n0)
        noise_in_mean = msw / n0
        row.update(
            {
                "seed_std": msw**0.5,
                "config_std": config_var**0.5,
                "noise_fraction": _ratio(msw, msw + config_var),
                "mean_noise_fraction": _ratio(noise_in_mean, noise_in_mean + config_var),
                "f_ratio": _ratio(msb, msw),
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
    configs = config_table(prepare_results(df), m).dropna(subset=["value"])
    rows = []
    for arm in sort_arms(configs[ARM]):
        arm_configs = configs[configs[ARM] == arm]
        default = default_config(arm_configs)
        if default is None:
            continue
        scopes = [("all", pd.Series(True, index=arm_configs.index))]
        scopes += [(p, same_except(arm_configs, default, p)) for p in HYPERPARAMETERS]
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
