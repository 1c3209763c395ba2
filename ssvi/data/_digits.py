"""``digits`` and ``digits5``: scikit-learn's bundled 8x8 handwritten digits (1797 images, no
download).

A fixed stratified 80/20 train/test split (seed 0, independent of the run seed). Pixels 0..16 are
scaled to [0, 1], then standardised by the mean/std of the 80% training pool.

- ``digits``: OOD inputs are the test images with their 64 pixels shuffled by one fixed
  permutation: this keeps the pixel intensity statistics exactly, so OOD detection cannot succeed
  on brightness alone, and destroys the digit shape.
- ``digits5``: the same images restricted to classes 0-4; OOD inputs are the test images of
  classes 5-9 (a near-OOD task: same style, unseen classes).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ssvi.data._base import DatasetInfo, RawDataset

INFO: dict[str, DatasetInfo] = {
    "digits": DatasetInfo((1, 8, 8), 10, 1437),
    "digits5": DatasetInfo((1, 8, 8), 5, 721),
}

_DIGITS_SPLIT_SEED = 0  # fixed, so the digits test set is the same for every run seed
_DIGITS_OOD_SEED = 0  # the one pixel permutation that makes the digits OOD set


def load_pool(five_classes: bool) -> RawDataset:
    """``digits`` (``five_classes=False``) or ``digits5``, normalised, as described above."""
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
    return RawDataset(
        normalise(train_x),
        train_y,
        normalise(test_x),
        test_y,
        normalise(ood_x),
        num_classes,
        augment=False,
    )
