"""Saturation: one method's values piled against a ceiling (or floor) the other's are not.

A method whose runs sit at the metric's best attainable value (accuracy near 100%, ECE near 0,
or a cap such as a test set the method classifies perfectly but for a few fixed examples) has a
smaller spread across configurations *because* of the cap: a verdict that it is less sensitive
(or less noisy) is then true of the capped metric but an artefact of the bound. This module
flags it, for a verdict's ``note`` and the report's sentence.

A method's pile-up is the larger of two shares of its runs: those within the metric's tolerance
(1 point of accuracy, 0.01 of ECE or AUROC, 0.02 nats) of the metric's bound, and those tied
with its own best run (a point mass at the top: a cap the metric's bound does not show, such as
values clipped at 0.99). Continuous values on a plateau tie rarely; a cap makes many runs equal.
A comparison is flagged when one method's pile-up is at least ``SHARE`` and at least ``FACTOR``
times the other's.
"""

from __future__ import annotations

import numpy as np

from analysis._schema import Metric

SHARE = 0.25  # at least this share of one method's runs at the ceiling
FACTOR = 2.0  # and at least this many times the other method's share
TIE = 1e-9  # runs within this of the best run are tied with it


def pile_up(values: np.ndarray, metric: Metric) -> np.ndarray:
    """Each arm's share of runs at its ceiling (see the module doc).

    Args:
        values: ``(K, C, S)`` paired seed values (``analysis._pairs.Paired.values``).
    """
    sign = 1.0 if metric.higher_is_better else -1.0
    bound = metric.upper if metric.higher_is_better else 0.0  # lower is better: floor 0
    shares = np.zeros(values.shape[0])
    for k, arm in enumerate(values):
        runs = sign * arm[np.isfinite(arm)]
        if runs.size == 0:
            continue
        tied = np.mean(runs >= runs.max() - TIE)
        near = np.mean(runs >= sign * bound - metric.tolerance) if bound is not None else 0.0
        shares[k] = max(float(tied), float(near))
    return shares


def saturation_note(values: np.ndarray, metric: Metric, arms: tuple[str, ...]) -> str:
    """A note when one arm's values pile up at the ceiling and the other's do not; else ""."""
    shares = pile_up(values, metric)
    if shares.size != 2:
        return ""
    hi, lo = (0, 1) if shares[0] >= shares[1] else (1, 0)
    if shares[hi] < SHARE or shares[hi] < FACTOR * shares[lo]:
        return ""
    name = ["dense VI" if a == "dense_vi" else "SSVI" for a in arms]
    edge = "ceiling" if metric.higher_is_better else "floor"
    return (
        f"{name[hi]}'s runs pile up at a {edge} ({shares[hi]:.0%} of them at the metric's "
        f"bound or tied with its best run, {shares[lo]:.0%} of {name[lo]}'s): its smaller "
        "spread may be an artefact of the bound (saturation)"
    )
