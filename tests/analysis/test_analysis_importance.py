"""Importance with optuna's fANOVA and PED-ANOVA evaluators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_synthetic import build_table

from analysis import NotEnoughTrialsError, importance


def random_table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """Random design where accuracy depends on lr only (both methods)."""
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
            records.append(
                {
                    "method": method,
                    "config_id": f"c{i}",
                    "seed": 0,
                    **hp,
                    "test_accuracy": acc + rng.normal(0, 0.002),
                }
            )
    return build_table(records)


@pytest.mark.parametrize("evaluator", ["fanova", "ped_anova"])
def test_importance_finds_the_hyperparameter_that_matters(evaluator: str) -> None:
    out = importance(random_table(), "accuracy", evaluator=evaluator)
    assert set(out["param"]) == {"lr", "kl_weight", "removal", "update_interval"}
    assert set(out["evaluator"]) == {evaluator}
    for arm, part in out.groupby("arm"):
        assert part["importance"].sum() == pytest.approx(1.0)
        assert part.set_index("param")["importance"].idxmax() == "lr", arm


def test_importance_needs_enough_varied_trials() -> None:
    with pytest.raises(NotEnoughTrialsError, match="at least 20 trials"):
        importance(random_table(n=8), "accuracy")
    oat_only = random_table().assign(design="oat")
    with pytest.raises(NotEnoughTrialsError, match="random"):
        importance(oat_only, "accuracy")
    assert not importance(oat_only, "accuracy", designs=None).empty


def test_unknown_evaluator() -> None:
    with pytest.raises(ValueError, match="fanova, ped_anova"):
        importance(random_table(), "accuracy", evaluator="shap")
