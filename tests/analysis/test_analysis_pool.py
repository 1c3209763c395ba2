"""Pooling studies (``analysis.pool``): calibration by simulation, and end to end on two tables.

Simulation: each study's estimate is what a verdict gives for one metric: 20 paired
configurations whose means are bivariate normal (correlation 0.6 between the methods, SSVI's SD
``exp(theta)`` times dense VI's), the log ratio of the two sample SDs, and its SE read off a
200-draw cluster-bootstrap percentile interval, ``(log hi - log lo) / (2 z)``, as
``analysis._pool`` reads the verdicts' intervals. A true log ratio ``theta`` shifts the estimate
and its interval and leaves the SE unchanged, so null draws are drawn once and shifted by each
study's ``theta``: 0 for every study, or ``N(0, 0.2^2)`` (heterogeneous studies around 1).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from truth import World, make_table

from analysis import pool
from analysis._meta import combine
from analysis._pool import PoolError
from analysis.pool import main

N_FAMILIES = 300  # simulated families per scenario (each: 4 metrics, Holm over them)
N_METRICS = 4
FWER_BOUND = 0.05 + 2.33 * math.sqrt(0.05 * 0.95 / N_FAMILIES)  # 5% plus a one-sided 99% MC error
COVERAGE_BOUND = 0.93


def _null_draws(n: int, rng: np.random.Generator, configs: int = 20, boots: int = 200):
    """``n`` studies' (log ratio, SE) when the true ratio is 1."""
    z = rng.normal(size=(n, configs, 2))
    ssvi = z[..., 0]
    dense = 0.6 * z[..., 0] + 0.8 * z[..., 1]
    y = np.log(ssvi.std(1, ddof=1) / dense.std(1, ddof=1))
    se = np.empty(n)
    for start in range(0, n, 500):
        block = slice(start, start + 500)
        m = ssvi[block].shape[0]
        idx = rng.integers(0, configs, size=(m, boots, configs))
        s = np.take_along_axis(np.broadcast_to(ssvi[block, None], idx.shape), idx, 2)
        d = np.take_along_axis(np.broadcast_to(dense[block, None], idx.shape), idx, 2)
        lo, hi = np.percentile(np.log(s.std(2, ddof=1) / d.std(2, ddof=1)), [2.5, 97.5], 1)
        se[block] = (hi - lo) / (2 * 1.959964)
    return y, se


