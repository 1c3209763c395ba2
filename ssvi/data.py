"""Datasets as in-memory tensors, and a seeded minibatch iterator that runs on their device.

Every dataset is small enough to live entirely in memory (and on the GPU), as in airbench: no
DataLoader, no worker processes, no CPU round trip per batch. ``load_dataset(name)`` returns a
``DatasetSplits`` with train / validation / test / out-of-distribution (OOD) tensors, already
normalised. The validation set is always carved from the training set by a seeded random split;
the test set never depends on the run seed.

Datasets (``DATASETS``):

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 images, no download). A fixed
  stratified 80/20 train/test split (seed 0, independent of the run seed). Pixels 0..16 are
  scaled to [0, 1], then standardised by the mean/std of the 80% training pool. OOD inputs are
  the test images with their 64 pixels shuffled by one fixed permutation: this keeps the pixel
  intensity statistics exactly, so OOD detection cannot succeed on brightness alone, and
  destroys the digit shape.
- ``digits5``: the same images restricted to classes 0-4; OOD inputs are the test images of
  classes 5-9 (a near-OOD task: same style, unseen classes).
- ``cifar10`` / ``cifar100``: torchvision's CIFAR, standardised per channel with the usual
  training-set statistics; OOD inputs are the SVHN test split (``data_dir/svhn``), standardised
  with the same CIFAR statistics. Training batches use random crop (zero padding 4) and
  horizontal flip. Downloads take a file lock so processes sharing a node download once.
- ``mnist1d``: MNIST-1D (Greydanus 2020, "Scaling down deep learning"; the ``mnist1d`` package),
  generated procedurally (numpy/scipy, never downloaded) with the generator's default arguments
  except ``num_samples=10000`` and a fixed generator seed (42, its default): 10 classes (1000
  signals each), the generator's own split into 8000 training and 2000 test signals, each a
  length-40 signal held as ``(C, H, W) = (1, 1, 40)`` (one channel, one row; the ``cnn1d`` model
  convolves along W). The generated arrays are cached in ``data_dir/mnist1d/`` (written atomically
  under the download lock, so concurrent trials generate once). Signals are standardised by the
  mean/std of the 8000-signal training pool (the generator's own standardisation over all
  signals is affine, so it cancels). OOD inputs are the test signals with their 40 time steps
  shuffled by one fixed permutation, the transformation of the generator's ``shuffle_seq``
  variant: it keeps every signal's values, so OOD detection cannot succeed on amplitude alone,
  and destroys the local temporal structure that a convolutional model relies on (the paper's
  shuffled MNIST-1D, on which CNNs lose their advantage).
- ``synthetic``: seeded Gaussian class prototypes plus noise, of any shape; OOD inputs are pure
  noise. For tests and smoke runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import random
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import torch
from filelock import FileLock
from torch import Tensor

from ssvi.enums import StrEnum
from ssvi.io import atomic_write

__all__ = [
    "DATASETS",
    "DATASET_INFO",
    "DatasetInfo",
    "DatasetName",
    "DatasetSplits",
    "DatasetUnavailableError",
    "load_dataset",
]


class DatasetName(StrEnum):
    DIGITS = "digits"
    DIGITS5 = "digits5"
    CIFAR10 = "cifar10"
    CIFAR100 = "cifar100"
    MNIST1D = "mnist1d"
    SYNTHETIC = "synthetic"


DATASETS: tuple[str, ...] = tuple(d.value for d in DatasetName)


class DatasetInfo(NamedTuple):
    """What is known of a dataset without loading it."""

    input_shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    train_pool: int  # training examples before the validation split


# The one registry of dataset facts (studies estimate costs and label rows from it);
# ``synthetic`` at its defaults.
DATASET_INFO: dict[str, DatasetInfo] = {
    "digits": DatasetInfo((1, 8, 8), 10, 1437),
    "digits5": DatasetInfo((1, 8, 8), 5, 721),
    "synthetic": DatasetInfo((3, 32, 32), 10, 1024),
    "cifar10": DatasetInfo((3, 32, 32), 10, 50_000),
    "cifar100": DatasetInfo((3, 32, 32), 100, 50_000),
    "mnist1d": DatasetInfo((1, 1, 40), 10, 8000),
}

_DIGITS_SPLIT_SEED = 0  # fixed, so the digits test set is the same for every run seed
_DIGITS_OOD_SEED = 0  # the one pixel permutation that makes the digits OOD set
_CIFAR_STATS = {  # per-channel mean and std of the CIFAR training images, in [0, 1] units
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
# MNIST-1D generator arguments that differ from the package's defaults (get_dataset_args): 10,000
# signals, so the generator's 0.8 train split gives 8000 train / 2000 test (the package's own
# default of 5000 gives 4000 / 1000). seed is its default, fixed so every run sees the same data.
MNIST1D_ARGS = {"num_samples": 10_000, "seed": 42}
_MNIST1D_OOD_SEED = 0  # the one time-step permutation that makes the mnist1d OOD set
LOCK_NAME = ".ssvi-download.lock"


class DatasetUnavailableError(RuntimeError):
    """A dataset's files are missing (or corrupted) and could not be downloaded."""


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


