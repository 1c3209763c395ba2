"""Datasets as in-memory tensors, one module per dataset family behind one registry.

Every dataset is small enough to live entirely in memory (and on the GPU), as in airbench: no
DataLoader, no worker processes, no CPU round trip per batch (``ssvi.batches`` iterates them on
their device). ``load_dataset(name)`` returns a ``DatasetSplits`` with train / validation / test /
out-of-distribution (OOD) tensors, already normalised. The validation set is always carved from
the training set by a seeded random split; the test set never depends on the run seed.

Datasets (``DATASETS``; what is known without loading them is in ``DATASET_INFO``):

- ``digits``, ``digits5``: scikit-learn's 8x8 handwritten digits (``_digits.py``);
- ``mnist1d``: MNIST-1D, generated and cached (``_mnist1d.py``);
- ``cifar10``, ``cifar100``: torchvision's CIFAR with SVHN as OOD set (``_cifar.py``);
- ``synthetic``: Gaussian prototypes plus noise, for tests and smoke runs (``_synthetic.py``).

The registry and the validation split are in ``_registry.py``; the types and the download lock
that the families share are in ``_base.py``.
"""

from ssvi.data._base import (
    LOCK_NAME,
    DatasetInfo,
    DatasetSplits,
    DatasetUnavailableError,
)
from ssvi.data._mnist1d import MNIST1D_ARGS, mnist1d_cache_path
from ssvi.data._registry import (
    DATASET_INFO,
    DATASETS,
    SPLIT_SEED,
    DatasetName,
    load_dataset,
)

__all__ = [
    "DATASETS",
    "DATASET_INFO",
    "LOCK_NAME",
    "MNIST1D_ARGS",
    "SPLIT_SEED",
    "DatasetInfo",
    "DatasetName",
    "DatasetSplits",
    "DatasetUnavailableError",
    "load_dataset",
    "mnist1d_cache_path",
]
