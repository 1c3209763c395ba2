"""The dataset registry: names, the facts known without loading, and ``load_dataset``, which asks
a family for its pool and carves the seeded validation split from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ssvi.data import _cifar, _digits, _mnist1d, _synthetic
from ssvi.data._base import DatasetInfo, DatasetSplits, RawDataset
from ssvi.enums import StrEnum


class DatasetName(StrEnum):
    DIGITS = "digits"
    DIGITS5 = "digits5"
    CIFAR10 = "cifar10"
    CIFAR100 = "cifar100"
    MNIST1D = "mnist1d"
    SYNTHETIC = "synthetic"


DATASETS: tuple[str, ...] = tuple(d.value for d in DatasetName)

# The one registry of dataset facts (studies estimate costs and label rows from it); each family
# keeps its entries next to its loader.
DATASET_INFO: dict[str, DatasetInfo] = {
    **_digits.INFO,
    **_synthetic.INFO,
    **_cifar.INFO,
    **_mnist1d.INFO,
}

# How each dataset's pool is loaded, from (data_dir, download); keyword arguments reach
# ``synthetic`` only (load_dataset refuses them for the others).
_LOADERS: dict[DatasetName, Callable[..., RawDataset]] = {
    DatasetName.DIGITS: lambda data_dir, download: _digits.load_pool(five_classes=False),
    DatasetName.DIGITS5: lambda data_dir, download: _digits.load_pool(five_classes=True),
    DatasetName.CIFAR10: lambda data_dir, download: _cifar.load_pool("cifar10", data_dir, download),
    DatasetName.CIFAR100: lambda data_dir, download: _cifar.load_pool(
        "cifar100", data_dir, download
    ),
    DatasetName.MNIST1D: lambda data_dir, download: _mnist1d.load_pool(data_dir),
    DatasetName.SYNTHETIC: lambda data_dir, download, **kwargs: _synthetic.load_pool(**kwargs),
}

# The validation split does not depend on the run seed: every run of a study (and a re-run of any
# of its trials with `ssvi train`) trains and validates on the same examples.
SPLIT_SEED = 0


def load_dataset(
    name: str,
    data_dir: str | Path = "data",
    val_fraction: float = 0.1,
    seed: int = 0,
    download: bool = True,
    **synthetic_kwargs: Any,
) -> DatasetSplits:
    """Load a dataset by name into tensors (on the CPU; use ``.to(device)``).

    Args:
        name: one of ``DATASETS``.
        data_dir: where torchvision datasets live (SVHN under ``data_dir/svhn``) and where the
            generated MNIST-1D arrays are cached (``data_dir/mnist1d``).
        val_fraction: fraction of the training pool held out as validation set, in [0, 1).
        seed: seed of the train/validation split (the test set never depends on it).
        download: whether torchvision may download missing files.
        **synthetic_kwargs: only for ``synthetic``: ``shape=(3, 32, 32)``, ``num_classes=10``,
            ``n_train=1024``, ``n_test=256``, ``noise=1.0``, ``data_seed=0``.

    Returns:
        The normalised splits.

    Raises:
        ValueError: unknown name, bad ``val_fraction`` or stray keyword arguments.
        DatasetUnavailableError: torchvision files missing and not downloadable, or the
            ``mnist1d`` package (the MNIST-1D generator) not installed.
    """
    dataset = DatasetName.parse(name, "dataset")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if synthetic_kwargs and dataset is not DatasetName.SYNTHETIC:
        raise ValueError(
            f"keyword arguments {sorted(synthetic_kwargs)} only apply to the 'synthetic' dataset"
        )
    raw = _LOADERS[dataset](Path(data_dir), download, **synthetic_kwargs)

    n = len(raw.train_y)
    n_val = round(val_fraction * n)
    if n_val >= n:
        raise ValueError(f"val_fraction {val_fraction} leaves no training examples out of {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    # Sorted so both parts keep the pool's order; only membership depends on the seed.
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    return DatasetSplits(
        train_x=raw.train_x[train_idx],
        train_y=raw.train_y[train_idx],
        val_x=raw.train_x[val_idx],
        val_y=raw.train_y[val_idx],
        test_x=raw.test_x,
        test_y=raw.test_y,
        ood_x=raw.ood_x,
        num_classes=raw.num_classes,
        augment=raw.augment,
        name=dataset.value,
    )