class _Raw(NamedTuple):
    train_x: Tensor  # the whole training pool, before the validation split
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    ood_x: Tensor
    num_classes: int
    augment: bool


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
    if dataset in (DatasetName.DIGITS, DatasetName.DIGITS5):
        raw = _load_digits(five_classes=dataset is DatasetName.DIGITS5)
    elif dataset in (DatasetName.CIFAR10, DatasetName.CIFAR100):
        raw = _load_cifar(dataset.value, Path(data_dir), download)
    elif dataset is DatasetName.MNIST1D:
        raw = _load_mnist1d(Path(data_dir))
    else:
        raw = _load_synthetic(**synthetic_kwargs)

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


def _load_digits(five_classes: bool) -> _Raw:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.from_numpy(digits.images / 16.0).unsqueeze(1)  # float64 [N, 1, 8, 8]
    labels = torch.from_numpy(digits.target).long()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)),
        test_size=0.2,
        stratify=digits.target,
        random_state=_DIGITS_SPLIT_SEED,
    )
    train_idx, test_idx = torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))
    train_x, train_y = images[train_idx], labels[train_idx]
    test_x, test_y = images[test_idx], labels[test_idx]
    if five_classes:
        ood_x = test_x[test_y >= 5]
        train_x, train_y = train_x[train_y < 5], train_y[train_y < 5]
        test_x, test_y = test_x[test_y < 5], test_y[test_y < 5]
    else:
        pixel_perm = torch.randperm(64, generator=torch.Generator().manual_seed(_DIGITS_OOD_SEED))
        ood_x = test_x.flatten(1)[:, pixel_perm].reshape(test_x.shape)
    mean, std = train_x.mean(), train_x.std()

    def normalise(x: Tensor) -> Tensor:
        return ((x - mean) / std).float()

    num_classes = 5 if five_classes else 10
    return _Raw(
        normalise(train_x),
        train_y,
        normalise(test_x),
        test_y,
        normalise(ood_x),
        num_classes,
        augment=False,
    )


def _load_synthetic(
    shape: Sequence[int] = (3, 32, 32),
    num_classes: int = 10,
    n_train: int = 1024,
    n_test: int = 256,
    noise: float = 1.0,
    data_seed: int = 0,
) -> _Raw:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1 or num_classes < 2 or min(n_train, n_test) < 1:
        raise ValueError(
            "synthetic needs shape=(C, H, W) with positive sizes, num_classes >= 2 and "
            f"n_train, n_test >= 1; got shape={shape}, num_classes={num_classes}, "
            f"n_train={n_train}, n_test={n_test}"
        )
    gen = torch.Generator().manual_seed(data_seed)
    prototypes = torch.randn(num_classes, *shape, generator=gen)
    scale = math.sqrt(1.0 + noise**2)  # unit variance per pixel, like normalised images

    def sample(n: int) -> tuple[Tensor, Tensor]:
        y = torch.randint(0, num_classes, (n,), generator=gen)
        return (prototypes[y] + noise * torch.randn(n, *shape, generator=gen)) / scale, y

    train_x, train_y = sample(n_train)
    test_x, test_y = sample(n_test)
    ood_x = torch.randn(n_test, *shape, generator=gen)
    return _Raw(train_x, train_y, test_x, test_y, ood_x, num_classes, augment=False)


def _load_mnist1d(data_dir: Path) -> _Raw:
    arrays = _mnist1d_arrays(data_dir)

    def signals(x: np.ndarray) -> Tensor:  # [N, length] -> [N, C=1, H=1, W=length], float64
        return torch.from_numpy(np.asarray(x, dtype=np.float64)).reshape(len(x), 1, 1, -1)

    train_x, test_x = signals(arrays["x"]), signals(arrays["x_test"])
    gen = torch.Generator().manual_seed(_MNIST1D_OOD_SEED)
    time_perm = torch.randperm(train_x.shape[-1], generator=gen)
    ood_x = test_x[..., time_perm]
    mean, std = train_x.mean(), train_x.std()

    def normalise(x: Tensor) -> Tensor:
        return ((x - mean) / std).float()

    return _Raw(
        normalise(train_x),
        torch.from_numpy(arrays["y"]).long(),
        normalise(test_x),
        torch.from_numpy(arrays["y_test"]).long(),
        normalise(ood_x),
        num_classes=10,
        augment=False,
    )


_MNIST1D_KEYS = ("x", "y", "x_test", "y_test")


def mnist1d_cache_path(data_dir: str | Path) -> Path:
    """Where the generated MNIST-1D arrays are cached (named by the generator arguments)."""
    n, seed = MNIST1D_ARGS["num_samples"], MNIST1D_ARGS["seed"]
    return Path(data_dir) / "mnist1d" / f"mnist1d-n{n}-seed{seed}.npz"


