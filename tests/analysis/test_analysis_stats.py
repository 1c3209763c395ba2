"""Sensitivity statistics on hand-built tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_synthetic import build_table

from analysis import (
    marginal_effects,
    seed_vs_config_variance,
    sensitivity_summary,
    tunability,
    verdicts,
)
from analysis._stats import t975

SEED_OFFSETS = (-0.01, 0.0, 0.01)


def grid_table(
    ssvi: list[float], dense: list[float], offsets=SEED_OFFSETS, **extra
) -> pd.DataFrame:
    """Config c{i} has mean ``ssvi[i]`` / ``dense[i]``; seeds add ``offsets``."""
    records = []
    for method, means in (("ssvi", ssvi), ("dense_vi", dense)):
        for i, mean in enumerate(means):
            for seed, off in enumerate(offsets):
                records.append(
                    {
                        "method": method,
                        "config_id": f"c{i}",
                        "seed": seed,
                        "kl_weight": 10.0**-i,
                        "test_accuracy": mean + off,
                        "test_nll": 1.0 - mean + off,
                        "is_default": i == 0,
                        **extra,
                    }
                )
    return build_table(records)


def _summary(table: pd.DataFrame, metric: str = "accuracy", **kw) -> pd.DataFrame:
    out = sensitivity_summary(table, metric, **kw)
    return out[out["scope"] == "paired"].set_index("arm")


def test_summary_matches_hand_computation() -> None:
    ssvi = [0.90, 0.80, 0.70, 0.95, 0.945]
    table = grid_table(ssvi, [0.5] * 5)
    row = _summary(table).loc["ssvi@0.1"]
    v = np.array(ssvi)
    assert row["n_configs"] == 5 and row["n_trials"] == 15
    assert row["best"] == pytest.approx(0.95)
    assert row["worst"] == pytest.approx(0.70)
    assert row["median"] == pytest.approx(0.90)
    assert row["range"] == pytest.approx(0.25)
    assert row["iqr"] == pytest.approx(np.percentile(v, 75) - np.percentile(v, 25))
    assert row["std"] == pytest.approx(v.std(ddof=1))
    # configuration SD: the variance of the means minus the seed variance / 3 seeds
    config_var = v.var(ddof=1) - np.var(SEED_OFFSETS, ddof=1) / 3
    assert row["config_sd"] == pytest.approx(np.sqrt(config_var))
    assert row["robust_fraction"] == pytest.approx(2 / 5)  # 0.95 and 0.945 within 1 point
    assert row["default_value"] == pytest.approx(0.90)
    assert row["default_regret"] == pytest.approx(0.05)
    assert row["divergence_rate"] == 0.0
    everything = sensitivity_summary(table).set_index(["scope", "arm"])
    assert everything.loc[("all", "ssvi@0.1"), "std"] == pytest.approx(v.std(ddof=1))


def test_summary_lower_is_better_and_constant_method() -> None:
    table = grid_table([0.90, 0.80, 0.70], [0.6, 0.6, 0.6])
    summary = _summary(table, "nll", tolerance=0.05)
    ssvi, dense = summary.loc["ssvi@0.1"], summary.loc["dense_vi"]
    assert ssvi["best"] == pytest.approx(0.10) and ssvi["worst"] == pytest.approx(0.30)
    assert ssvi["default_regret"] == pytest.approx(0.0)
    assert ssvi["robust_fraction"] == pytest.approx(1 / 3)
    assert dense["std"] == pytest.approx(0.0, abs=1e-12)
    assert dense["range"] == pytest.approx(0.0, abs=1e-12)
    assert dense["config_sd"] == 0.0  # all of dense VI's spread is seed noise
    assert dense["robust_fraction"] == 1.0


def test_diverged_runs_leave_the_spread_and_count_as_divergence() -> None:
    table = grid_table([0.9, 0.9, 0.8], [0.9, 0.9, 0.8])
    table.loc[(table["method"] == "ssvi") & (table["config_id"] == "c1"), "status"] = "diverged"
    table.loc[(table["method"] == "ssvi") & (table["config_id"] == "c2"), "status"] = "diverged"
    table.loc[(table["method"] == "ssvi") & (table["seed"] == 0), "status"] = "diverged"
    paired = _summary(table)
    # the paired scope drops every pair where either method diverged: c0 with seeds 1, 2 only
    assert paired.loc["ssvi@0.1", "n_configs"] == 1 == paired.loc["dense_vi", "n_configs"]
    assert paired.loc["ssvi@0.1", "divergence_rate"] == pytest.approx(7 / 9)
    assert paired.loc["dense_vi", "divergence_rate"] == 0.0
    row = sensitivity_summary(table).set_index(["scope", "arm"]).loc[("all", "ssvi@0.1")]
    assert row["worst"] == pytest.approx(0.9 + 0.005)  # c0's converged seeds; never chance
    assert row["n_configs"] == 1


def test_seed_vs_config_variance_one_way_anova() -> None:
    table = grid_table([0.8, 0.9, 1.0], [0.5, 0.5, 0.5])
    out = seed_vs_config_variance(table).set_index("arm")
    ssvi, dense = out.loc["ssvi@0.1"], out.loc["dense_vi"]
    within = np.var(SEED_OFFSETS, ddof=1)  # 1e-4
    config_var = (3 * np.var([0.8, 0.9, 1.0], ddof=1) - within) / 3
    assert ssvi["seed_std"] == pytest.approx(np.sqrt(within))
    assert ssvi["config_std"] == pytest.approx(np.sqrt(config_var))
    assert ssvi["noise_fraction"] == pytest.approx(within / (within + config_var))
    assert dense["config_std"] == 0.0  # all spread is seed noise
    assert dense["noise_fraction"] == pytest.approx(1.0)
    assert dense["mean_noise_fraction"] == pytest.approx(1.0)


def test_one_estimator_of_the_configuration_sd_on_an_unbalanced_table() -> None:
    # seeds 1, 2 and 3 per configuration: (MSB - MSW) / n0 and the verdicts' estimator differ
    # here; the per-method table uses the verdicts' one, so the report shows one number
    rng = np.random.default_rng(3)
    records = [
        {"method": method, "config_id": f"c{i}", "seed": s,
         "test_accuracy": 0.9 + 0.02 * np.sin(i) + 0.01 * rng.normal()}
        for i in range(9) for s in range(1 + i % 3) for method in ("ssvi", "dense_vi")
    ]  # fmt: skip
    table = build_table(records)
    out = seed_vs_config_variance(table).set_index("arm")
    paired = sensitivity_summary(table).set_index(["scope", "arm"])
    for arm in ("ssvi@0.1", "dense_vi"):
        assert out.loc[arm, "config_std"] == pytest.approx(paired.loc[("paired", arm), "config_sd"])
        row = verdicts(table, metrics=("accuracy",), n_boot=200).query("scope == 'overall'")
        column = "ssvi" if arm != "dense_vi" else "dense_vi"
        assert out.loc[arm, "config_std"] == pytest.approx(float(row[column].iloc[0]))


def test_tunability_overall_and_per_hyperparameter() -> None:
    # Default c0 (kl 0.01, lr 0.01); c1/c2 vary kl only, c3 varies lr only, c4 varies both.
    configs = [
        ({}, 0.90),
        ({"kl_weight": 0.1}, 0.93),
        ({"kl_weight": 1.0}, 0.80),
        ({"lr": 0.1}, 0.91),
        ({"kl_weight": 0.1, "lr": 0.1}, 0.97),
    ]
    records = [
        {
            "method": m,
            "config_id": f"c{i}",
            "seed": s,
            "is_default": i == 0,
            "test_accuracy": acc,
            "test_nll": 1 - acc,
            **hp,
        }
        for m in ("ssvi", "dense_vi")
        for i, (hp, acc) in enumerate(configs)
        for s in range(2)
    ]
    tun = tunability(build_table(records), "accuracy")
    ssvi = tun[tun["arm"] == "ssvi@0.1"].set_index("hyperparameter")
    assert set(ssvi.index) == {"all", "kl_weight", "lr"}
    assert ssvi.loc["all", "tunability"] == pytest.approx(0.07)
    assert ssvi.loc["kl_weight", "tunability"] == pytest.approx(0.03)
    assert ssvi.loc["kl_weight", "best_setting"] == pytest.approx(0.1)
    assert ssvi.loc["lr", "tunability"] == pytest.approx(0.01)
    nll = tunability(build_table(records), "nll").set_index(["arm", "hyperparameter"])
    assert nll.loc[("dense_vi", "kl_weight"), "tunability"] == pytest.approx(0.03)


def test_tunability_without_default_is_empty() -> None:
    table = grid_table([0.9, 0.8], [0.9, 0.8])
    table["is_default"] = False
    assert tunability(table).empty


def test_marginal_effects_levels_and_t_interval() -> None:
    table = grid_table([0.9, 0.8], [0.7, 0.7], design="random")
    out = marginal_effects(table, "accuracy", "kl_weight")
    assert set(out["source"]) == {"random"}
    row = out[(out["arm"] == "ssvi@0.1") & (out["level"] == 1.0)].iloc[0]
    half = np.std(SEED_OFFSETS, ddof=1) / np.sqrt(3) * 4.303
    assert row["mean"] == pytest.approx(0.9)
    assert row["ci_high"] - row["mean"] == pytest.approx(half, rel=1e-3)
    assert (row["min"], row["max"], row["n_trials"]) == pytest.approx((0.89, 0.91, 3))
    assert marginal_effects(table, "accuracy", "lr").empty  # not varied


def test_t_quantiles_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for dof in (1, 2, 5, 10, 30):
        assert t975(dof) == pytest.approx(stats.t.ppf(0.975, dof), abs=2e-3)
    assert np.isnan(t975(0))
