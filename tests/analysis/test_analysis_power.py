"""Seed noise that differs by level, and ``detectable`` (the configuration-SD rows' and the
divergence row's), measured on tables whose truth is known.

As ``test_analysis_calibration.py``: every replicate is a whole study table drawn from a
``truth.World`` and analysed by the real ``verdicts``, here on accuracy only (the rows these
tests read; fewer rows also make Holm's correction less strict, so the rates are if anything
higher than with four metrics) with 1,000 bootstrap draws. A rate "at most 5%" is one that an
exact binomial test of "rate <= 5%" does not reject at the 1% level; a power "at least 80%" one
that a test of "power >= 80%" does not reject at the 1% level (with 100 replicates: at least 71
hits).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest
from scipy import stats
from test_analysis_calibration import _at_most_5_percent, _family_rate
from truth import World, make_table

from analysis import verdicts


def _one(args: tuple[World, int]) -> pd.DataFrame:
    world, seed = args
    out = verdicts(make_table(world, seed=seed), seed=seed, n_boot=1000, metrics=("accuracy",))
    return out.assign(replicate=seed)


def _simulate(world: World, replicates: int, base: int = 2000) -> pd.DataFrame:
    jobs = [(world, base + r) for r in range(replicates)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        return pd.concat(pool.map(_one, jobs, chunksize=10), ignore_index=True)


def _at_least_80_percent(hits: int, n: int) -> bool:
    return stats.binomtest(hits, n, 0.8, alternative="less").pvalue >= 0.01


@pytest.mark.slow
@pytest.mark.parametrize(
    "world",
    [
        World(noisy_level=("kl_weight", 0.3), noisy_factor=5.0),  # SSVI's runs only
        World(noisy_level=("init_sigma", 1e-4), noisy_factor=5.0, noisy_both=True),
        World(noisy_level=("update_interval", 100), noisy_factor=5.0),  # SSVI-only knobs
        World(noisy_level=("removal", "mean"), noisy_factor=5.0),
    ],
    ids=["shared_knob_ssvi", "shared_knob_both", "ssvi_knob_interval", "ssvi_knob_removal"],
)
def test_seed_noise_that_differs_by_level_is_not_sensitivity(world: World) -> None:
    # one value of a knob has 5x the seed noise, its mean unchanged (issue 21, item 1: an
    # SSVI-only knob's value gave a false ssvi_only verdict in 8/120 and 9/120 studies with one
    # common seed-variance draw; with each level's own uncertainty, 5/120 and 7/120)
    results = _simulate(world, replicates=100)
    for family in ("sensitivity", "ssvi_only"):
        fired, n = _family_rate(results, family)
        assert _at_most_5_percent(fired, n), (family, fired, n)


@pytest.mark.slow
def test_the_divergence_row_s_detectable_has_its_power() -> None:
    null = _simulate(World(), replicates=2)
    row = null[null["scope"] == "divergence"]
    detectable = float(row["detectable"].iloc[0])  # 75 pairs, no divergence, level 0.05 / 2
    assert (row["detectable"] == detectable).all() and 0.10 < detectable < 0.16
    # every SSVI run diverges with that probability, dense VI's never
    results = _simulate(World(diverge_above=0.0, diverge_rate=detectable), replicates=100)
    rows = results[results["scope"] == "divergence"]
    more = int((rows["verdict"] == "more").sum())
    assert _at_least_80_percent(more, 100), (more, detectable)


def _overall(world: World, replicates: int, base: int) -> pd.DataFrame:
    results = _simulate(world, replicates, base)
    head = (results["scope"] == "overall") & (results["family"] == "sensitivity")
    return results[head]


MNIST1D_DESIGN = dict(n_random=6, n_random_ssvi=5, n_seeds=2)  # the mnist1d preset's shape


@pytest.mark.slow
@pytest.mark.parametrize("design", [{}, MNIST1D_DESIGN], ids=["local", "mnist1d"])
def test_the_configuration_sd_detectable_has_its_power(design: dict) -> None:
    """Issue 21, item 2: at a true difference equal to what identical methods' studies report
    as ``detectable`` (their median), the headline row finds it 80% of the time. Half the
    observed interval, the old figure, had 74% (local) and about 52% (mnist1d) there."""
    null = _overall(World(**design), 40, 3000)
    detectable = float(null["detectable"].median())
    # dense VI's true configuration SD over the design (the random configurations vary)
    quiet = World(**design, seed_sd={k: 1e-9 for k in World().seed_sd})
    dense_sd = float(_overall(quiet, 20, 3000)["dense_vi"].mean())
    assert 0.05 < detectable / dense_sd < 0.4, (detectable, dense_sd)
    effect = 1 - detectable / dense_sd  # SSVI's configuration SD that much smaller
    alternative = _overall(World(**design, effect=effect), 100, 4000)
    less = int((alternative["verdict"] == "less").sum())
    assert _at_least_80_percent(less, 100), (less, detectable, effect)