def _mnist1d_arrays(data_dir: Path) -> dict[str, np.ndarray]:
    """The generated signals and labels: read from the cache, or generated once and cached."""
    path = mnist1d_cache_path(data_dir)
    arrays = _read_cache(path)
    if arrays is not None:
        return arrays
    with _download_lock(data_dir):
        arrays = _read_cache(path)  # generated by another process while this one waited
        if arrays is not None:
            return arrays
        generated = _generate_mnist1d()
        x, y, x_test, y_test = (generated[k] for k in _MNIST1D_KEYS)
        # A read-only data directory: use the arrays, generate them again next time.
        with contextlib.suppress(OSError):
            atomic_write(path, lambda f: np.savez(f, x=x, y=y, x_test=x_test, y_test=y_test))
    return generated


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is missing or unreadable (then regenerated)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in _MNIST1D_KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if len(arrays["x"]) != len(arrays["y"]) or len(arrays["x_test"]) != len(arrays["y_test"]):
        return None
    return arrays


def _generate_mnist1d() -> dict[str, np.ndarray]:
    """Run the MNIST-1D generator (``make_dataset``; never its download path)."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise DatasetUnavailableError(
            "mnist1d is generated by the mnist1d package, which is not installed: "
            "pip install mnist1d"
        ) from None
    args = get_dataset_args()
    for key, value in MNIST1D_ARGS.items():
        setattr(args, key, value)
    # The generator seeds Python's and numpy's global generators: leave the caller's streams be.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {k: np.asarray(data[k]) for k in _MNIST1D_KEYS}


def _load_cifar(name: str, data_dir: Path, download: bool) -> _Raw:
    from torchvision.datasets import CIFAR10, CIFAR100, SVHN

    cls = CIFAR10 if name == "cifar10" else CIFAR100
    mean = torch.tensor(_CIFAR_STATS[name][0]).view(1, 3, 1, 1)
    std = torch.tensor(_CIFAR_STATS[name][1]).view(1, 3, 1, 1)

    def normalise(images_nchw: np.ndarray) -> Tensor:
        return (torch.from_numpy(images_nchw).float() / 255.0 - mean) / std

    cifar_help = (
        f"Download {cls.url} elsewhere and put either the archive {cls.filename} or its "
        f"extracted folder {cls.base_folder}/ (with "
        f"{', '.join(f for f, _ in cls.train_list + cls.test_list)}, {cls.meta['filename']}) "
        f"in {data_dir.resolve()}/"
    )
    svhn_dir = data_dir / "svhn"
    svhn_file, svhn_url = SVHN.split_list["test"][1], SVHN.split_list["test"][0]
    svhn_help = f"Download {svhn_url} elsewhere and put {svhn_file} in {svhn_dir.resolve()}/"
    # An archive already on disk is only unpacked by torchvision's download path (which then
    # finds the file and does not touch the network), so use that path even if download=False.
    cifar_download = download or (data_dir / cls.filename).is_file()
    with _download_lock(data_dir):
        train = _open(
            lambda: cls(str(data_dir), train=True, download=cifar_download),
            name,
            download,
            cifar_help,
        )
        test = _open(
            lambda: cls(str(data_dir), train=False, download=False), name, download, cifar_help
        )
        if importlib.util.find_spec("scipy") is None:
            raise DatasetUnavailableError(
                "the SVHN OOD set is stored as .mat files, which need scipy: pip install scipy"
            )
        svhn = _open(
            lambda: SVHN(str(svhn_dir), split="test", download=download),
            "svhn (OOD set)",
            download,
            svhn_help,
        )
    return _Raw(
        train_x=normalise(train.data.transpose(0, 3, 1, 2)),  # torchvision keeps CIFAR as NHWC
        train_y=torch.tensor(train.targets, dtype=torch.long),
        test_x=normalise(test.data.transpose(0, 3, 1, 2)),
        test_y=torch.tensor(test.targets, dtype=torch.long),
        ood_x=normalise(svhn.data),  # already NCHW
        num_classes=len(train.classes),
        augment=True,
    )


def _download_lock(data_dir: Path) -> contextlib.AbstractContextManager[object]:
    """A lock file in ``data_dir`` so one process per node downloads and unpacks at a time."""
    with contextlib.suppress(OSError):
        data_dir.mkdir(parents=True, exist_ok=True)
    if data_dir.is_dir() and os.access(data_dir, os.W_OK):
        return FileLock(str(data_dir / LOCK_NAME))
    # A read-only shared data directory: nobody can download into it, so there is nothing to
    # serialise; missing files are reported by _open.
    return contextlib.nullcontext()


_T = TypeVar("_T")


def _open(make: Callable[[], _T], what: str, download: bool, help_text: str) -> _T:
    try:
        return make()
    # torchvision fails in many ways depending on the step (URLError, SSL errors, RuntimeError
    # for missing or corrupt files, tarfile errors): report all as one clear error, without the
    # deep urllib traceback (`from None`), keeping the cause's one-line summary.
    except Exception as err:
        how = "downloading failed" if download else "download=False"
        raise DatasetUnavailableError(
            f"{what} is not available ({how}; {type(err).__name__}: {err}). {help_text}"
        ) from None
