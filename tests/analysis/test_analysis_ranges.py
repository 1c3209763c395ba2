"""Working ranges (``analysis.working_ranges``) and the ``range`` family of ``verdicts``:
known answers, and calibration on simulated edge searches (``edges_truth``)."""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest
from analysis_synthetic import build_table
from edges_truth import CHANCE, FURTHER, NULL, EdgeWorld, make_edge_table
from matplotlib.figure import Figure
from scipy import stats
from truth import World, make_table

from analysis import plot_working_ranges, sentence, verdicts, working_ranges
from analysis._verdicts import COLUMNS

BASE_SIGMA = 1e-3


def _curve(points: dict[float, list[float]], method: str = "ssvi", **extra) -> list[dict]:
    """Edge-design records along initial sigma: value -> per-seed accuracy (NaN: diverged)."""
    out = []
    for value, accs in points.items():
        base = math.isclose(value, BASE_SIGMA)
        for seed, acc in enumerate(accs):
            out.append(
                {
                    "design": "edge",
                    "method": method,
                    "config_id": "base" if base else f"s{value:g}",
                    "oat_param": "base" if base else "init_sigma",
                    "is_default": base,
                    "init_sigma": value,
                    "seed": seed,
                    "status": "diverged" if acc != acc else "completed",
                    "test_accuracy": acc,
                    **extra,
                }
            )
    return out


def _get(r: pd.DataFrame, line: str, side: str, arm: str = "ssvi@0.1") -> pd.Series:
    sel = r[(r["arm"] == arm) & (r["line"] == line) & (r["side"] == side)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_an_exactly_linear_crossing_gives_the_known_edge() -> None:
    points = {1e-4: [0.9] * 3, 1e-3: [0.9] * 3, 1e-2: [0.9] * 3, 1e-1: [0.3] * 3, 1.0: [0.1] * 3}
    r = working_ranges(build_table(_curve(points)), metrics=("accuracy",), n_boot=200)
    collapse = _get(r, "collapse", "upper")  # line (0.9 + 0.1) / 2 = 0.5: 2/3 of the way
    assert collapse["edge"] == pytest.approx(10 ** (-2 + 2 / 3))
    assert collapse["line_value"] == pytest.approx(0.5)
    assert collapse["ci_low"] == pytest.approx(collapse["edge"])  # no seed noise
    tolerance = _get(r, "tolerance", "upper")  # line 0.88: 0.02 / 0.6 of the way
    assert tolerance["edge"] == pytest.approx(10 ** (-2 + 1 / 30))
    lower = _get(r, "collapse", "lower")
    assert lower["censored"] and np.isnan(lower["edge"]) and lower["probed_min"] == 1e-4
    assert collapse["width_decades"] == pytest.approx(2 + 2 / 3)  # from the probed 1e-4
    assert collapse["width_censored"]
    # a wider tolerance
    r = working_ranges(build_table(_curve(points)), metrics=("accuracy",), delta=0.3, n_boot=9)
    assert _get(r, "tolerance", "upper")["edge"] == pytest.approx(10 ** (-2 + 0.5))


def test_no_crossing_is_censored_never_extrapolated() -> None:
    points = {1e-4: [0.9, 0.91, 0.9], 1e-3: [0.9, 0.9, 0.91], 1e-2: [0.89, 0.9, 0.9]}
    r = working_ranges(build_table(_curve(points)), metrics=("accuracy",), n_boot=200)
    assert r["censored"].all() and r["edge"].isna().all()
    assert np.allclose(r["width_decades"], 2.0) and r["width_censored"].all()


def test_diverged_runs_fail_and_rows_in_both_designs_count_once() -> None:
    points = {1e-3: [0.9] * 3, 1e-2: [0.9] * 3, 1e-1: [float("nan")] * 3}
    records = _curve(points)
    again = [{**r, "design": "oat"} for r in records if r["oat_param"] == "base"]
    r = working_ranges(build_table(records + again), metrics=("accuracy",), n_boot=50)
    collapse = _get(r, "collapse", "upper")  # the diverged runs are at chance (1/10)
    assert collapse["edge"] == pytest.approx(10 ** (-2 + 0.4 / 0.8))
    assert collapse["n_runs"] == 9 and collapse["n_diverged"] == 3
    assert collapse["source"] == "oat,edge"


def test_lower_is_better_metrics_fail_upwards() -> None:
    nll = {1e-3: 0.3, 1e-2: 0.3, 1e-1: 2.3}  # chance: log 10 = 2.30
    records = [{**r, "test_nll": nll[r["init_sigma"]]} for r in _curve({v: [0.9] * 3 for v in nll})]
    r = working_ranges(build_table(records), metrics=("nll",), n_boot=50)
    collapse = _get(r, "collapse", "upper")
    line = (0.3 + math.log(10)) / 2
    assert collapse["line_value"] == pytest.approx(line)
    assert collapse["edge"] == pytest.approx(10 ** (-2 + (line - 0.3) / 2.0))
    assert _get(r, "tolerance", "upper")["line_value"] == pytest.approx(0.35)


def test_edge_rows_are_not_in_the_spread_verdicts() -> None:
    table = make_table(World(), seed=4)
    edges = make_edge_table(NULL, seed=4)
    both = pd.concat([table, edges], ignore_index=True)
    before = verdicts(table, n_boot=200)
    after = verdicts(both, n_boot=200)
    assert list(after.columns) == COLUMNS
    spread = after[after["family"] != "range"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        spread, before[before["family"] != "range"].reset_index(drop=True)
    )
    ranges = after[after["family"] == "range"]
    assert set(ranges["line"]) == {"collapse", "tolerance"} and set(ranges["metric"]) == {
        "accuracy"
    }
    assert (spread["line"] == "").all()
    for _, row in ranges.iterrows():
        assert "working range along" in sentence(row)


def test_an_edge_only_one_method_reaches_is_a_bound() -> None:
    # SSVI keeps working up to the probed 1.0; dense VI collapses at 0.1
    flat = {1e-3: [0.9] * 3, 1e-2: [0.9] * 3, 1e-1: [0.9] * 3, 1.0: [0.9] * 3}
    falls = {1e-3: [0.9, 0.91, 0.9], 1e-2: [0.9, 0.9, 0.89], 1e-1: [0.2, 0.1, 0.15], 1.0: [0.1] * 3}
    table = build_table(_curve(flat) + _curve(falls, "dense_vi"))
    v = verdicts(table, metrics=("accuracy",), n_boot=500)
    collapse = v[(v["family"] == "range") & (v["line"] == "collapse")].iloc[0]
    assert collapse["verdict"] == "less" and collapse["difference"] > 0.5
    assert "SSVI reaches no edge above 1" in collapse["note"]
    # the same bound never supports "more": dense VI's curve flat, SSVI's falling
    table = build_table(_curve(falls) + _curve(flat, "dense_vi"))
    v = verdicts(table, metrics=("accuracy",), n_boot=500)
    assert (v.loc[v["family"] == "range", "verdict"] != "less").all()
    assert (v.loc[v["family"] == "range", "verdict"] == "more").any()


def test_intervals_cover_the_known_edge() -> None:
    world = EdgeWorld(dense=NULL.dense, ssvi=NULL.ssvi, diverge=0.0)
    truth = _true_collapse_edge(world, 0.2)
    covered = []
    for seed in range(40):
        r = working_ranges(make_edge_table(world, seed=seed), metrics=("accuracy",), n_boot=400)
        edge = _get(r[r["knob"] == "init_sigma"], "collapse", "upper", "dense_vi")
        covered.append(edge["ci_low"] <= truth <= edge["ci_high"])
    print(f"coverage of the collapse edge {truth:.3f}: {np.mean(covered):.2f} of {len(covered)}")
    assert np.mean(covered) >= 0.8, np.mean(covered)


def _true_collapse_edge(world: EdgeWorld, planted: float) -> float:
    """Where the expected accuracy (over the runs' own edges) crosses half-way to chance."""
    z, w = np.polynomial.hermite_e.hermegauss(61)
    w = w / w.sum()

    def expected(log_x: float) -> float:
        edge = math.log10(planted) + world.jitter * z
        alive = 1 - 1 / (1 + np.exp(-(log_x - edge) / world.scale))
        return float(CHANCE + (world.top - CHANCE) * (w * alive).sum())

    line = (expected(math.log10(BASE_SIGMA)) + CHANCE) / 2
    low, high = math.log10(planted) - 1, math.log10(planted) + 1
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if expected(mid) > line else (low, mid)
    return 10**low


def test_the_figure_has_a_panel_per_knob() -> None:
    fig = plot_working_ranges(make_edge_table(FURTHER, seed=1))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="one-at-a-time"):
        plot_working_ranges(build_table([{"method": "ssvi"}, {"method": "dense_vi"}]))


