"""Tests for ssvi.data._synthetic: seeded Gaussian prototypes plus noise."""

from __future__ import annotations

from typing import Any

import torch

from ssvi.data import (
    load_dataset,
)


def test_synthetic_shapes_determinism_and_signal() -> None:
    kwargs: dict[str, Any] = {"shape": (2, 6, 5), "num_classes": 4, "n_train": 400, "n_test": 100}
    data = load_dataset("synthetic", val_fraction=0.25, **kwargs)
    assert data.input_shape == (2, 6, 5) and data.num_classes == 4
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (300, 100, 100)
    assert data.ood_x.shape == (100, 2, 6, 5) and data.train_x.dtype == torch.float32
    assert torch.equal(load_dataset("synthetic", val_fraction=0.25, **kwargs).train_x, data.train_x)
    assert torch.equal(load_dataset("synthetic", seed=5, **kwargs).test_x, data.test_x)
    # Learnable: nearest class mean of the training set classifies the test set.
    means = torch.stack([data.train_x[data.train_y == c].mean(0) for c in range(4)])
    pred = torch.cdist(data.test_x.flatten(1), means.flatten(1)).argmin(1)
    assert (pred == data.test_y).double().mean() > 0.9
    defaults = load_dataset("synthetic")
    assert defaults.input_shape == (3, 32, 32) and len(defaults.test_y) == 256
