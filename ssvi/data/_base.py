"""What every dataset family shares: the splits a run receives, the pool a family loads, the
facts known without loading, the unavailable-dataset error and the per-node download lock."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

import torch
from filelock import FileLock
from torch import Tensor

LOCK_NAME = ".ssvi-download.lock"


class DatasetUnavailableError(RuntimeError):
    """A dataset's files are missing (or corrupted) and could not be downloaded."""


class DatasetInfo(NamedTuple):
    """What is known of a dataset without loading it."""

    input_shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    train_pool: int  # training examples before the validation split


@dataclass
class DatasetSplits:
    """A dataset held as tensors: inputs float32 ``[N, C, H, W]`` normalised, labels int64."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor  # carved from the training set (val_fraction), never from test
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor
    ood_x: Tensor  # out-of-distribution inputs, same shape and normalisation
    num_classes: int
    augment: bool  # random crop (pad 4) + horizontal flip on training batches
    name: str

    def to(self, device: torch.device | str) -> DatasetSplits:
        """Return a copy with every tensor moved to ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return replace(self, **moved)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of one input."""
        c, h, w = self.train_x.shape[1:]
        return (int(c), int(h), int(w))


class RawDataset(NamedTuple):
    """A dataset as its family loads it, normalised, before ``load_dataset`` carves validation."""

    train_x: Tensor  # the whole training pool, before the validation split
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    ood_x: Tensor
    num_classes: int
    augment: bool


def download_lock(data_dir: Path) -> contextlib.AbstractContextManager[object]:
    """A lock file in ``data_dir`` so one process per node downloads and unpacks at a time."""
    with contextlib.suppress(OSError):
        data_dir.mkdir(parents=True, exist_ok=True)
    if data_dir.is_dir() and os.access(data_dir, os.W_OK):
        return FileLock(str(data_dir / LOCK_NAME))
    # A read-only shared data directory: nobody can download into it, so there is nothing to
    # serialise; missing files are reported by the family's loader.
    return contextlib.nullcontext()
