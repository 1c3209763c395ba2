"""The comparisons behind the verdicts' rows: configuration SD, seed SD and divergence.

Each returns a ``Comparison``, a finished comparison before the family-wise correction
(``analysis._verdict_rows``): the two methods' statistics, the bootstrap draws (or interval) it
was decided on, and its p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis import _variance as var
from analysis._exact import mcnemar_p, newcombe_interval
from analysis._pairs import Paired


@dataclass(frozen=True)
class Comparison:
    """A finished comparison before the family-wise correction."""

    point: tuple[float, float]  # SSVI, dense VI (statistic units)
    draws: tuple[np.ndarray, ...]  # (2, B) draws of the statistic per test; interval: union
    p_value: float
    paired: Paired
    note: str = ""
    units: int | None = None  # configurations (or levels) compared, when not the pairs'


def _with_zero(x: np.ndarray) -> np.ndarray:
    """A single method's draws, with dense VI's 0 as the second row."""
    return np.vstack([x[:1], np.zeros_like(x[:1])]) if x.shape[0] == 1 else x


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
    frames = [_with_zero(var.fixed_draws(summary, n_boot, rng)[0])]
    if resample:
        frames.append(_with_zero(var.cluster_draws(summary, n_boot, rng)[0]))
    ps = [var.two_sided_p(d[0] - d[1]) for d in frames]
    p = float("nan") if note or any(x != x for x in ps) else max(ps)
    draws = tuple(var.sd(d) for d in frames)
    point_ = (float(point[0]), float(point[1]))
    return Comparison(point_, draws, p, paired, note, units=summary.n_configs)


def seed_noise(paired: Paired, n_boot: int, rng: np.random.Generator) -> Comparison:
    summary = var.summarize(paired.values)
    _, seed_var = var.estimate(summary)
    note = "" if summary.df >= 2 else "too few seeds: no configuration has two usable seeds"
    _, cluster = var.cluster_draws(summary, n_boot, rng)
    _, fixed = var.fixed_draws(summary, n_boot, rng)
    p = np.nan
    ps = [var.two_sided_p(cluster[0] - cluster[1]), var.two_sided_p(fixed[0] - fixed[1])]
    if not note and not any(x != x for x in ps):
        p = max(ps)
    sd = np.sqrt(seed_var)
    return Comparison(
        (float(sd[0]), float(sd[1])), (np.sqrt(cluster), np.sqrt(fixed)), p, paired, note
    )


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
    return Comparison((float(rates[0]), float(rates[1])), (interval,), p, paired, note)


def _too_few(summary: var.Summary, minimum: int) -> str:
    if summary.n_configs < minimum:
        return f"too few configurations for a verdict ({summary.n_configs} < {minimum})"
    if summary.df < 2:
        return "too few seeds for a verdict (a configuration needs two usable seeds)"
    return ""
