"""``synthetic``: seeded Gaussian class prototypes plus noise, of any shape; OOD inputs are pure
noise. For tests and smoke runs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ssvi.data._base import DatasetInfo, RawDataset

INFO: dict[str, DatasetInfo] = {
    "synthetic": DatasetInfo((3, 32, 32), 10, 1024),  # at load_pool's defaults
}


def load_pool(
    shape: Sequence[int] = (3, 32, 32),
    num_classes: int = 10,
    n_train: int = 1024,
    n_test: int = 256,
    noise: float = 1.0,
    data_seed: int = 0,
) -> RawDataset:
    """Inputs ``(prototype[y] + noise * N(0, 1)) / sqrt(1 + noise**2)``: unit variance per pixel.

    Raises:
        ValueError: a shape that is not three positive sizes, fewer than two classes, or an
            empty split.
    """
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
    return RawDataset(train_x, train_y, test_x, test_y, ood_x, num_classes, augment=False)