@pytest.fixture(scope="module")
def null_draws() -> tuple[np.ndarray, np.ndarray]:
    return _null_draws(N_FAMILIES * N_METRICS * 5, np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.parametrize("tau", [0.0, 0.2])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_pooled_calibration(null_draws: tuple[np.ndarray, np.ndarray], k: int, tau: float) -> None:
    y0, se0 = null_draws
    rng = np.random.default_rng(10 * k + int(100 * tau))
    n = N_FAMILIES * N_METRICS * k
    pick = rng.choice(y0.size, n)
    theta = rng.normal(0.0, tau, n) if tau else np.zeros(n)
    families = [f"r{r}" for r in range(N_FAMILIES)]
    effects = pd.DataFrame(
        {
            "family": np.repeat(families, N_METRICS * k),
            "metric": np.tile(np.repeat([f"m{j}" for j in range(N_METRICS)], k), N_FAMILIES),
            "scope": "overall",
            "line": "",
            "study": np.tile([f"s{i}" for i in range(k)], N_FAMILIES * N_METRICS),
            "arm": "ssvi@0.1",
            "effect": theta + y0[pick],
            "se": se0[pick],
            "note": "",
        }
    )
    margin = (-math.log(1.25), math.log(1.25))
    out = combine(effects, dict.fromkeys(families, margin))
    false = out.groupby("family")["verdict"].apply(lambda v: bool((v != "none").any()))
    covered = (out["ci_low"] <= 0) & (out["ci_high"] >= 0)
    assert false.mean() <= FWER_BOUND, (k, tau, false.mean())
    assert covered.mean() >= COVERAGE_BOUND, (k, tau, covered.mean())


def test_combine_matches_hand_computation() -> None:
    """Two studies, no heterogeneity: the inverse-variance mean, HK scale floored at 1."""
    effects = pd.DataFrame(
        {
            "family": "sensitivity",
            "metric": "accuracy",
            "scope": "overall",
            "line": "",
            "study": ["a", "b"],
            "arm": "ssvi@0.1",
            "effect": [0.1, 0.12],
            "se": [0.1, 0.2],
            "note": "",
        }  # fmt: skip
    )
    out = combine(effects, {"sensitivity": (-0.2, 0.2)}).iloc[0]
    w = np.array([100.0, 25.0])
    mu = (w * [0.1, 0.12]).sum() / w.sum()
    assert out["effect"] == pytest.approx(mu)
    assert out["tau2"] == 0.0
    assert out["se"] == pytest.approx(1 / math.sqrt(w.sum()))  # HK scale < 1: floored
    half = 12.706204736 * out["se"]  # t(1) 97.5%
    assert out["ci_high"] - out["ci_low"] == pytest.approx(2 * half, rel=1e-6)
    assert out["verdict"] == "none" and out["practical"] == "inconclusive"
    assert math.isnan(out["pi_low"])  # a prediction interval needs three studies


@pytest.fixture(scope="module")
def two_tables() -> dict[str, pd.DataFrame]:
    return {"a": make_table(World(), seed=0), "b": make_table(World(effect=1.5), seed=1)}


def test_pool_end_to_end(two_tables: dict[str, pd.DataFrame]) -> None:
    pooled = pool(two_tables, n_boot=300)
    sens = pooled.summary[pooled.summary["family"] == "sensitivity"].set_index("metric")
    assert list(sens.index) == ["accuracy", "nll", "ece", "ood_auroc"]
    assert (sens["n_studies"] == 2).all()
    assert ((sens["ratio_low"] < sens["ratio"]) & (sens["ratio"] < sens["ratio_high"])).all()
    studies = pooled.studies[pooled.studies["family"] == "sensitivity"]
    per = studies.groupby("metric")["weight"].sum()
    assert np.allclose(per, 1.0)
    # the pooled estimate lies between the two studies' log ratios
    for m, row in sens.iterrows():
        ys = studies.loc[studies["metric"] == m, "effect"]
        assert ys.min() - 1e-12 <= row["effect"] <= ys.max() + 1e-12
    assert set(sens["verdict"]) <= {"less", "none", "more"}


def test_pool_refuses_a_study_without_a_metric(two_tables: dict[str, pd.DataFrame]) -> None:
    no_ood = two_tables["b"].assign(test_ood_auroc=np.nan)
    with pytest.raises(PoolError, match="has no OOD AUROC values") as info:
        pool({"a": two_tables["a"], "b": no_ood}, n_boot=50)
    assert "\n" not in str(info.value)
    with pytest.raises(PoolError, match="at least 2"):
        pool({"a": two_tables["a"]}, n_boot=50)


def test_pool_command(
    two_tables: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = []
    for name, table in two_tables.items():
        (tmp_path / name).mkdir()
        table.to_csv(tmp_path / name / "results.csv", index=False)
        folders.append(str(tmp_path / name))
    out = tmp_path / "out"
    assert main([*folders, "--out", str(out), "--n-boot", "200"]) == 0
    for name in ("pooled.csv", "pooled.md", "pooled_studies.csv", "forest_accuracy.png"):
        assert (out / name).stat().st_size > 100
    assert "margin [0.80, 1.25]" in (out / "pooled.md").read_text()
    capsys.readouterr()
    assert main([folders[0], str(tmp_path / "missing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_pool_never_imports_torch() -> None:
    code = "import analysis.pool, sys; assert not {'torch','ray','ssvi'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
