"""Tables and sentences of the report, formatted for people."""

from __future__ import annotations

import pandas as pd

from analysis._schema import Metric, arm_label, resolve_metric, sort_arms
from analysis._style import fmt_setting
from analysis._verdicts import LESS, MORE, NONE, POWER, sentence

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
