"""Tests for ssvi.data._mnist1d: the generated MNIST-1D (shapes, standardisation, seeded
splits, OOD set), its cache, and the error without the generator's package. The session's MNIST-1D
is generated once into the mnist1d_dir fixture (see conftest)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ssvi.data._mnist1d
from ssvi.data import (
    DATASET_INFO,
    DatasetUnavailableError,
    load_dataset,
    mnist1d_cache_path,
)


def _cached(data_dir: Path) -> dict[str, np.ndarray]:
    with np.load(mnist1d_cache_path(data_dir)) as npz:
        return {k: npz[k] for k in npz.files}


def _rows(x: torch.Tensor) -> list[tuple[float, ...]]:
    return sorted(tuple(r) for r in x.flatten(1).tolist())


def test_mnist1d_shapes_classes_and_standardisation(mnist1d_dir: Path) -> None:
    data = load_dataset("mnist1d", data_dir=mnist1d_dir, seed=0)
    info = DATASET_INFO["mnist1d"]
    assert data.name == "mnist1d" and data.num_classes == info.num_classes == 10
    assert data.input_shape == info.input_shape == (1, 1, 40) and not data.augment
    assert len(data.train_y) + len(data.val_y) == info.train_pool == 8000
    assert len(data.val_y) == 800 and len(data.test_y) == len(data.ood_x) == 2000
    for x in (data.train_x, data.val_x, data.test_x, data.ood_x):
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 1, 40)
    labels = torch.cat([data.train_y, data.val_y, data.test_y])
    assert labels.dtype == torch.int64 and torch.bincount(labels).tolist() == [1000] * 10
    assert torch.bincount(data.test_y, minlength=10).min() >= 150  # every class is tested
    # Standardised by the statistics of the training pool (train + val), from the cached signals.
    raw = _cached(mnist1d_dir)
    mean, std = raw["x"].mean(), raw["x"].std(ddof=1)
    pool = load_dataset("mnist1d", data_dir=mnist1d_dir, val_fraction=0.0)
    for x, key in ((pool.train_x, "x"), (pool.test_x, "x_test")):
        expected = torch.from_numpy((raw[key] - mean) / std)
        torch.testing.assert_close(x.double().flatten(1), expected, rtol=0, atol=1e-6)
    assert pool.train_y.tolist() == raw["y"].tolist()
    assert pool.test_y.tolist() == raw["y_test"].tolist()


def test_mnist1d_validation_split_is_seeded_and_test_fixed(mnist1d_dir: Path) -> None:
    pool = load_dataset("mnist1d", data_dir=mnist1d_dir, val_fraction=0.0)
    splits = {s: load_dataset("mnist1d", data_dir=mnist1d_dir, seed=s) for s in (0, 1)}
    for data in splits.values():
        # The validation set is carved from the seed-independent training pool.
        assert _rows(torch.cat([data.train_x, data.val_x])) == _rows(pool.train_x)
        assert torch.equal(data.test_x, pool.test_x) and torch.equal(data.ood_x, pool.ood_x)
    again = load_dataset("mnist1d", data_dir=mnist1d_dir, seed=0)
    assert torch.equal(again.val_x, splits[0].val_x) and torch.equal(again.val_y, splits[0].val_y)
    assert not torch.equal(splits[0].val_x, splits[1].val_x)


def test_mnist1d_ood_is_fixed_time_permutation_of_test(mnist1d_dir: Path) -> None:
    data = load_dataset("mnist1d", data_dir=mnist1d_dir)
    test, ood = data.test_x.flatten(1), data.ood_x.flatten(1)
    # Same values per signal, in another order ...
    assert torch.equal(ood.sort().values, test.sort().values)
    assert (ood != test).any(dim=1).float().mean() > 0.99
    # ... by one permutation of the 40 time steps, shared by all signals.
    perm = [int((test == ood[:, [j]]).all(dim=0).nonzero()[0]) for j in range(40)]
    assert sorted(perm) == list(range(40)) and perm != list(range(40))
    assert torch.equal(ood, test[:, perm])


def test_mnist1d_cache_is_reused(mnist1d_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = mnist1d_cache_path(mnist1d_dir)
    assert path.is_file() and path.parent == mnist1d_dir / "mnist1d"
    first = load_dataset("mnist1d", data_dir=mnist1d_dir)

    def no_generation() -> None:
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(ssvi.data._mnist1d, "_generate_mnist1d", no_generation)
    again = load_dataset("mnist1d", data_dir=mnist1d_dir)
    assert torch.equal(again.train_x, first.train_x) and torch.equal(again.ood_x, first.ood_x)


def test_mnist1d_corrupt_cache_is_regenerated_identically(
    mnist1d_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    def offline(*args: object, **kwargs: object) -> None:
        raise AssertionError("the generator's download path was used")

    monkeypatch.setattr(requests, "get", offline)
    path = mnist1d_cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    good = mnist1d_cache_path(mnist1d_dir).read_bytes()
    path.write_bytes(good[: len(good) // 2])  # a truncated file, as a crash mid-copy leaves
    # The generator seeds Python's and numpy's global generators; the caller's must not move.
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    data = load_dataset("mnist1d", data_dir=tmp_path)
    assert random.getstate() == states[0]
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), states[1], strict=True))
    assert torch.equal(torch.get_rng_state(), states[2])
    # Generated again, the same arrays as the session's generation: deterministic.
    regenerated, reference = _cached(tmp_path), _cached(mnist1d_dir)
    assert set(regenerated) == set(reference) == {"x", "y", "x_test", "y_test"}
    assert all(np.array_equal(regenerated[k], reference[k]) for k in reference)
    assert torch.equal(data.test_x, load_dataset("mnist1d", data_dir=mnist1d_dir).test_x)


def test_mnist1d_without_its_package_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("mnist1d", "mnist1d.data"):
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(DatasetUnavailableError, match="mnist1d package.*pip install mnist1d"):
        load_dataset("mnist1d", data_dir=tmp_path)
    assert not mnist1d_cache_path(tmp_path).exists()
