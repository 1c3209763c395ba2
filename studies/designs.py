"""Expand a design into an explicit list of trials: every configuration x every seed, both methods.

Ray Tune's own grid expansion re-samples random parameters per grid point (checked with Ray 2.60:
num_samples=20 with a 2-value grid gave 40 configurations, not 20 x 2), so the
studies build the full list of (configuration, method, seed) trials here and hand Tune one
``grid_search`` over that list: each configuration then really runs once per seed, and SSVI and
dense VI run the same configurations and seeds (paired by ``config_id`` and ``seed``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from typing import Any

import numpy as np

from ssvi.config import run_identity
from studies.presets import SSVI_ONLY, Preset

DENSE = 1.0


def config_id(run: dict[str, Any]) -> str:
    """Hash of the hyperparameters both methods share: the run's identity (see
    :func:`ssvi.config.run_identity`: execution settings and defaults left out) but density and
    seed."""
    shared = {k: v for k, v in run_identity(run).items() if k not in ("density", "seed")}
    return hashlib.sha1(json.dumps(shared, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _trial(design: str, run: dict[str, Any], oat_param: str, is_default: bool) -> dict[str, Any]:
    return {
        "design": design,
        "method": "dense_vi" if run["density"] >= DENSE else "ssvi",
        "config_id": config_id(run),
        "oat_param": oat_param,
        "is_default": is_default,
        "run": run,
    }


def _arms(preset: Preset, ssvi_only: bool = False) -> list[float]:
    return list(preset.densities) + ([] if ssvi_only else [DENSE])


def _expand(
    design: str,
    preset: Preset,
    base: dict[str, Any],
    point: dict[str, Any],
    oat_param: str = "",
    densities: list[float] | None = None,
) -> list[dict[str, Any]]:
    """One configuration (``base`` with ``point`` applied) at each density and seed."""
    is_default = all(base.get(k) == v for k, v in point.items())
    trials = []
    for density in densities if densities is not None else _arms(preset):
        for seed in preset.seeds:
            run = {**base, **point, "density": density, "seed": seed}
            trials.append(_trial(design, run, oat_param, is_default))
    return trials


def grid_design(preset: Preset, base: dict[str, Any]) -> list[dict[str, Any]]:
    """Full factorial over the preset's two grid hyperparameters."""
    (a, a_values), (b, b_values) = preset.grid.items()
    trials = []
    for va, vb in itertools.product(a_values, b_values):
        trials += _expand("grid", preset, base, {a: va, b: vb})
    return trials


def oat_design(preset: Preset, base: dict[str, Any], extra: bool = False) -> list[dict[str, Any]]:
    """The base configuration, then one hyperparameter at a time over its sweep values.

    Sweeps over SSVI-only hyperparameters (removal, addition, update_interval, alpha, density) run
    SSVI only: dense VI has no such knob. A density sweep varies the SSVI arm's density.
    """
    sweeps = {**preset.oat, **(preset.oat_extra if extra else {})}
    trials = _expand("oat", preset, base, {}, "base")
    for param, values in sweeps.items():
        for value in values:
            if param == "density":
                if value not in preset.densities:
                    trials += _expand("oat", preset, base, {}, "density", densities=[value])
                continue
            if base.get(param) == value:
                continue  # the base configuration already covers it
            arms = _arms(preset, ssvi_only=param in SSVI_ONLY)
            trials += _expand("oat", preset, base, {param: value}, param, densities=arms)
    return trials


def sample_space(space: dict[str, tuple[Any, ...]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` joint samples from ``space`` (log-uniform, uniform or categorical), seeded."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        point: dict[str, Any] = {}
        for name, (kind, *args) in space.items():
            if kind == "log":
                value: Any = float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
                point[name] = float(f"{value:.3g}")
            elif kind == "uniform":
                point[name] = float(f"{rng.uniform(args[0], args[1]):.3g}")
            else:
                choice = args[int(rng.integers(len(args)))]
                point[name] = choice.item() if hasattr(choice, "item") else choice
        samples.append(point)
    return samples


def shared_space(preset: Preset, extra: bool = False) -> dict[str, tuple[Any, ...]]:
    """The shared knobs' random space (``--all-knobs`` adds prior std and learning rate)."""
    return {**preset.random_space, **(preset.random_extra if extra else {})}


def random_design(
    preset: Preset, base: dict[str, Any], seed: int = 0, extra: bool = False
) -> list[dict[str, Any]]:
    """Joint random sampling of the shared knobs, for SSVI and dense VI on the same points.

    SSVI-only knobs stay at their base values: dense VI ignores them, so varying them here would
    credit SSVI's sensitivity to its own knobs to the shared ones (``random_ssvi`` samples them).
    """
    trials = []
    for point in sample_space(shared_space(preset, extra), preset.random_samples, seed):
        trials += _expand("random", preset, base, point)
    return trials


def random_ssvi_design(preset: Preset, base: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """Joint random sampling of SSVI's own knobs (shared knobs at their base values), SSVI only:
    SSVI's sensitivity to the knobs dense VI does not have, and their importance."""
    trials = []
    for point in sample_space(preset.ssvi_space, preset.ssvi_samples, seed):
        trials += _expand("random_ssvi", preset, base, point, densities=list(preset.densities))
    return trials


def expand_designs(
    designs: list[str], preset: Preset, base: dict[str, Any], all_knobs: bool = False
) -> list[dict[str, Any]]:
    """Trials of every requested design except ``tune`` (which Optuna samples itself)."""
    builders = {
        "grid": lambda: grid_design(preset, base),
        "oat": lambda: oat_design(preset, base, all_knobs),
        "random": lambda: random_design(preset, base, extra=all_knobs),
        "random_ssvi": lambda: random_ssvi_design(preset, base),
    }
    trials: list[dict[str, Any]] = []
    for design in designs:
        if design in builders:
            trials += builders[design]()
    for i, trial in enumerate(trials):
        trial["trial_key"] = f"{trial['design']}-{i:04d}-{trial['method']}-s{trial['run']['seed']}"
    return trials
