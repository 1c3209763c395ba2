"""Study presets: the base run configuration, seeds and hyperparameter ranges of each design.

``local`` is the embedded default (bundled digits data, small MLP, sized so that the whole main
job finishes in a few minutes on a 2-core machine); ``cifar10`` and ``cifar100`` follow the SSVI
reference recipe (ResNet-18, 200 epochs) and are sized for a GPU cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Hyperparameters a study varies (run-config field names). SSVI_ONLY ones mean nothing to dense VI,
# so one-at-a-time sweeps over them run SSVI only.
HYPERPARAMETERS = (
    "kl_weight", "init_sigma", "removal", "addition", "update_interval", "density", "alpha",
    "prior_std", "lr",
)  # fmt: skip
SSVI_ONLY = ("removal", "addition", "update_interval", "alpha", "density")
LOG_SCALED = ("kl_weight", "init_sigma", "update_interval", "prior_std", "lr")
DESIGNS = ("grid", "oat", "random", "tune")


@dataclass(frozen=True)
class Preset:
    """Everything a study of one dataset needs besides the design choice."""

    name: str
    base: dict[str, Any]  # run-config values shared by every trial
    densities: tuple[float, ...]  # SSVI densities (dense VI at 1.0 is always added)
    seeds: tuple[int, ...]
    grid: dict[str, tuple[Any, ...]]  # the two hyperparameters of the `grid` design
    oat: dict[str, tuple[Any, ...]]  # one-at-a-time sweep values (the base value included)
    random_space: dict[
        str, tuple[Any, ...]
    ]  # ("log", lo, hi) | ("uniform", lo, hi) | ("choice", ...)
    random_samples: int  # configurations of the `random` design
    tune_trials: int  # Optuna trials per method of the `tune` design
    designs: tuple[str, ...]  # what runs when --design is not given
    gpu_images_per_s: float  # training throughput assumed by --dry-run's GPU-hour estimate
    checkpoint_every: int  # epochs between trial checkpoints
    oat_extra: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # --oat-all adds these


_SPACE: dict[str, tuple[Any, ...]] = {
    "kl_weight": ("log", 1e-3, 3.0),
    "init_sigma": ("log", 1e-5, 3e-2),
    "removal": ("choice", "mean", "snr", "e_abs", "snr_abs", "e_exp_abs", "snr_exp_abs"),
    "addition": ("choice", "grad", "random"),
    "update_interval": ("choice", 5, 10, 25, 50, 100),
}

LOCAL = Preset(
    name="local",
    base=dict(dataset="digits", model="mlp", epochs=15, batch_size=64, lr=0.05, kl_weight=0.1,
              init_sigma=1e-3, prior_std=0.1, update_interval=25, eval_samples=5, device="cpu"),
    densities=(0.1,),
    seeds=(0, 1, 2),
    grid={"kl_weight": (0.01, 0.1, 1.0), "init_sigma": (1e-4, 1e-3, 1e-2)},
    oat={
        "kl_weight": (0.01, 0.03, 0.1, 0.3, 1.0),
        "init_sigma": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
        "removal": ("mean", "snr", "e_abs", "snr_abs", "e_exp_abs", "snr_exp_abs"),
        "addition": ("grad", "random"),
        "update_interval": (5, 10, 25, 50, 100),
    },
    oat_extra={"density": (0.05, 0.1, 0.2, 0.5), "alpha": (0.1, 0.3, 0.5),
               "prior_std": (0.01, 0.1, 1.0), "lr": (0.01, 0.05, 0.2)},
    random_space=_SPACE,
    random_samples=12,
    tune_trials=12,
    designs=("grid", "oat", "random"),
    gpu_images_per_s=50_000.0,
    checkpoint_every=15,  # trials take seconds: only the final state (mid-trial ones cost ~5%)
)  # fmt: skip

_CIFAR_BASE = dict(
    epochs=200, batch_size=128, lr=0.01, kl_weight=0.01, init_sigma=6e-4, prior_std=0.005,
    update_interval=100, eval_samples=10, model="resnet18",
)  # fmt: skip


def _cifar(name: str) -> Preset:
    return Preset(
        name=name,
        base=dict(dataset=name, **_CIFAR_BASE),
        densities=(0.1,),
        seeds=(0, 1, 2),
        grid={"kl_weight": (1e-3, 1e-2, 1e-1, 1.0), "init_sigma": (6e-5, 6e-4, 6e-3)},
        oat={
            "kl_weight": (1e-3, 1e-2, 1e-1, 1.0),
            "init_sigma": (6e-5, 2e-4, 6e-4, 2e-3, 6e-3),
            "removal": ("mean", "snr", "e_abs", "snr_abs", "e_exp_abs", "snr_exp_abs"),
            "addition": ("grad", "random"),
            "update_interval": (25, 50, 100, 200, 400),
        },
        oat_extra={"density": (0.05, 0.1, 0.2), "alpha": (0.1, 0.3, 0.5),
                   "prior_std": (0.001, 0.005, 0.05), "lr": (0.003, 0.01, 0.03)},
        random_space=_SPACE,
        random_samples=24,
        tune_trials=40,
        designs=("grid", "oat"),
        gpu_images_per_s=8_300.0,  # measured: plain fp32 loop, ResNet-18 LRT, batch 128 (H200)
        checkpoint_every=5,
    )  # fmt: skip


PRESETS: dict[str, Preset] = {
    "local": LOCAL,
    "cifar10": _cifar("cifar10"),
    "cifar100": _cifar("cifar100"),
}
