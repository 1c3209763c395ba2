"""Tables and sentences of the report, formatted for people."""

from __future__ import annotations

import pandas as pd

from analysis._compare import (
    LESS,
    MIN_CONFIGS,
    MIN_TRIALS_PER_LEVEL,
    MORE,
    NO_DIFF,
    STATISTICS,
    TOO_LITTLE,
    format_value,
)
from analysis._schema import ARM, SSVI_ONLY, Metric, arm_label, resolve_metric, sort_arms
from analysis._style import fmt_setting

SHORT = {
    LESS: "less",
    MORE: "more",
    NO_DIFF: "no difference",
    "better": "better",
    "worse": "worse",
    TOO_LITTLE: "too little data",
}


def verdict_bullets(comparisons: dict[str, pd.DataFrame]) -> list[str]:
    """One bullet per (SSVI arm, metric): the headline verdict (std across configurations)
    and what the outlier-robust spread (IQR) says; then one bullet on divergence per arm."""
    bullets, divergence = [], {}
    for key, comp in comparisons.items():
        m = resolve_metric(key)
        for arm in sort_arms(comp["arm"]):
            rows = comp[(comp["arm"] == arm) & (comp["scope"] == "overall")]
            rows = rows.set_index("statistic")
            if "std" not in rows.index:
                continue
            head = rows.loc["std"]
            text = str(head["sentence"]).replace(str(head["verdict"]), f"**{head['verdict']}**", 1)
            if "iqr" in rows.index:
                text += (
                    " Interquartile range (robust to outliers): "
                    + _short(rows.loc["iqr"], "iqr", m)
                    + "."
                )
            bullets.append(f"**{m.title}** — {text}")
            if "divergence_rate" in rows.index and arm not in divergence:
                d = rows.loc["divergence_rate"]
                divergence[arm] = (
                    f"**Divergence** — {format_value(d['ssvi'], 'divergence_rate', m)} of "
                    f"{arm_label(arm)} trials diverged vs "
                    f"{format_value(d['dense_vi'], 'divergence_rate', m)} of dense VI trials: "
                    f"{d['verdict']} (95% CI of the difference "
                    f"{format_value(d['ci_low'], 'divergence_rate', m, True)} to "
                    f"{format_value(d['ci_high'], 'divergence_rate', m, True)} percentage "
                    "points)."
                )
    return bullets + list(divergence.values())


def _short(row: pd.Series, stat: str, m: Metric) -> str:
    """``a vs b unit, verdict (95% CI ...)`` for a spread statistic in metric units."""
    unit = " points" if m.unit == "%" else f" {m.unit}" if m.unit else ""
    return (
        f"{format_value(row['ssvi'], stat, m)} vs {format_value(row['dense_vi'], stat, m)}"
        f"{unit}, {row['verdict']} (95% CI of the difference "
        f"{format_value(row['ci_low'], stat, m, True)} to "
        f"{format_value(row['ci_high'], stat, m, True)})"
    )


def hyperparameter_table(comparisons: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-hyperparameter verdicts: rows hyperparameters (per SSVI arm), columns metrics."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for key, comp in comparisons.items():
        m = resolve_metric(key)
        for _, r in comp[comp["statistic"] == "effect_range"].iterrows():
            name = str(r["scope"]) + (" †" if r["scope"] in SSVI_ONLY else "")
            cell = rows.setdefault((str(r["arm"]), name), {"source": str(r["source"])})
            cell[m.label] = (
                f"**{SHORT[str(r['verdict'])]}** {m.fmt(r['difference'], True)} "
                f"[{m.fmt(r['ci_low'], True)}, {m.fmt(r['ci_high'], True)}]"
            )
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame.from_dict(rows, orient="index").fillna("n/a")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["method", "hyperparameter"])
    table = table.reset_index()
    table["method"] = table["method"].map(arm_label)
    if table["method"].nunique() == 1:
        table = table.drop(columns="method")
    return table


def summary_table(summary: pd.DataFrame, m: Metric) -> pd.DataFrame:
    """``sensitivity_summary`` for people."""
    out = pd.DataFrame(
        {
            "method": summary["arm"].map(arm_label),
            "configs": summary["n_configs"],
            "trials": summary["n_trials"],
        }
    )
    for col in ("best", "median", "worst", "range", "iqr", "std"):
        out[col.upper() if col == "iqr" else col] = summary[col].map(m.fmt)
    tol = _tol(m, float(summary["tolerance"].iloc[0]))
    out[f"within {tol} of best"] = summary["robust_fraction"].map(_pct)
    out["diverged trials"] = summary["divergence_rate"].map(_pct)
    out["default"] = summary["default_value"].map(m.fmt)
    out["default regret"] = summary["default_regret"].map(m.fmt)
    return out


def comparison_table(comp: pd.DataFrame, m: Metric) -> pd.DataFrame:
    """The overall rows of ``compare_methods`` for people."""
    part = comp[comp["scope"] == "overall"]
    rows = []
    for _, r in part.iterrows():
        stat = str(r["statistic"])
        rows.append(
            {
                "method": arm_label(str(r["arm"])),
                "statistic": STATISTICS[stat][2].format(tol=_tol(m), param=""),
                "SSVI": format_value(r["ssvi"], stat, m),
                "dense VI": format_value(r["dense_vi"], stat, m),
                "SSVI − dense VI [95% CI]": f"{format_value(r['difference'], stat, m, True)} "
                f"[{format_value(r['ci_low'], stat, m, True)}, "
                f"{format_value(r['ci_high'], stat, m, True)}]",
                "verdict": str(r["verdict"]),
            }
        )
    out = pd.DataFrame(rows)
    if not out.empty and out["method"].nunique() == 1:
        out = out.drop(columns="method")
    return out


