"""Cost estimate of a trial without loading its data: torch's FLOP counter on a dummy batch."""

from __future__ import annotations

import functools
from typing import Any

import torch

from ssvi.config import make_config
from ssvi.data import DATASET_INFO
from ssvi.flops import profile_flops
from ssvi.layers import convert_to_bayesian
from ssvi.models import create_model
from ssvi.subspace import SparseSubspace


@functools.lru_cache(maxsize=64)
def _train_flops_per_image(
    model: str, dataset: str, density: float, distribution: str, width: int | None
) -> float:
    shape, classes, _ = DATASET_INFO[dataset]
    net = convert_to_bayesian(create_model(model, shape, classes, width))
    SparseSubspace(net, density, distribution)
    return profile_flops(net, torch.zeros(2, *shape)).train_step


def estimate_trial(run: dict[str, Any]) -> tuple[float, float]:
    """(training FLOPs, training images) of one trial's run config."""
    cfg = make_config(run)
    pool = DATASET_INFO[cfg.dataset].train_pool
    images = float(cfg.epochs * round(pool * (1 - cfg.val_fraction)))
    per_image = _train_flops_per_image(
        cfg.model, cfg.dataset, cfg.density, cfg.distribution, cfg.width
    )
    return per_image * images, images