# ---- calibration ----------------------------------------------------------------------------
REPLICATES = 200
N_BOOT = 1000


def _one(args: tuple[EdgeWorld, int]) -> pd.DataFrame:
    world, seed = args
    v = verdicts(make_edge_table(world, seed=seed), metrics=("accuracy",), seed=seed, n_boot=N_BOOT)
    return v.assign(replicate=seed)


def _simulate(world: EdgeWorld) -> pd.DataFrame:
    with ProcessPoolExecutor(max_workers=2) as pool:
        jobs = [(world, 5000 + r) for r in range(REPLICATES)]
        return pd.concat(pool.map(_one, jobs, chunksize=20), ignore_index=True)


@pytest.mark.slow
def test_equal_edges_rarely_give_a_range_verdict() -> None:
    start = time.perf_counter()
    results = _simulate(NULL)
    fired = results.groupby("replicate")["verdict"].apply(lambda v: (v != "none").any())
    n, k = len(fired), int(fired.sum())
    upper = stats.binomtest(k, n).proportion_ci(0.95, method="exact").high
    print(f"family-wise false verdicts: {k}/{n}, 95% upper bound {upper:.3f}, "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    assert (results.groupby("replicate").size() == 4).all()  # 2 knobs x 2 lines
    assert stats.binomtest(k, n, 0.05, alternative="greater").pvalue >= 0.01, (k, n)


@pytest.mark.slow
def test_an_edge_3x_further_out_is_found() -> None:
    start = time.perf_counter()
    results = _simulate(FURTHER)
    hit = results[(results["scope"] == "init_sigma") & (results["line"] == "collapse")]
    power = float((hit["verdict"] == "less").mean())
    wrong = int((results["verdict"] == "more").sum())
    equal = results[results["scope"] == "lr"]
    print(f"power {power:.3f} of {len(hit)}, wrong direction {wrong}, "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    assert power >= 0.8
    assert wrong == 0
    assert (equal["verdict"] == "none").mean() >= 0.95  # the knob whose edges are equal
