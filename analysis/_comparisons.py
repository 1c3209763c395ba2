"""The comparisons behind the verdicts' rows: configuration SD, seed SD and divergence.

Each returns a ``Comparison``, a finished comparison before the family-wise correction
(``analysis._verdict_rows``): the two methods' statistics, the bootstrap draws (or interval) it
was decided on, and its p-value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis import _variance as var
from analysis._exact import mcnemar_p, newcombe_interval
from analysis._fixed_bootstrap import fixed_pieces
from analysis._pairs import Paired
from analysis._power import divergence_power, spread_power


@dataclass(frozen=True)
class Comparison:
    """A finished comparison before the family-wise correction.

    ``p_value`` and ``direction`` come from the same draws as the interval (``_tails``): the
    p-value is below 5% only when the interval excludes 0, on the direction's side.
    ``detectable`` maps the family's most stringent Holm level to the smallest difference the
    test detects with 80% power there, computed under the alternative (``analysis._power``).
    """

    point: tuple[float, float]  # SSVI, dense VI (statistic units)
    draws: tuple[np.ndarray, ...]  # (2, B) draws of the statistic per test; interval: union
    p_value: float
    paired: Paired
    note: str = ""
    units: int | None = None  # configurations (or levels) compared, when not the pairs'
    direction: str = ""  # "less" or "more": the side of 0 the tests' draws lie on
    detectable: Callable[[float], float] | None = None


def _with_zero(x: np.ndarray) -> np.ndarray:
    """A single method's draws, with dense VI's 0 as the second row."""
    return np.vstack([x[:1], np.zeros_like(x[:1])]) if x.shape[0] == 1 else x


def _tails(frames: list[np.ndarray]) -> tuple[float, str]:
    """Intersection-union p-value and direction from each test's ``(2, B)`` draws of the SDs.

    The clipped SDs are compared, as in the interval and the point estimate. Each test gives a
    one-sided p per direction (share of draws on the other side of 0, ties counted on both,
    with Davison and Hinkley's +1); a direction holds when every test holds it, so its p is the
    largest of the tests'; the two-sided p is twice the smaller direction's, at most 1.
    """
    less, more = [], []
    for d in frames:
        diff = d[0] - d[1]
        diff = diff[~np.isnan(diff)]
        if diff.size == 0:
            return float("nan"), ""
        less.append((int((diff >= 0).sum()) + 1) / (diff.size + 1))
        more.append((int((diff <= 0).sum()) + 1) / (diff.size + 1))
    p_less, p_more = max(less), max(more)
    direction = "less" if p_less < p_more else "more" if p_more < p_less else ""
    return float(min(1.0, 2 * min(p_less, p_more))), direction


def config_sd_test(
    summary: var.Summary,
    paired: Paired,
    n_boot: int,
    rng: np.random.Generator,
    minimum: int,
    resample: bool,
) -> Comparison:
    """SSVI's configuration SD against dense VI's (or against 0 for a single method).

    ``resample``: the configurations are a sample (or spread over designs): the difference must
    also hold when they are resampled, an intersection-union test whose interval is the union
    of its tests' intervals. Otherwise (a one-at-a-time sweep, a grid axis) only seeds vary.
    """
    config_var, _ = var.estimate(summary)
    point = _with_zero(var.sd(config_var)[:, None])[:, 0]
    note = _too_few(summary, minimum)
    pieces = [fixed_pieces(summary, n_boot, rng)]
    if resample:
        pieces.append(var.cluster_pieces(summary, n_boot, rng))
    draws = tuple(_with_zero(var.sd(d.config_var())) for d in pieces)
    p, direction = _tails(list(draws))
    point_ = (float(point[0]), float(point[1]))
    if note:
        p = float("nan")
    dense = point_[1] if summary.mean.shape[0] > 1 else None
    detect = spread_power(pieces, "config_sd", dense)
    return Comparison(point_, draws, p, paired, note, summary.n_configs, direction, detect)


def seed_noise(paired: Paired, n_boot: int, rng: np.random.Generator) -> Comparison:
    """Pooled within-configuration SDs, configurations resampled and fixed (intersection-union
    test, as ``config_sd_test`` with ``resample``)."""
    summary = var.summarize(paired.values)
    _, seed_var = var.estimate(summary)
    note = "" if summary.df >= 2 else "too few seeds: no configuration has two usable seeds"
    pieces = [var.cluster_pieces(summary, n_boot, rng), fixed_pieces(summary, n_boot, rng)]
    draws = tuple(np.sqrt(d.seed_var()) for d in pieces)
    p, direction = _tails(list(draws))
    sd = np.sqrt(seed_var)
    point = (float(sd[0]), float(sd[1]))
    if note:
        p = float("nan")
    detect = spread_power(pieces, "seed_sd", point[1], fixed=1)
    return Comparison(point, draws, p, paired, note, None, direction, detect)


def divergence(paired: Paired) -> Comparison:
    """Exact McNemar test over the pairs both methods ran; Newcombe's hybrid score interval for
    the difference of paired proportions (Newcombe 1998, method 10), honest with no event."""
    div = paired.diverged > 0
    n = div.shape[1]
    both = int((div[0] & div[1]).sum())
    b = int((div[0] & ~div[1]).sum())  # SSVI diverged, dense VI did not
    c = int((div[1] & ~div[0]).sum())
    rates = div.mean(axis=1)
    low, high = newcombe_interval(both, b, c, n - both - b - c)
    p = mcnemar_p(b, c)
    note = f"{b} pairs where only SSVI diverged, {c} where only dense VI did, of {n}"
    interval = np.array([[low], [high]])
    direction = "more" if b > c else "less" if c > b else ""
    point = (float(rates[0]), float(rates[1]))
    return Comparison(
        point, (interval,), p, paired, note, None, direction, divergence_power(n, b, c)
    )


def _too_few(summary: var.Summary, minimum: int) -> str:
    if summary.n_configs < minimum:
        return f"too few configurations for a verdict ({summary.n_configs} < {minimum})"
    if summary.df < 2:
        return "too few seeds for a verdict (a configuration needs two usable seeds)"
    return ""
