"""Importance with optuna's fANOVA and PED-ANOVA evaluators, per configuration, with intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_synthetic import build_table

from analysis import NotEnoughTrialsError, importance


def random_table(n: int = 40, seed: int = 0, seeds: int = 2) -> pd.DataFrame:
    """Random design where accuracy depends on lr only; SSVI-only knobs vary too (both methods,
    as tables planned before the shared/SSVI-only split did)."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        hp = {
            "lr": float(10 ** rng.uniform(-3, -1)),
            "kl_weight": float(10 ** rng.uniform(-3, 0)),
            "removal": str(rng.choice(["snr_abs", "mean"])),
            "update_interval": int(rng.choice([50, 100, 200])),
        }
        acc = 0.9 - 0.1 * (np.log10(hp["lr"]) + 2) ** 2
        for method in ("ssvi", "dense_vi"):
            for s in range(seeds):
                records.append(
                    {
                        "method": method,
                        "config_id": f"c{i}",
                        "seed": s,
                        **hp,
                        "test_accuracy": acc + rng.normal(0, 0.002),
                    }
                )
    return build_table(records)


def test_fanova_finds_the_hyperparameter_that_matters_with_intervals() -> None:
    out = importance(random_table(), "accuracy", evaluator="fanova", n_boot=10)
    assert set(out["evaluator"]) == {"fanova"} and set(out["design"]) == {"random"}
    # dense VI has no removal criterion or update interval: it never gets importance for them
    assert set(out.loc[out["arm"] == "dense_vi", "param"]) == {"lr", "kl_weight"}
    assert set(out.loc[out["arm"] == "ssvi@0.1", "param"]) == {
        "lr",
        "kl_weight",
        "removal",
        "update_interval",
    }
    assert (out["n_configs"] == 40).all()  # configurations, not runs (2 seeds each)
    for arm, part in out.groupby("arm"):
        assert part["importance"].sum() == pytest.approx(1.0)
        top = part.set_index("param").loc["lr"]
        assert top["importance"] > 0.8, arm
        assert top["low"] <= top["high"] and top["high"] >= top["importance"] - 0.01
        assert top["low"] > 0.5  # the interval is far from the irrelevant knobs'
    assert (out["low"] <= out["high"]).all()
    # lr's effect dwarfs the seed noise: nearly all the variance of the means is configuration
    assert (out["config_share"] > 0.95).all()
    np.testing.assert_allclose(out["explained"], out["importance"] * out["config_share"])


def test_importance_of_knobs_that_do_nothing_explains_little() -> None:
    # only seed noise: fANOVA still hands out importances that sum to 1; the share of the
    # variance that is configuration effect is small, and so is what any knob explains
    table = random_table(seeds=3)
    table["test_accuracy"] = 0.9 + 0.01 * np.random.default_rng(1).normal(size=len(table))
    out = importance(table, "accuracy", n_boot=0)
    assert out.groupby("arm")["importance"].sum().round(6).eq(1).all()
    assert (out["config_share"] < 0.3).all() and (out["explained"] < 0.3).all()


def test_ped_anova_needs_its_top_decile_filled() -> None:
    out = importance(random_table(n=60), "accuracy", evaluator="ped_anova", n_boot=0)
    for arm, part in out.groupby("arm"):
        assert part.set_index("param")["importance"].idxmax() == "lr", arm
    with pytest.raises(NotEnoughTrialsError, match="PED-ANOVA needs at least 50"):
        importance(random_table(n=40), "accuracy", evaluator="ped_anova")


def test_importance_below_the_minimum_is_not_identifiable() -> None:
    with pytest.raises(NotEnoughTrialsError, match="not identifiable.*at least 20 config"):
        importance(random_table(n=12), "accuracy")
    oat_only = random_table().assign(design="oat")
    with pytest.raises(NotEnoughTrialsError, match="random"):
        importance(oat_only, "accuracy")
    assert not importance(oat_only, "accuracy", designs=None, n_boot=0).empty


def test_unknown_evaluator() -> None:
    with pytest.raises(ValueError, match="fanova, ped_anova"):
        importance(random_table(), "accuracy", evaluator="shap")


def test_a_design_above_max_configs_is_analysed_on_a_seeded_subsample() -> None:
    table = random_table(n=30)
    full = importance(table, "accuracy", n_boot=0, max_configs=None)
    assert full.attrs["subsampled"] == []
    # at most max_configs configurations: not touched
    pd.testing.assert_frame_equal(full, importance(table, "accuracy", n_boot=0, max_configs=30))
    capped = importance(table, "accuracy", n_boot=1, max_configs=24)
    assert (capped["n_configs"] == 24).all()
    assert sorted(capped.attrs["subsampled"], key=lambda s: s["arm"]) == [
        {"arm": arm, "design": "random", "n_configs": 24, "of": 30}
        for arm in ("dense_vi", "ssvi@0.1")
    ]
    pd.testing.assert_frame_equal(capped, importance(table, "accuracy", n_boot=1, max_configs=24))
    assert set(capped.groupby("arm")["importance"].idxmax().map(capped["param"])) == {"lr"}
    # never below the evaluator's minimum
    assert (importance(table, "accuracy", n_boot=0, max_configs=5)["n_configs"] == 20).all()
