"""Tests for ssvi.data._digits: digits and digits5 (splits, normalisation, OOD sets)."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from ssvi.data import (
    load_dataset,
)


def _raw_rows(x: torch.Tensor, pool_x: torch.Tensor) -> list[tuple[int, ...]]:
    """Undo the digits normalisation back to the integers 0..16, as hashable rows.

    Normalised values are (v / 16 - mean) / std; the smallest one is pixel 0 and neighbouring
    values differ by 1 / (16 std), which recovers the affine map without knowing mean and std.
    """
    levels = pool_x.double().unique()
    zero, step = levels[0], (levels[1:] - levels[:-1]).min()
    assert round(float((levels[-1] - zero) / step)) == 16  # all 17 levels occur in the pool
    raw = (x.double() - zero) / step
    assert torch.allclose(raw, raw.round(), atol=1e-3)
    return [tuple(r) for r in raw.round().long().flatten(1).tolist()]


def test_digits_shapes_and_normalisation() -> None:
    data = load_dataset("digits", seed=0)
    assert data.name == "digits" and data.num_classes == 10 and not data.augment
    assert data.input_shape == (1, 8, 8)
    assert len(data.train_y) + len(data.val_y) == 1437 and len(data.test_y) == 360
    assert len(data.val_y) == round(0.1 * 1437)
    for x in (data.train_x, data.val_x, data.test_x, data.ood_x):
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 8, 8)
    for y in (data.train_y, data.val_y, data.test_y):
        assert y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) <= 9
    pool = torch.cat([data.train_x, data.val_x]).double()
    assert pool.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert pool.std().item() == pytest.approx(1.0, abs=1e-5)
    # Test labels are stratified: 36 examples of each class (up to rounding).
    assert torch.bincount(data.test_y).min() >= 35


def test_digits_ood_is_fixed_pixel_permutation_of_test() -> None:
    data = load_dataset("digits")
    assert data.ood_x.shape == data.test_x.shape
    # Same pixel values per image, different arrangement ...
    assert torch.equal(data.ood_x.flatten(1).sort().values, data.test_x.flatten(1).sort().values)
    assert not torch.equal(data.ood_x, data.test_x)
    # ... by one permutation shared by all images and all seeds.
    test, ood = data.test_x.flatten(1), data.ood_x.flatten(1)
    perm = [
        int((test == ood[:, [j]]).all(dim=0).nonzero()[0]) for j in range(64) if ood[:, j].std() > 0
    ]
    assert len(perm) > 50
    assert torch.equal(load_dataset("digits", seed=3).ood_x, data.ood_x)


def test_digits_splits_partition_the_data_and_are_deterministic() -> None:
    pool = load_dataset("digits", val_fraction=0.0).train_x
    everything = sorted(tuple(r) for r in (load_digits().data.astype(int)).tolist())
    splits = {s: load_dataset("digits", seed=s) for s in (0, 1)}
    for data in splits.values():
        train, val, test = (_raw_rows(x, pool) for x in (data.train_x, data.val_x, data.test_x))
        # Train, val and test together are exactly the digits data: disjoint by index.
        assert sorted(train + val + test) == everything
        # The validation set is carved from the seed-independent training pool.
        assert sorted(train + val) == sorted(_raw_rows(pool, pool))
    again = load_dataset("digits", seed=0)
    assert torch.equal(again.val_x, splits[0].val_x) and torch.equal(again.val_y, splits[0].val_y)
    assert torch.equal(again.train_x, splits[0].train_x)
    assert not torch.equal(splits[0].val_x, splits[1].val_x)
    assert torch.equal(splits[0].test_x, splits[1].test_x)


def test_digits5_classes_and_ood() -> None:
    data = load_dataset("digits5")
    digits = load_dataset("digits", val_fraction=0.0)
    assert data.num_classes == 5
    for y in (data.train_y, data.val_y, data.test_y):
        assert set(y.unique().tolist()) == {0, 1, 2, 3, 4}
    assert len(data.test_y) == int((digits.test_y < 5).sum())
    assert len(data.ood_x) == int((digits.test_y >= 5).sum())
    pool5 = torch.cat([data.train_x, data.val_x])
    ood_rows = sorted(_raw_rows(data.ood_x, pool5))
    assert ood_rows == sorted(_raw_rows(digits.test_x[digits.test_y >= 5], digits.train_x))
