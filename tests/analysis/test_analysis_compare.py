"""compare_methods: paired bootstrap differences and verdicts on tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_synthetic import build_table

from analysis import compare_methods
from analysis._compare import COLUMNS, LESS, MORE, NO_DIFF, TOO_LITTLE

N_CONFIGS, N_SEEDS = 24, 3


def paired_table(
    ssvi_effect: float,
    dense_effect: float,
    noise: float,
    seed: int = 0,
    densities: tuple[float, ...] = (0.1,),
) -> pd.DataFrame:
    """Config i has accuracy 0.8 + effect * z_i per method (z_i shared), plus seed noise."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=N_CONFIGS)
    kl = np.tile([1e-3, 1e-2, 1e-1, 1.0], N_CONFIGS // 4)
    records = []
    for i in range(N_CONFIGS):
        for s in range(N_SEEDS):
            arms = [("dense_vi", 1.0, dense_effect)] + [("ssvi", d, ssvi_effect) for d in densities]
            for method, density, effect in arms:
                acc = 0.8 + effect * z[i] + noise * rng.normal()
                records.append(
                    {
                        "method": method,
                        "density": density,
                        "config_id": f"c{i}",
                        "seed": s,
                        "kl_weight": kl[i],
                        "test_accuracy": acc,
                        "is_default": i == 0,
                    }
                )
    return build_table(records)


def overall(comp: pd.DataFrame, statistic: str) -> pd.Series:
    return comp[(comp["scope"] == "overall") & (comp["statistic"] == statistic)].iloc[0]


def test_dense_constant_ssvi_varies_means_more_sensitive() -> None:
    comp = compare_methods(paired_table(0.05, 0.0, 0.0), "accuracy", n_boot=300)
    assert list(comp.columns) == COLUMNS
    std = overall(comp, "std")
    assert std["dense_vi"] == pytest.approx(0.0, abs=1e-12)
    assert std["ci_low"] > 0 and std["verdict"] == MORE
    assert "more sensitive" in std["sentence"] and "95% CI" in std["sentence"]
    assert overall(comp, "robust_fraction")["verdict"] == MORE  # smaller share near the best
    assert overall(comp, "range")["verdict"] == MORE


def test_ssvi_constant_means_less_sensitive() -> None:
    comp = compare_methods(paired_table(0.0, 0.05, 0.0), "accuracy", n_boot=300)
    std = overall(comp, "std")
    assert std["ci_high"] < 0 and std["verdict"] == LESS
    assert std["sentence"].startswith("SSVI (density 0.1) is less sensitive than dense VI")
    assert overall(comp, "robust_fraction")["verdict"] == LESS  # higher share -> less sensitive


def test_equal_up_to_noise_gives_no_detectable_difference() -> None:
    comp = compare_methods(paired_table(0.05, 0.05, 0.01, seed=3), "accuracy", n_boot=500)
    for statistic in ("std", "iqr", "range"):
        row = overall(comp, statistic)
        assert row["ci_low"] <= 0 <= row["ci_high"]
        assert row["verdict"] == NO_DIFF
    assert overall(comp, "std")["sentence"].startswith("No detectable difference")


def test_both_constant_gives_no_detectable_difference() -> None:
    comp = compare_methods(paired_table(0.0, 0.0, 0.0), "accuracy", n_boot=100)
    assert set(comp["verdict"]) == {NO_DIFF}


def test_per_hyperparameter_scope_and_levels() -> None:
    table = paired_table(0.0, 0.0, 0.002)
    # dense VI depends on kl_weight strongly, SSVI not at all.
    dense = table["method"] == "dense_vi"
    table.loc[dense, "test_accuracy"] -= 0.05 * np.log10(table.loc[dense, "kl_weight"]) ** 2
    comp = compare_methods(table, "accuracy", n_boot=300)
    row = comp[comp["scope"] == "kl_weight"].iloc[0]
    assert row["statistic"] == "effect_range" and row["source"] == "random"
    assert row["dense_vi"] == pytest.approx(0.45, abs=0.01)  # 0.05 * (9 - 0)
    assert row["verdict"] == LESS


def test_pairs_need_both_methods() -> None:
    table = paired_table(0.05, 0.0, 0.0)
    drop = (table["method"] == "dense_vi") & (table["seed"] == 2)
    comp = compare_methods(table[~drop], "accuracy", n_boot=50)
    assert overall(comp, "std")["n_pairs"] == N_CONFIGS * 2
    assert overall(comp, "std")["n_configs"] == N_CONFIGS


def test_each_density_compared_with_dense_and_deterministic() -> None:
    table = paired_table(0.02, 0.05, 0.005, densities=(0.05, 0.2))
    comp = compare_methods(table, "accuracy", n_boot=200, seed=7)
    assert set(comp["arm"]) == {"ssvi@0.05", "ssvi@0.2"}
    again = compare_methods(table, "accuracy", n_boot=200, seed=7)
    pd.testing.assert_frame_equal(comp, again)


def test_lower_is_better_levels() -> None:
    table = paired_table(0.0, 0.0, 0.001)
    table.loc[table["method"] == "ssvi", "test_nll"] = 0.5
    table.loc[table["method"] == "dense_vi", "test_nll"] = 0.7
    comp = compare_methods(table, "nll", n_boot=100)
    assert overall(comp, "best")["verdict"] == "better"
    assert overall(comp, "median")["difference"] == pytest.approx(-0.2)


def test_too_few_configurations_or_seeds_gives_no_verdict() -> None:
    few = paired_table(0.05, 0.0, 0.0)
    few = few[few["config_id"].isin(["c0", "c1", "c2"])]
    std = overall(compare_methods(few, "accuracy", n_boot=50), "std")
    assert std["verdict"] == TOO_LITTLE
    assert std["sentence"].startswith("Too little data")
    one_seed = paired_table(0.0, 0.05, 0.0)
    one_seed = one_seed[one_seed["seed"] == 0]
    comp = compare_methods(one_seed, "accuracy", n_boot=50)
    assert set(comp.loc[comp["scope"] == "kl_weight", "verdict"]) == {LESS}  # 6 configs/level
    single = one_seed[one_seed["config_id"].isin(["c0", "c1", "c2", "c3"])]
    comp = compare_methods(single, "accuracy", n_boot=50)
    assert set(comp.loc[comp["scope"] == "kl_weight", "verdict"]) == {TOO_LITTLE}
