"""Tables and sentences of the report, formatted for people."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis import _tuning, _variance
from analysis._schema import ARM, DENSE, Metric, arm_label, resolve_metric, sort_arms
from analysis._style import fmt_setting
from analysis._verdicts import FAMILIES, LESS, MIN_CONFIGS, MORE, NONE, POWER, sentence

MEANING = {
    LESS: "SSVI's results depend less on these hyperparameters than dense VI's",
    MORE: "SSVI's results depend more on these hyperparameters than dense VI's",
    NONE: "the two methods cannot be told apart",
}


def answer(v: pd.DataFrame) -> list[str]:
    """The answer, one sentence per (SSVI arm, metric), from the headline rows of ``verdicts``."""
    rows = v[(v["family"] == "sensitivity") & (v["scope"] == "overall")]
    out = []
    for _, r in rows.iterrows():
        m = resolve_metric(str(r["metric"]))
        label = {LESS: "SSVI less sensitive", MORE: "SSVI more sensitive"}.get(
            str(r["verdict"]), "no detectable difference"
        )
        unit = "points" if m.unit == "%" else m.unit
        numbers = (
            f"configuration SD {m.fmt(r['ssvi'])} vs {m.fmt(r['dense_vi'])} {unit} for "
            f"{arm_label(str(r['arm']))} vs dense VI, difference {m.fmt(r['difference'], True)} "
            f"(95% CI {m.fmt(r['ci_low'], True)} to {m.fmt(r['ci_high'], True)})"
        ).replace("  ", " ")
        if r["note"] and r["p_holm"] != r["p_holm"]:  # no test: the note says why
            meaning = str(r["note"])
        elif r["verdict"] == NONE:
            meaning = (
                f"{MEANING[NONE]}; a difference of {m.fmt(r['detectable'])} {unit} would have "
                "been detected".replace("  ", " ")
            )
        else:
            meaning = f"{MEANING[str(r['verdict'])]} (Holm-adjusted p = {r['p_holm']:.2g})"
        if r["note"] and r["p_holm"] == r["p_holm"]:
            meaning += f"; {r['note']}"
        out.append(f"**{m.title}: {label}** — {numbers}: {meaning}{_practical_words(r)}.")
    return out


def _practical_words(r: pd.Series) -> str:
    """The practical reading in the answer's words (``analysis._practical``)."""
    reading = r.get("practical", "")
    detected = r["verdict"] in (LESS, MORE)
    return {
        "equivalent": "; but within the margin of practical equivalence"
        if detected
        else "; practically equivalent (inside the margin)",
        "less": "; beyond the margin: SSVI is practically less sensitive",
        "more": "; beyond the margin: SSVI is practically more sensitive",
        "inconclusive": "; whether it matters is inconclusive (the interval reaches past the "
        "margin)",
    }.get(str(reading), "")


def _practical_cell(r: pd.Series) -> str:
    reading, margin = r.get("practical", ""), r.get("equivalence_margin", float("nan"))
    if not isinstance(reading, str) or not reading:
        return ""
    shown = f"{margin:.2f}x" if margin == margin and margin < 1e6 else "none"
    return f"{reading} ({shown})"


def verdict_table(v: pd.DataFrame, family: str) -> pd.DataFrame:
    """One family of ``verdicts`` for people."""
    part = v[v["family"] == family]
    rows = []
    for _, r in part.iterrows():
        stat = str(r["statistic"])
        if stat == "divergence_rate":
            cell = _pct_cell
            unit = "% of runs"
        else:
            m = resolve_metric(str(r["metric"]))
            cell = m.fmt
            unit = "points" if m.unit == "%" else m.unit
        rows.append(
            {
                "method": arm_label(str(r["arm"])),
                "metric": r["metric"] if stat == "divergence_rate" else _metric_label(r),
                "scope": _scope(str(r["scope"]), str(r["source"])),
                "statistic": {
                    "config_sd": "configuration SD",
                    "seed_sd": "seed SD",
                    "divergence_rate": "diverged runs",
                }[stat]
                + (f" ({unit})" if unit else ""),
                "SSVI": cell(r["ssvi"]),
                "dense VI": "—" if family == "ssvi_only" else cell(r["dense_vi"]),
                "SSVI − dense VI [95% CI]": (
                    f"{cell(r['difference'], True)} [{cell(r['ci_low'], True)}, "
                    f"{cell(r['ci_high'], True)}]"
                ),
                "Holm p": "n/a" if r["p_holm"] != r["p_holm"] else f"{r['p_holm']:.2g}",
                "verdict": f"**{r['verdict']}**" if r["verdict"] != NONE else NONE,
                f"detectable ({POWER:.0%} power)": cell(r["detectable"]),
                "practical (narrowest margin)": _practical_cell(r),
                "configs / pairs": f"{r['n_configs']} / {r['n_pairs']}",
            }
        )
    out = pd.DataFrame(rows)
    if not out.empty and not part["practical"].astype(str).str.len().any():
        out = out.drop(columns="practical (narrowest margin)")  # a family without the reading
    if not out.empty and out["method"].nunique() == 1:
        out = out.drop(columns="method")
    return out


