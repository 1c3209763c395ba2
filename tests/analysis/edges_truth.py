"""Edge-design tables whose working ranges are known.

Accuracy along a knob falls as a sigmoid of log10(knob) from ``top`` to chance (10 classes)
at each planted edge (``EdgeWorld``); every run draws its own edge around the planted one
(``jitter`` decades: runs near an edge scatter, as the local study's SSVI did at initial sigma
0.3) plus a little measurement noise, and past an upper edge runs diverge (scored at chance by
the analysis). The values probed are those of an edge search as the ``edge`` design runs it:
from the base value 10x steps outward until a method's seed-averaged accuracy is below its
collapse line or the bound is reached, then bisection on the log scale until each method's
collapse and tolerance edges are bracketed within 2x; every value runs both methods and every
seed. Knobs: initial sigma (an upper edge; nothing fails below) and learning rate (a lower and
an upper edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from analysis_synthetic import BASE, build_table

CHANCE = 0.1
KNOBS = {  # base value, hard bounds
    "init_sigma": (1e-3, (1e-5, 3.0)),
    "lr": (0.05, (1e-4, 10.0)),
}
BASE_CONFIG = {**BASE, **{knob: base for knob, (base, _) in KNOBS.items()}}


@dataclass(frozen=True)
class EdgeWorld:
    """Planted edges (knob units) per method; ``None``: no edge on that side."""

    dense: dict[str, tuple[float | None, float | None]]
    ssvi: dict[str, tuple[float | None, float | None]]
    top: float = 0.97
    scale: float = 0.12  # decades of the sigmoid
    jitter: float = 0.06  # decades: each run's own edge
    noise: float = 0.004  # accuracy
    diverge: float = 0.5  # probability that a run past its upper edge diverges
    n_seeds: int = 3


EQUAL = {"init_sigma": (None, 0.2), "lr": (2e-3, 1.0)}
NULL = EdgeWorld(dense=EQUAL, ssvi=EQUAL)
# SSVI tolerates a 3x (half a decade) larger initial sigma
FURTHER = EdgeWorld(dense=EQUAL, ssvi={**EQUAL, "init_sigma": (None, 0.6)})


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _runs(world: EdgeWorld, method: str, knob: str, value: float, rng: np.random.Generator):
    """``(accuracy, diverged)`` of every seed of one method at one value."""
    low, high = (world.ssvi if method == "ssvi" else world.dense)[knob]
    n = world.n_seeds
    x = math.log10(value)
    alive = np.ones(n)
    diverged = np.zeros(n, dtype=bool)
    if low is not None:
        edge = math.log10(low) + world.jitter * rng.normal(size=n)
        alive *= _sigmoid((x - edge) / world.scale)
    if high is not None:
        edge = math.log10(high) + world.jitter * rng.normal(size=n)
        past = _sigmoid((x - edge) / world.scale)
        alive *= 1 - past
        diverged = rng.random(n) < world.diverge * past
    acc = CHANCE + (world.top - CHANCE) * alive + world.noise * rng.normal(size=n)
    return np.clip(acc, 0.0, 1.0), diverged


def _search(world: EdgeWorld, knob: str, at_base: dict, rng: np.random.Generator) -> dict:
    """The values an edge search probes, with every method's runs at each (``at_base``: the
    runs of the base configuration)."""
    base, (bound_low, bound_high) = KNOBS[knob]
    probed: dict[float, dict] = {float(f"{base:.6g}"): at_base}

    def run(value: float) -> None:
        key = float(f"{value:.6g}")
        if key not in probed:
            probed[key] = {m: _runs(world, m, knob, key, rng) for m in ("dense_vi", "ssvi")}

    def mean(value: float, method: str) -> float:
        acc, div = probed[value][method]
        return float(np.where(div, CHANCE, acc).mean())

    def lines(method: str) -> dict[str, float]:
        b = mean(float(f"{base:.6g}"), method)
        return {"collapse": (b + CHANCE) / 2, "tolerance": b - 0.02}

    for step in (0.1, 10.0):
        value = base
        while bound_low < value < bound_high:
            value = float(f"{min(max(value * step, bound_low), bound_high):.6g}")
            run(value)
            if any(mean(value, m) < lines(m)["collapse"] for m in probed[value]):
                break
    for method in ("dense_vi", "ssvi"):
        for line in ("collapse", "tolerance"):
            for side in (-1, 1):
                _bisect(probed, run, mean, method, lines(method)[line], base, side)
    return probed


def _bisect(probed, run, mean, method: str, line: float, base: float, side: int) -> None:
    """Bisect (log scale) the bracket of ``method``'s crossing of ``line`` on one side until
    it is within 2x."""
    while True:
        values = sorted(v for v in probed if (v - base) * side > 0)
        values = values if side > 0 else values[::-1]
        previous = float(f"{base:.6g}")
        bracket = None
        for v in values:
            if mean(v, method) < line:
                bracket = (previous, v)
                break
            previous = v
        if bracket is None or max(bracket) / min(bracket) <= 2.0:
            return
        run(math.sqrt(bracket[0] * bracket[1]))


def make_edge_table(world: EdgeWorld = NULL, seed: int = 0, design: str = "edge") -> pd.DataFrame:
    """An edge-design results table drawn from ``world``."""
    rng = np.random.default_rng(seed)
    records: list[dict[str, object]] = []
    first = next(iter(KNOBS))
    at_base = {m: _runs(world, m, first, KNOBS[first][0], rng) for m in ("dense_vi", "ssvi")}
    for knob, (base, _) in KNOBS.items():
        for value, methods in sorted(_search(world, knob, at_base, rng).items()):
            is_base = math.isclose(value, base)
            if is_base and knob != first:
                continue  # the base configuration is one configuration, its rows written once
            for method, (acc, div) in methods.items():
                for s in range(world.n_seeds):
                    records.append(
                        {
                            "design": design,
                            "method": method,
                            "config_id": "base" if is_base else f"{knob}={value:.6g}",
                            "oat_param": "base" if is_base else knob,
                            "is_default": is_base,
                            **BASE_CONFIG,
                            knob: value,
                            "seed": s,
                            "status": "diverged" if div[s] else "completed",
                            "test_accuracy": np.nan if div[s] else float(acc[s]),
                        }
                    )
    return build_table(records)
