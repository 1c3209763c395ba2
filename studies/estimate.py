"""Cost estimate of a trial without loading its data: torch's FLOP counter on a dummy batch."""

from __future__ import annotations

import functools
from typing import Any

import torch

from ssvi.config import make_config
from ssvi.flops import profile_flops
from ssvi.layers import convert_to_bayesian
from ssvi.models import create_model
from ssvi.subspace import SparseSubspace

# input shape, classes, training-pool size (before the validation split)
DATASET_INFO: dict[str, tuple[tuple[int, int, int], int, int]] = {
    "digits": ((1, 8, 8), 10, 1437),
    "digits5": ((1, 8, 8), 5, 719),
    "synthetic": ((3, 32, 32), 10, 1024),
    "cifar10": ((3, 32, 32), 10, 50_000),
    "cifar100": ((3, 32, 32), 100, 50_000),
}


@functools.lru_cache(maxsize=64)
def _train_flops_per_image(model: str, dataset: str, density: float, distribution: str) -> float:
    shape, classes, _ = DATASET_INFO[dataset]
    net = convert_to_bayesian(create_model(model, shape, classes))
    SparseSubspace(net, density, distribution)
    return profile_flops(net, torch.zeros(2, *shape)).train_step


def estimate_trial(run: dict[str, Any]) -> tuple[float, float]:
    """(training FLOPs, training images) of one trial's run config."""
    cfg = make_config(run)
    _, _, pool = DATASET_INFO[cfg.dataset]
    images = float(cfg.epochs * round(pool * (1 - cfg.val_fraction)))
    per_image = _train_flops_per_image(cfg.model, cfg.dataset, cfg.density, cfg.distribution)
    return per_image * images, images
