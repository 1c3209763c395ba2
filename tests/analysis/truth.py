"""Results tables whose truth is known, shaped like the ``local`` preset's study.

The design is the local preset's: a 3x3 grid over KL weight x initial sigma, one-at-a-time sweeps
(KL weight and initial sigma for both methods; removal, addition and update interval for SSVI
only), a random sample of the shared knobs for both methods and one of SSVI's own knobs for SSVI
only, every configuration with 3 seeds. The response surfaces follow what the local study
measured on the digits (accuracy flat up to a KL weight of about 0.3, then falling; NLL and ECE
rising with the KL weight; seed SDs of about 0.3 accuracy points); a ``World`` says how SSVI
differs from dense VI, which is the truth the analysis must find.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

BASE = {
    "kl_weight": 0.1,
    "init_sigma": 1e-3,
    "prior_std": 0.1,
    "lr": 0.05,
    "update_interval": 25,
    "alpha": 0.3,
    "removal": "snr_abs",
    "addition": "grad",
}
GRID = {"kl_weight": (0.01, 0.1, 1.0), "init_sigma": (1e-4, 1e-3, 1e-2)}
OAT_SHARED = {"kl_weight": (0.01, 0.03, 0.3, 1.0), "init_sigma": (1e-4, 3e-4, 3e-3, 1e-2)}
OAT_SSVI = {
    "removal": ("mean", "snr", "e_abs", "e_exp_abs", "snr_exp_abs"),
    "addition": ("random",),
    "update_interval": (5, 10, 50, 100),
}
SSVI_ONLY = "removal,addition,update_interval,alpha,density"
SEED_SD = {"accuracy": 0.0033, "nll": 0.007, "ece": 0.0035, "ood_auroc": 0.009}
COLUMNS = [
    "study", "design", "dataset", "model", "trial_id", "method", "config_id", "oat_param",
    "is_default", "density", "kl_weight", "init_sigma", "removal", "addition", "update_interval",
    "alpha", "prior_std", "lr", "seed", "status", "epochs_completed", "val_accuracy", "val_nll",
    "val_ece", "val_brier", "test_accuracy", "test_nll", "test_ece", "test_brier",
    "test_ood_auroc", "test_ood_aupr", "test_accuracy_mean_weights", "train_flops",
    "inference_flops", "active_params", "model_bytes", "wall_time_s", "node", "git_rev",
    "ssvi_only", "num_classes",
]  # fmt: skip


@dataclass(frozen=True)
class World:
    """How SSVI differs from dense VI.

    Attributes:
        effect: SSVI's configuration effect of the shared knobs, as a multiple of dense VI's.
        noise: SSVI's seed SD, as a multiple of dense VI's.
        random_divergences: this many SSVI runs of paired configurations diverge, at random.
        diverge_above: SSVI runs with a KL weight at or above this diverge with probability
            ``diverge_rate`` (``inf``: never).
        removal_effect: accuracy lost by SSVI with the ``mean`` removal score (a quarter of it
            with ``snr``): an effect of a knob dense VI does not have.
        legacy_random: the random design varies SSVI's own knobs too, for both methods (how
            studies were planned before the shared/SSVI-only split).
        density_sweep: SSVI densities of a one-at-a-time density sweep (``--all-knobs``);
            ``density_effect``: accuracy SSVI loses at a density below 0.1.
        n_random, n_random_ssvi, n_seeds: sizes of the design.
        noisy_level: ``(knob, value)``: runs at that value have ``noisy_factor`` times the seed
            SD (SSVI's runs only, or both methods' with ``noisy_both``), the mean unchanged.
        designs: the designs the study ran.
    """

    effect: float = 1.0
    noise: float = 1.0
    random_divergences: int = 0
    diverge_above: float = math.inf
    diverge_rate: float = 1.0
    removal_effect: float = 0.0
    legacy_random: bool = False
    density_sweep: tuple[float, ...] = ()
    density_effect: float = 0.0
    n_random: int = 12
    n_random_ssvi: int = 10
    n_seeds: int = 3
    seed_sd: dict[str, float] = field(default_factory=lambda: dict(SEED_SD))
    noisy_level: tuple[str, object] | None = None
    noisy_factor: float = 1.0
    noisy_both: bool = False
    designs: tuple[str, ...] = ("grid", "oat", "random", "random_ssvi")


def _dense_surface(hp: dict[str, object]) -> dict[str, float]:
    kl = float(hp["kl_weight"])  # type: ignore[arg-type]
    sigma = math.log10(float(hp["init_sigma"]) / 1e-3)  # type: ignore[arg-type]
    soft = kl / (1 + 0.2 * kl)
    return {
        "accuracy": 0.973 - 0.15 * (1 - math.exp(-(kl**2) / 4)) - 0.002 * sigma**2,
        "nll": 0.09 + 0.4 * soft + 0.004 * sigma**2,
        "ece": 0.016 + 0.25 * soft,
        "ood_auroc": 0.975 + 0.025 * (1 - math.exp(-kl / 0.15)),
    }


REFERENCE = _dense_surface({"kl_weight": 1e-3, "init_sigma": 1e-3})


def _surface(hp: dict[str, object], ssvi: bool, world: World) -> dict[str, float]:
    dense = _dense_surface(hp)
    if not ssvi:
        return dense
    out = {k: REFERENCE[k] + world.effect * (v - REFERENCE[k]) for k, v in dense.items()}
    penalty = {"mean": 1.0, "snr": 0.25}.get(str(hp["removal"]), 0.0) * world.removal_effect
    out["accuracy"] -= penalty
    out["nll"] += 3 * penalty
    out["ece"] += penalty
    return out


BOTH, SSVI = (0.1, 1.0), (0.1,)


def _configs(world: World, rng: np.random.Generator):
    for kl in GRID["kl_weight"]:
        for sigma in GRID["init_sigma"]:
            yield "grid", "", {**BASE, "kl_weight": kl, "init_sigma": sigma}, BOTH
    yield "oat", "base", dict(BASE), BOTH
    for param, values in OAT_SHARED.items():
        for value in values:
            yield "oat", param, {**BASE, param: value}, BOTH
    for param, values in OAT_SSVI.items():
        for value in values:
            yield "oat", param, {**BASE, param: value}, SSVI
    for density in world.density_sweep:
        yield "oat", "density", dict(BASE), (density,)
    for _ in range(world.n_random):
        point = {
            **BASE,
            "kl_weight": float(f"{math.exp(rng.uniform(math.log(1e-3), math.log(3.0))):.3g}"),
            "init_sigma": float(f"{math.exp(rng.uniform(math.log(1e-5), math.log(3e-2))):.3g}"),
        }
        if world.legacy_random:
            point.update(_ssvi_knobs(rng))
        yield "random", "", point, BOTH
    for _ in range(world.n_random_ssvi):
        yield "random_ssvi", "", {**BASE, **_ssvi_knobs(rng)}, SSVI


def _ssvi_knobs(rng: np.random.Generator) -> dict[str, object]:
    removals = ("mean", "snr", "e_abs", "snr_abs", "e_exp_abs", "snr_exp_abs")
    return {
        "removal": removals[int(rng.integers(len(removals)))],
        "addition": ("grad", "random")[int(rng.integers(2))],
        "update_interval": (5, 10, 25, 50, 100)[int(rng.integers(5))],
        "alpha": float(f"{rng.uniform(0.1, 0.5):.3g}"),
    }


def config_id(hp: dict[str, object]) -> str:
    text = ",".join(f"{k}={hp[k]!r}" for k in sorted(hp))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def make_table(world: World = World(), seed: int = 0) -> pd.DataFrame:
    """One study's results table drawn from ``world`` (a different draw for every ``seed``)."""
    rng = np.random.default_rng(seed)
    trials = []
    for design, oat_param, hp, densities in _configs(world, rng):
        if design not in world.designs:
            continue
        is_default = all(hp[k] == BASE[k] for k in BASE) and oat_param != "density"
        for density in densities:
            for s in range(world.n_seeds):
                trials.append((design, oat_param, hp, is_default, density, s))
    shared_oat = ("base", *OAT_SHARED)
    paired = [  # SSVI trials of configurations dense VI also ran
        i
        for i, t in enumerate(trials)
        if t[4] == 0.1 and (t[0] in ("grid", "random") or (t[0] == "oat" and t[1] in shared_oat))
    ]
    random_div = set(rng.choice(paired, size=world.random_divergences, replace=False).tolist())
    rows = []
    for i, (design, oat_param, hp, is_default, density, s) in enumerate(trials):
        ssvi = density < 1
        diverged = ssvi and (
            i in random_div
            or (float(hp["kl_weight"]) >= world.diverge_above and rng.random() < world.diverge_rate)
        )
        rows.append(_row(design, oat_param, hp, is_default, density, s, diverged, world, rng, i))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(design, oat_param, hp, is_default, density, s, diverged, world, rng, i) -> list[object]:
    ssvi = density < 1
    truth = _surface(hp, ssvi, world)
    if ssvi and density < 0.1:
        truth["accuracy"] -= world.density_effect
    scale = world.noise if ssvi else 1.0
    if world.noisy_level is not None and (ssvi or world.noisy_both):
        knob, value = world.noisy_level
        scale *= world.noisy_factor if hp[knob] == value else 1.0
    v = {k: truth[k] + scale * world.seed_sd[k] * rng.normal() for k in truth}
    nan = float("nan")
    acc = v["accuracy"]
    metrics = [
        acc + 0.002 * rng.normal(), v["nll"], v["ece"], 1.02 - acc,
        acc, v["nll"], v["ece"], 1.02 - acc, v["ood_auroc"], v["ood_auroc"] - 0.02, acc - 0.002,
    ]  # fmt: skip
    if diverged:
        metrics = [nan] * len(metrics)
    return [
        "truth", design, "digits", "mlp", f"{design}-{i:04d}", "ssvi" if ssvi else "dense_vi",
        config_id(hp), oat_param, is_default, density, hp["kl_weight"], hp["init_sigma"],
        hp["removal"], hp["addition"], hp["update_interval"], hp["alpha"], hp["prior_std"],
        hp["lr"], s, "diverged" if diverged else "completed", 7 if diverged else 15, *metrics,
        1e11 * (density if ssvi else 1.0), 1e5 * density, int(5e4 * density), int(4e5 * density),
        5.0, "node", "rev", SSVI_ONLY, 10,
    ]  # fmt: skip