def variance_table(variance: pd.DataFrame, m: Metric) -> pd.DataFrame:
    """``seed_vs_config_variance`` for people."""
    out = pd.DataFrame(
        {
            "method": variance["arm"].map(arm_label),
            "configs": variance["n_configs"],
            "seeds per config": variance["seeds_per_config"].map("{:.1f}".format),
        }
    )
    for col, name in (("seed_std", "seed std"), ("config_std", "configuration std")):
        out[name] = variance[col].map(m.fmt) if col in variance else "n/a"
    for col, name in (
        ("noise_fraction", "seed share of one trial's variance"),
        ("mean_noise_fraction", "seed share of the seed-averaged spread"),
    ):
        out[name] = variance[col].map(_pct) if col in variance else "n/a"
    return out


def tunability_table(tun: pd.DataFrame, m: Metric) -> pd.DataFrame:
    """``tunability`` for people: rows hyperparameters, one column per method.

    A cell is the gain of the best setting over the default, with ``default → best`` when
    they differ.
    """
    cells: dict[str, dict[str, str]] = {}
    for _, r in tun.iterrows():
        name = "all (overall)" if r["hyperparameter"] == "all" else str(r["hyperparameter"])
        cell = m.fmt(float(r["tunability"]))
        if r["hyperparameter"] != "all" and r["default_setting"] != r["best_setting"]:
            cell += f" ({fmt_setting(r['default_setting'])} → {fmt_setting(r['best_setting'])})"
        cells.setdefault(name, {})[arm_label(str(r["arm"]))] = cell
    columns = [arm_label(a) for a in sort_arms(tun["arm"])]
    table = pd.DataFrame.from_dict(cells, orient="index").reindex(columns=columns).fillna("")
    return table.rename_axis("hyperparameter").reset_index()


def importance_sentence(table: pd.DataFrame, top: int = 3) -> str:
    """The ``top`` most important hyperparameters of each method, in words."""
    parts = []
    for arm in sort_arms(table["arm"]):
        part = table[table["arm"] == arm].nlargest(top, "importance")
        names = ", ".join(
            f"{p} ({v:.2f})" for p, v in zip(part["param"], part["importance"], strict=True)
        )
        parts.append(f"{arm_label(arm)}: {names}")
    return "; ".join(parts)


def _tol(m: Metric, tolerance: float | None = None) -> str:
    unit = "points" if m.unit == "%" else m.unit
    return m.fmt(m.tolerance if tolerance is None else tolerance) + (f" {unit}" if unit else "")


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{value * 100:.0f}%"


def seed_text(seeds: pd.Series) -> str:
    """``3 seeds`` or ``2–3 seeds`` from the seed counts of the configurations."""
    low, high = int(seeds.min()), int(seeds.max())
    return f"{low} seeds" if low == high else f"{low}–{high} seeds"


def caveats(data: pd.DataFrame, raw: pd.DataFrame) -> list[str]:
    """How diverged, errored and early-stopped trials were treated; multiplicity."""
    div = data[data["status"] == "diverged"]
    per_arm = ", ".join(f"{arm_label(a)} {n}" for a, n in div.groupby(ARM).size().items())
    classes = data.attrs.get("num_classes", [])
    out = [
        f"{len(div)} diverged trial(s) ({per_arm or 'none'}) are kept and scored as the "
        f"uniform predictor: accuracy 1/K (K = {', '.join(map(str, classes))}), NLL log K, "
        "OOD AUROC 0.5; their ECE is excluded (a uniform predictor is calibrated)."
    ]
    errors = int(data.attrs.get("excluded_errors", 0))
    if ARM not in raw.columns:
        errors = int((raw["status"] == "error").sum())
    out.append(f"{errors} trials with status `error` are excluded.")
    early = int((data["status"] == "stopped_early").sum())
    if early:
        out.append(
            f"{early} trials were stopped early (ASHA): their metrics are from truncated runs."
        )
    out.append(
        "Intervals are not corrected for multiple comparisons: with many metrics and "
        "hyperparameters, some intervals will exclude zero by chance."
    )
    return out


def method_notes(n_boot: int) -> list[str]:
    """How the statistics were computed, with references."""
    return [
        "Configuration = `config_id`; its value is the mean over its seeds. Trials with the "
        "same `config_id` and `seed` are pairs; each SSVI density is compared with dense VI.",
        f"Bootstrap ({n_boot} resamples): configurations are resampled (within each value of "
        "the hyperparameter for per-hyperparameter effects; the default configuration is "
        "always kept), then seeds within configurations, with the same draws for both methods. "
        f"A verdict needs at least {MIN_CONFIGS} paired configurations (overall) or "
        f"{MIN_TRIALS_PER_LEVEL} paired trials per value (per hyperparameter).",
        "Tunability: best minus default configuration (Probst, Boulesteix and Bischl, JMLR "
        "2019); per hyperparameter using configurations equal to the default elsewhere.",
        "Seed against configuration variance: one-way random-effects ANOVA (Bouthillier et "
        "al., MLSys 2021).",
        "Importance: optuna's fANOVA (Hutter et al., ICML 2014) and PED-ANOVA (Watanabe et "
        "al., IJCAI 2023) evaluators.",
    ]
