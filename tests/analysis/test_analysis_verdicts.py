"""verdicts(): known answers on hand-built tables, pairing, exclusions and Holm's correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_synthetic import build_table
from scipy import stats
from truth import World, make_table

from analysis import sentence, verdicts
from analysis._verdicts import COLUMNS

N_CONFIGS, OFFSETS = 8, (-0.002, 0.0, 0.002)


def paired_table(ssvi: np.ndarray, dense: np.ndarray, **per_row: object) -> pd.DataFrame:
    """Config c{i}: SSVI mean ``ssvi[i]``, dense VI ``dense[i]``; seeds add ``OFFSETS``."""
    records = []
    for method, means in (("ssvi", ssvi), ("dense_vi", dense)):
        for i, mean in enumerate(means):
            for seed, off in enumerate(OFFSETS):
                records.append(
                    {
                        "method": method,
                        "config_id": f"c{i}",
                        "seed": seed,
                        "kl_weight": 10.0 ** -(i % 4),
                        "test_accuracy": mean + off,
                        "is_default": i == 0,
                        **per_row,
                    }
                )
    return build_table(records)


def overall(v: pd.DataFrame, metric: str = "accuracy") -> pd.Series:
    rows = v[(v["scope"] == "overall") & (v["metric"] == metric)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_a_method_that_varies_is_more_sensitive_than_a_constant_one() -> None:
    spread = np.linspace(0.80, 0.95, N_CONFIGS)
    v = verdicts(paired_table(spread, np.full(N_CONFIGS, 0.9)), metrics=("accuracy",))
    assert list(v.columns) == COLUMNS
    row = overall(v)
    # the configuration SD, by hand: the seeds' spread (1e-5 / 3 per mean) is removed
    expected = np.sqrt(spread.var(ddof=1) - np.var(OFFSETS, ddof=1) / 3)
    assert row["ssvi"] == pytest.approx(expected, rel=1e-9)
    assert row["dense_vi"] == 0.0
    assert row["verdict"] == "more" and row["ci_low"] > 0
    assert row["n_configs"] == N_CONFIGS and row["n_pairs"] == 3 * N_CONFIGS
    assert "more sensitive than dense VI" in sentence(row) and "95% CI" in sentence(row)
    reverse = overall(
        verdicts(paired_table(np.full(N_CONFIGS, 0.9), spread), metrics=("accuracy",))
    )
    assert reverse["verdict"] == "less" and reverse["difference"] == pytest.approx(-expected)


def test_seed_noise_alone_is_not_sensitivity() -> None:
    rng = np.random.default_rng(0)
    records = []
    for i in range(12):
        for s in range(3):
            for method, sd in (("ssvi", 0.03), ("dense_vi", 0.003)):
                records.append(
                    {"method": method, "config_id": f"c{i}", "seed": s,
                     "test_accuracy": 0.9 + sd * rng.normal()}
                )  # fmt: skip
    v = verdicts(build_table(records), metrics=("accuracy",))
    assert overall(v)["verdict"] == "none"
    noise = v[v["scope"] == "seed_noise"].iloc[0]
    assert noise["verdict"] == "more" and noise["ratio"] > 5
    assert "noisier from seed to seed" in sentence(noise)


def test_a_diverged_run_drops_its_pair_from_both_methods() -> None:
    spread = np.linspace(0.80, 0.95, N_CONFIGS)
    table = paired_table(spread, spread)
    hit = (table["method"] == "ssvi") & (table["config_id"] == "c3") & (table["seed"] == 1)
    table.loc[hit, "status"] = "diverged"
    table.loc[hit, "test_accuracy"] = np.nan
    base = verdicts(table, metrics=("accuracy",))
    row = overall(base)
    assert row["n_pairs"] == 3 * N_CONFIGS - 1 and row["n_dropped"] == 1
    # dense VI's run of that pair is not used: changing it changes nothing
    partner = (table["method"] == "dense_vi") & (table["config_id"] == "c3") & (table["seed"] == 1)
    moved = table.copy()
    moved.loc[partner, "test_accuracy"] = 0.1
    pd.testing.assert_frame_equal(verdicts(moved, metrics=("accuracy",)), base)
    divergence = base[base["scope"] == "divergence"].iloc[0]
    assert divergence["ssvi"] == pytest.approx(1 / 24) and divergence["dense_vi"] == 0.0
    assert divergence["p_value"] == pytest.approx(stats.binomtest(1, 1, 0.5).pvalue)
    assert divergence["ci_low"] <= divergence["difference"] <= divergence["ci_high"]
    chance = overall(verdicts(table, metrics=("accuracy",), diverged="chance"))
    assert chance["n_dropped"] == 0 and chance["ssvi"] > row["ssvi"]


def test_ssvi_only_knobs_are_ssvi_s_own_family_and_legacy_pairs_are_excluded() -> None:
    table = make_table(World(removal_effect=0.03, legacy_random=True), seed=3)
    v = verdicts(table, seed=1, metrics=("accuracy",))
    own = v[v["family"] == "ssvi_only"].set_index("scope")
    assert set(own.index) == {
        "ssvi_only",
        "ssvi_only:removal",
        "ssvi_only:addition",
        "ssvi_only:update_interval",
    }
    assert (own["dense_vi"] == 0).all()
    assert own.loc["ssvi_only:removal", "verdict"] == "more"
    # the legacy random design varied SSVI-only knobs for both methods: left out of the pairs
    assert overall(v)["n_configs"] == 9 + 4  # the grid and the new one-at-a-time points
    shared = v[v["family"] == "sensitivity"]
    assert set(shared["scope"]) == {"overall", "kl_weight", "init_sigma"}


def test_too_few_configurations_say_so() -> None:
    spread = np.linspace(0.80, 0.95, 3)
    row = overall(verdicts(paired_table(spread, spread[::-1]), metrics=("accuracy",)))
    assert row["verdict"] == "none" and np.isnan(row["p_value"])
    assert "too few configurations" in row["note"]
    one_seed = paired_table(np.linspace(0.8, 0.9, 6), np.full(6, 0.9))
    one_seed = one_seed[one_seed["seed"] == 0]
    assert "too few seeds" in overall(verdicts(one_seed, metrics=("accuracy",)))["note"]


def test_holm_adjusts_within_each_family() -> None:
    v = verdicts(make_table(World(effect=0.6), seed=4), seed=0, n_boot=500)
    for _, part in v.groupby("family"):
        p = part["p_value"].dropna().to_numpy()
        order = np.argsort(p, kind="stable")
        m = p.size
        expected = np.minimum(1, np.maximum.accumulate(p[order] * (m - np.arange(m))))
        np.testing.assert_allclose(part["p_holm"].dropna().to_numpy()[order], expected)
    significant = v["p_holm"] < 0.05
    assert (v.loc[significant, "verdict"] != "none").all()
    assert (v.loc[~significant, "verdict"] == "none").all()
    # a verdict's interval always excludes zero
    called = v[v["verdict"] != "none"]
    assert ((called["ci_low"] > 0) | (called["ci_high"] < 0)).all()


def test_same_seed_same_answer() -> None:
    table = make_table(World(), seed=5)
    a = verdicts(table, seed=7, n_boot=300)
    pd.testing.assert_frame_equal(a, verdicts(table, seed=7, n_boot=300))
    with pytest.raises(ValueError, match="exclude"):
        verdicts(table, diverged="drop")


def test_a_density_sweep_is_ssvi_s_own_knob_and_never_a_shared_arm() -> None:
    # the sweep's points share the base configuration's id (density is not part of it)
    world = World(density_sweep=(0.05, 0.2, 0.5), density_effect=0.05)
    v = verdicts(make_table(world, seed=6), seed=0, metrics=("accuracy",))
    assert set(v["arm"]) == {"ssvi@0.1"}  # no arm of one configuration in the headline
    density = v[v["scope"] == "ssvi_only:density"].iloc[0]
    assert density["n_configs"] == 4 and density["n_pairs"] == 12  # 0.05, 0.1, 0.2, 0.5
    assert density["verdict"] == "more" and density["ssvi"] > 0.02
    assert overall(v)["n_configs"] == 25


def test_a_grid_axis_level_averages_over_the_other_axis() -> None:
    # grid only: kl_weight's levels span initial sigma, which moves SSVI's accuracy a lot and
    # dense VI's not at all; both methods have the same kl_weight effect. The other axis must
    # count neither as kl_weight's effect nor as seed noise: equal configuration SDs.
    rng = np.random.default_rng(0)
    kl_effect = {0.01: 0.0, 0.1: -0.01, 1.0: -0.04}
    sigma_effect = {1e-4: -0.03, 1e-3: 0.0, 1e-2: 0.03}
    records = []
    for kl, a in kl_effect.items():
        for sigma, b in sigma_effect.items():
            for s in range(3):
                for method, other in (("ssvi", b), ("dense_vi", 0.0)):
                    records.append(
                        {"method": method, "design": "grid", "config_id": f"{kl}-{sigma}",
                         "kl_weight": kl, "init_sigma": sigma, "seed": s,
                         "test_accuracy": 0.9 + a + other + 0.002 * rng.normal()}
                    )  # fmt: skip
    v = verdicts(build_table(records), metrics=("accuracy",))
    row = v[v["scope"] == "kl_weight"].iloc[0]
    assert row["source"] == "grid" and row["n_configs"] == 3
    truth = np.std(list(kl_effect.values()), ddof=1)
    assert row["ssvi"] == pytest.approx(truth, rel=0.1)
    assert row["dense_vi"] == pytest.approx(truth, rel=0.1)
    assert row["verdict"] == "none"


def test_no_divergence_still_has_an_honest_interval() -> None:
    from analysis._exact import newcombe_interval

    low, high = newcombe_interval(0, 0, 0, 75)  # the Wilson bound of 0 events in 75
    assert high == pytest.approx(3.84 / (75 + 3.84), rel=0.01) and low == pytest.approx(-high)
    # coverage of the paired difference by simulation: 75 pairs, rare and correlated events
    rng = np.random.default_rng(0)
    for p_both, p_first, p_second in ((0.0, 0.03, 0.0), (0.02, 0.05, 0.01), (0.1, 0.1, 0.1)):
        probs = [p_both, p_first, p_second, 1 - p_both - p_first - p_second]
        truth = p_first - p_second
        tables = rng.multinomial(75, probs, size=2000)
        covered = [newcombe_interval(*t)[0] <= truth <= newcombe_interval(*t)[1] for t in tables]
        assert np.mean(covered) >= 0.93, probs


def test_a_detectable_beyond_what_the_metric_can_show_is_not_reported() -> None:
    """An SD of a metric in [0, 1] is at most 0.5: a power calculation that needs more (one very
    noisy level) says n/a; an unbounded metric (NLL) keeps its figure."""
    import pandas as pd

    from analysis._verdict_rows import COLUMNS, holm

    rows = []
    for metric, needed in [("accuracy", 0.8), ("accuracy", 0.02), ("nll", 0.8)]:
        row = dict.fromkeys(COLUMNS, float("nan"))
        row.update(family="ssvi_only", metric=metric, p_value=0.5, difference=0.01,
                   ci_low=0.0, ci_high=0.03, _direction="more", _tests=None,
                   _detect=lambda level, x=needed: x)  # fmt: skip
        rows.append(row)
    out = holm(pd.DataFrame(rows), alpha=0.05)
    assert out["detectable"].isna().tolist() == [True, False, False]
    assert out["detectable"].iloc[1:].tolist() == [0.02, 0.8]
