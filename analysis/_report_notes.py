"""The report's caveats and method notes: what the counts were, how intervals were drawn, what
calibration showed for the design at hand (the report's last sections; ``_report_text`` holds
the tables and sentences of the verdicts)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis import _tuning, _variance
from analysis._schema import ARM, DENSE, arm_label, resolve_metric
from analysis._verdicts import FAMILIES, MIN_CONFIGS


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
        head + f"false rates were shown for 3 seeds, not for this design's {seeds}. Power with 2 "
        "seeds and 15 paired configurations (the mnist1d preset): a configuration effect 0.6x "
        "dense VI's is called 'less' in 90% of studies simulated with the noise the mnist1d "
        "study measured (Gaussian configuration effects: the dry run's simulation), but in "
        "about half of studies shaped like the digits' (a few configurations carrying the "
        "spread, relatively more seed noise): read a 'none' with its 'detectable'."
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
        "Smallest detectable difference: the difference that the verdict's tests find with 80% "
        "power at the family's strictest Holm level, computed under that alternative (the "
        "bootstrap draws rescaled to it; the larger of the two directions); divergence: the "
        "exact McNemar test's 80% power at the Holm level.",
        calibration_sentence(seeds),
        "Tuning curves: expected test value of the best-on-validation of k random "
        "configurations (Dodge et al., EMNLP 2019). Tunability: best minus default "
        "configuration (Probst, Boulesteix and Bischl, JMLR 2019). Seed against configuration "
        "variance: Bouthillier et al., MLSys 2021. Importance: optuna's fANOVA (Hutter et al., "
        "ICML 2014) and PED-ANOVA (Watanabe et al., IJCAI 2023) evaluators.",
    ]
