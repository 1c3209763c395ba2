"""``cifar10`` / ``cifar100``: torchvision's CIFAR, with the SVHN test split as OOD set.

Images are standardised per channel with the usual training-set statistics; OOD inputs are the
SVHN test split (``data_dir/svhn``), standardised with the same CIFAR statistics. Training batches
use random crop (zero padding 4) and horizontal flip. Downloads take a file lock so processes
sharing a node download once; files that are missing and cannot be downloaded (offline, or
``download=False``) are one ``DatasetUnavailableError`` that says which file to put where.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from ssvi.data._base import DatasetInfo, DatasetUnavailableError, RawDataset, download_lock

INFO: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo((3, 32, 32), 10, 50_000),
    "cifar100": DatasetInfo((3, 32, 32), 100, 50_000),
}

CIFAR_STATS = {  # per-channel mean and std of the CIFAR training images, in [0, 1] units
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def load_pool(name: str, data_dir: Path, download: bool) -> RawDataset:
    """CIFAR ``name`` and the SVHN OOD set from ``data_dir``, downloaded if allowed and missing.

    Raises:
        DatasetUnavailableError: files missing and not downloadable, or scipy (which reads
            SVHN's .mat files) not installed.
    """
    from torchvision.datasets import CIFAR10, CIFAR100, SVHN

    cls = CIFAR10 if name == "cifar10" else CIFAR100
    mean = torch.tensor(CIFAR_STATS[name][0]).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STATS[name][1]).view(1, 3, 1, 1)

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
    with download_lock(data_dir):
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
    return RawDataset(
        train_x=normalise(train.data.transpose(0, 3, 1, 2)),  # torchvision keeps CIFAR as NHWC
        train_y=torch.tensor(train.targets, dtype=torch.long),
        test_x=normalise(test.data.transpose(0, 3, 1, 2)),
        test_y=torch.tensor(test.targets, dtype=torch.long),
        ood_x=normalise(svhn.data),  # already NCHW
        num_classes=len(train.classes),
        augment=True,
    )


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