def _metric_label(r: pd.Series) -> str:
    return resolve_metric(str(r["metric"])).label


def _scope(scope: str, source: str) -> str:
    if scope == "overall":
        return f"all paired configurations ({source})"
    if scope == "ssvi_only":
        return f"SSVI-only random sample ({source})"
    if scope.startswith("ssvi_only:"):
        return f"{scope.split(':', 1)[1]} ({source})"
    if scope in ("seed_noise", "divergence"):
        return "all paired configurations"
    return f"{scope} ({source})"


def _pct_cell(value: float, signed: bool = False) -> str:
    if value != value:
        return "n/a"
    return f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}"


def family_sentences(v: pd.DataFrame, family: str) -> list[str]:
    """The plain-language sentence of every row of a family with a verdict other than none."""
    part = v[(v["family"] == family) & (v["verdict"] != NONE)]
    return [sentence(r) for _, r in part.iterrows()]


def summary_table(summary: pd.DataFrame, m: Metric) -> pd.DataFrame:
    """``sensitivity_summary`` for people."""
    out = pd.DataFrame(
        {
            "configurations": summary["scope"].map(
                {"paired": "paired (the verdict's)", "all": "all the method ran"}
            ),
            "method": summary["arm"].map(arm_label),
            "configs": summary["n_configs"],
            "runs": summary["n_trials"],
        }
    )
    for col in ("best", "median", "worst", "range", "iqr", "std", "config_sd"):
        name = {"iqr": "IQR", "std": "SD of means", "config_sd": "configuration SD"}.get(col, col)
        out[name] = summary[col].map(m.fmt)
    tol = _tol(m, float(summary["tolerance"].iloc[0]))
    out[f"within {tol} of best"] = summary["robust_fraction"].map(_pct)
    out["diverged runs"] = summary["divergence_rate"].map(_pct)
    out["default regret"] = summary["default_regret"].map(m.fmt)
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
    for col, name in (("seed_std", "seed SD"), ("config_std", "configuration SD")):
        out[name] = variance[col].map(m.fmt) if col in variance else "n/a"
    for col, name in (
        ("noise_fraction", "seed share of one run's variance"),
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


def near_best_table(table: pd.DataFrame) -> pd.DataFrame:
    """``near_best`` for people."""
    rows = []
    for _, r in table.iterrows():
        name = str(r["arm"])
        label = (
            f"{arm_label(name.split(' - ')[0])} − dense VI" if " - " in name else arm_label(name)
        )
        signed = " - " in name
        rows.append(
            {
                "method": label,
                "share of random configurations within 1 point of the best": (
                    f"{_pct_cell(r['share'], signed)} [{_pct_cell(r['low'], signed)}, "
                    f"{_pct_cell(r['high'], signed)}]" + (" points" if signed else " %")
                ),
                "configurations": int(r["n_configs"]),
            }
        )
    return pd.DataFrame(rows)


def importance_sentence(table: pd.DataFrame, top: int = 3) -> str:
    """The ``top`` most important hyperparameters of each method and design, in words."""
    parts = []
    for (design, arm), part in table.groupby(["design", "arm"], sort=False):
        part = part.nlargest(top, "importance")
        names = ", ".join(
            f"{p} ({v:.2f} [{lo:.2f}, {hi:.2f}])"
            for p, v, lo, hi in zip(
                part["param"], part["importance"], part["low"], part["high"], strict=True
            )
        )
        parts.append(f"{arm_label(str(arm))}, {design} design: {names}")
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


def caveats(
    data: pd.DataFrame, raw: pd.DataFrame, v: pd.DataFrame, excluded: list[str]
) -> list[str]:
    """Every count that differs between tables, and how diverged, errored, early-stopped and
    incomplete runs were treated."""
    out = []
    head = v[(v["family"] == "sensitivity") & (v["scope"] == "overall")]
    if not head.empty:
        r = head.iloc[0]
        ssvi = data[(data["method"] != DENSE) & (data["design"].isin(["oat", "random_ssvi"]))]
        own = ssvi[ssvi["oat_param"].ne("base") & ~ssvi["config_id"].isin(
            data.loc[data["method"] == DENSE, "config_id"]
        )]["config_id"].nunique()  # fmt: skip
        out.append(
            f"Counts: the headline compares {r['n_configs']} configurations of the shared "
            f"knobs that both methods ran ({r['n_pairs']} configuration-seed pairs where "
            f"neither diverged; a configuration in several designs counts once). SSVI also ran "
            f"{own} configurations of its own knobs, analysed separately; the per-method tables "
            "marked 'all the method ran' count those too."
        )
    if excluded:
        out.append(
            f"{len(excluded)} configurations vary SSVI-only knobs in a design that pairs SSVI "
            "with dense VI (a table planned before the random design kept those knobs at their "
            "base values): left out of every SSVI vs dense VI comparison, because dense VI "
            "ignores those knobs."
        )
    div = data[data["status"] == "diverged"]
    per_arm = ", ".join(f"{arm_label(a)} {n}" for a, n in div.groupby(ARM).size().items())
    dropped = head["n_dropped"].max() if not head.empty else 0
    if div.empty:
        out.append("No run diverged.")
    else:
        out.append(
            f"{len(div)} runs diverged ({per_arm}). Divergence is its own outcome: a pair where "
            f"either method diverged is dropped from both ({int(dropped)} pairs in the "
            "headline), the divergence rates are compared on their own, and the sensitivity "
            "analysis above scores diverged runs as the uniform predictor instead."
        )
    errors = int(data.attrs.get("excluded_errors", 0))
    if ARM not in raw.columns:
        errors = int((raw["status"] == "error").sum())
    out.append(f"{errors} runs with status `error` are excluded.")
    early = int((data["status"] == "stopped_early").sum())
    if early:
        out.append(
            f"{early} runs were stopped early (ASHA): their metrics are from truncated runs."
        )
    done = data[data["status"] == "completed"]
    missing = {
        m.label: int(done[m.column].isna().sum())
        for m in (resolve_metric(k) for k in ("accuracy", "nll", "ece", "ood_auroc"))
        if m.column in done and done[m.column].isna().any()
    }
    if missing:
        out.append(
            "Completed runs without a value, left out of that metric only: "
            + ", ".join(f"{k} {n}" for k, n in missing.items())
            + "."
        )
    out.append(
        "Verdicts are corrected for multiple comparisons with Holm's step-down method within "
        f"each family ({'; '.join(f'{k}: {d}' for k, d in FAMILIES.items())}), at a "
        "family-wise error rate of 5%: a 95% interval that excludes zero can still be "
        "'none' after the correction."
    )
    return out


SUBSAMPLED = "Hyperparameter importance is evaluated on a seeded random subsample"


def large_bootstrap_sentence() -> str:
    """How the bootstraps of comparisons over many configurations are drawn."""
    return (
        f"Comparisons over more than {_variance.EXACT_MAX_CONFIGS:,} configurations draw, in "
        "each bootstrap replicate, the sums their statistics are made of rather than every "
        "configuration, so that the cost does not grow with the study: the seeds-only "
        f"bootstrap is exact in distribution; the cluster bootstrap draws the resample counts "
        f"of the {_variance.HEAVY} most influential configurations exactly and the sum over "
        "the others from its normal approximation (exact mean and covariance; error of order "
        "1/sqrt(configurations)). Smaller comparisons resample every configuration."
    )


def subsample_sentence(subsampled: list[dict[str, Any]]) -> str:
    """What ``importance(..., max_configs=...)`` subsampled, for the report."""
    parts = ", ".join(
        f"{arm_label(s['arm'])}, {s['design']} design: {s['n_configs']:,} of {s['of']:,}"
        for s in subsampled
    )
    return (
        f"{SUBSAMPLED} of {max(s['n_configs'] for s in subsampled)} configurations per method "
        "and design where a design has more "
        f"(fANOVA's cost grows with them; drawn with numpy's default_rng(seed)), and its "
        f"intervals describe that subsample ({parts}); "
        "`analysis.importance(..., max_configs=None)` evaluates them all."
    )


def k_grid_sentence(n: int) -> str:
    """How the tuning curves' ``k`` was chosen for ``n`` configurations."""
    return (
        f"Tuning curves: with {n:,} configurations in the random design, k takes at most "
        f"{_tuning.MAX_KS} values evenly spaced on a log scale from 1 to {n:,} (every k up to "
        f"{_tuning.MAX_KS} configurations), so that their cost does not grow as the square of "
        "the study."
    )


def calibration_sentence(seeds: int) -> str:
    """What the simulations of ``tests/analysis`` showed for a design with ``seeds`` seeds."""
    head = "Calibration (tests/analysis/test_analysis_calibration.py): on simulated studies "
    if seeds >= 3:
        return (
            head + "of the local design with 3 seeds, no family fires falsely in more than 5% of "
            "studies when the methods are identical, when SSVI's seed noise is 3x, when one "
            "level of a shared knob has 5x the seed noise, or when 3 SSVI runs diverge at "
            "random; a configuration effect 0.6x dense VI's is called 'less' in at least 80%."
        )
    return (
        head + f"calibration was shown for 3 seeds, not for this design's {seeds}: with 2 seeds "
        "and 15 paired configurations (the mnist1d preset) a configuration effect 0.6x dense "
        "VI's was called 'less' in about half of simulated studies (issue 21), so a 'none' "
        "here says little."
    )


def method_notes(n_boot: int, seeds: int = 3) -> list[str]:
    """How the statistics were computed, with references (``seeds``: the fewest seeds of a
    configuration, for the calibration sentence)."""
    return [
        "Configuration = `config_id`; trials with the same `config_id` and `seed` are pairs; "
        "each SSVI density is compared with dense VI separately.",
        "Configuration SD: the SD of the true configuration means, seed noise removed "
        "(one-way random-effects ANOVA: variance of the seed-averaged means minus the pooled "
        "seed variance times the mean of 1/seeds). Seed SD: the pooled within-configuration SD.",
        f"Intervals ({n_boot} bootstrap draws): over all paired configurations, whole "
        "configurations are resampled with their seeds (cluster bootstrap: both sources of "
        "uncertainty, seed noise counted once); a verdict also needs the difference to hold "
        "with the configurations fixed and only the seeds redrawn (parametric bootstrap, each "
        "level with its own seed variance shrunk toward the pooled one, a pair's methods drawn "
        "together, the seed variance's scale from its fiducial distribution): the larger "
        "p-value counts (intersection-union test). A one-at-a-time level is one "
        "configuration: only seeds vary there. An overall verdict needs "
        f"{MIN_CONFIGS} paired configurations and two seeds somewhere. Divergence: exact "
        "McNemar test over the pairs.",
        "Smallest detectable difference: (z of the Holm-corrected level + z of 80% power) "
        "times the interval's standard error (a normal approximation that is optimistic under "
        "an alternative); divergence: the exact McNemar test's 80% power at the Holm level.",
        calibration_sentence(seeds),
        "Tuning curves: expected test value of the best-on-validation of k random "
        "configurations (Dodge et al., EMNLP 2019). Tunability: best minus default "
        "configuration (Probst, Boulesteix and Bischl, JMLR 2019). Seed against configuration "
        "variance: Bouthillier et al., MLSys 2021. Importance: optuna's fANOVA (Hutter et al., "
        "ICML 2014) and PED-ANOVA (Watanabe et al., IJCAI 2023) evaluators.",
    ]
