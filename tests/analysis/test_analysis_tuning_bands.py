"""Median tuning curves with opda's bands: simultaneous coverage over the k the figure shows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis._tuning import k_values
from analysis._tuning_bands import median_tuning_curve

REPS = 1000
BOUND = 0.95 - 2.33 * math.sqrt(0.95 * 0.05 / REPS)  # 95% less a one-sided 99% MC error


@pytest.mark.parametrize(
    ("n", "dist", "higher", "lower", "upper"),
    [
        (20, stats.beta(5, 2), True, 0.0, 1.0),  # accuracy-like, 20 random configurations
        (60, stats.lognorm(0.5, scale=0.3), False, 0.0, np.inf),  # NLL-like, minimised
    ],
)
def test_band_covers_the_true_median_tuning_curve(
    n: int, dist: stats.rv_continuous, higher: bool, lower: float, upper: float
) -> None:
    ks = k_values(n)
    truth = dist.ppf(0.5 ** (1 / ks) if higher else 1 - 0.5 ** (1 / ks))
    rng = np.random.default_rng(n)
    covered = 0
    for _ in range(REPS):
        y = dist.rvs(size=n, random_state=rng)
        _, low, high = median_tuning_curve(y, ks, higher_is_better=higher, lower=lower, upper=upper)
        covered += bool(np.all((low <= truth) & (truth <= high)))
    assert covered / REPS >= BOUND, covered / REPS


def test_median_curve_is_the_order_statistic() -> None:
    y = np.arange(1.0, 11.0)
    point, low, high = median_tuning_curve(y, np.array([1, 10]), upper=11.0)
    # k = 1: the (lower) median; k = 10: the 0.5^(1/10) = 0.933 quantile, the 10th value
    assert point.tolist() == [5.0, 10.0]
    assert (low <= point).all() and (point <= high).all()
    again = median_tuning_curve(y, np.array([1, 10]), upper=11.0)
    assert all(np.array_equal(a, b) for a, b in zip((point, low, high), again, strict=True))
