"""Expected-validation-performance curves and the near-best share, against simulation."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_synthetic import build_table
from truth import World, make_table

from analysis import near_best, tuning_curves
from analysis._tuning import expected_best


def test_expected_best_matches_drawing_configurations() -> None:
    rng = np.random.default_rng(0)
    val = rng.normal(size=9)
    test = val + 0.5 * rng.normal(size=9)
    ks = np.array([1, 2, 5, 9])
    exact = expected_best(val, test, ks)
    draws = rng.integers(0, 9, size=(200_000, 9))
    for j, k in enumerate(ks):
        picked = draws[:, :k][np.arange(len(draws)), np.argmax(val[draws[:, :k]], axis=1)]
        sim = test[picked]
        assert exact[j] == pytest.approx(sim.mean(), abs=4 * sim.std() / np.sqrt(len(sim)))
    assert exact[0] == pytest.approx(test.mean())


def test_tied_validation_scores_share_their_test_values() -> None:
    val = np.array([1.0, 1.0, 0.0])
    test = np.array([0.2, 0.8, 0.1])
    ks = np.array([1, 50])
    assert expected_best(val, test, ks) == pytest.approx([(0.2 + 0.8 + 0.1) / 3, 0.5])


def test_tuning_curves_of_a_study() -> None:
    table = make_table(World(), seed=0)
    curves = tuning_curves(table, "accuracy", n_boot=200)
    assert set(curves["arm"]) == {"dense_vi", "ssvi@0.1"}
    assert (curves["k"].groupby(curves["arm"]).max() == 12).all()  # the random design
    for _, part in curves.groupby("arm"):
        assert (part["low"] <= part["expected"] + 1e-12).all()
        assert (part["expected"] <= part["high"] + 1e-12).all()
    dense = curves[curves["arm"] == "dense_vi"]
    random_dense = table[(table["design"] == "random") & (table["method"] == "dense_vi")]
    assert dense["expected"].iloc[0] == pytest.approx(
        random_dense.groupby("config_id")["test_accuracy"].mean().mean()
    )
    assert dense["expected"].iloc[-1] > dense["expected"].iloc[0]
    nll = tuning_curves(table, "nll", n_boot=50)
    assert (nll.groupby("arm")["expected"].first() > nll.groupby("arm")["expected"].last()).all()


def test_near_best_share_by_hand() -> None:
    records = []
    for i, (a, b) in enumerate([(0.95, 0.95), (0.945, 0.90), (0.90, 0.949), (0.80, 0.80)]):
        for method, acc in (("ssvi", a), ("dense_vi", b)):
            records.append({"method": method, "config_id": f"c{i}", "test_accuracy": acc})
    out = near_best(build_table(records), n_boot=200).set_index("arm")
    assert out.loc["ssvi@0.1", "share"] == pytest.approx(0.5)  # 0.95 and 0.945
    assert out.loc["dense_vi", "share"] == pytest.approx(0.5)  # 0.95 and 0.949
    assert out.loc["ssvi@0.1 - dense_vi", "share"] == pytest.approx(0.0)
    assert (out["low"] <= out["high"]).all()
