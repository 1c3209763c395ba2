"""Tests for ssvi.data: dataset loading (digits, MNIST-1D, synthetic, CIFAR from generated files)
and the seeded on-device batch iterator. No network: torchvision's files are written here in their
on-disk format, and torchvision's md5 checks are switched off the way it allows (md5=None)."""

from __future__ import annotations

import pickle
import random
import sys
import tarfile
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torchvision.datasets import CIFAR10, CIFAR100, SVHN

import ssvi.data._mnist1d
from ssvi.batches import BatchIterator, crop_and_flip, epoch_seed
from ssvi.data import (
    DATASET_INFO,
    DATASETS,
    DatasetUnavailableError,
    load_dataset,
    mnist1d_cache_path,
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


# --- digits ---------------------------------------------------------------------------------


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


def test_unknown_name_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="'digits'.*'synthetic'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="only apply to the 'synthetic'"):
        load_dataset("digits", shape=(1, 8, 8))
    with pytest.raises(ValueError, match="val_fraction"):
        load_dataset("digits", val_fraction=1.0)
    assert set(DATASETS) == {"digits", "digits5", "cifar10", "cifar100", "mnist1d", "synthetic"}


def test_to_moves_every_tensor() -> None:
    moved = load_dataset("digits").to("meta")
    for x in (
        moved.train_x,
        moved.train_y,
        moved.val_x,
        moved.val_y,
        moved.test_x,
        moved.test_y,
        moved.ood_x,
    ):
        assert x.device.type == "meta"
    assert moved.num_classes == 10 and moved.input_shape == (1, 8, 8)


# --- MNIST-1D (generated once per session into mnist1d_dir, see conftest) --------------------


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


# --- synthetic ------------------------------------------------------------------------------


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


# --- CIFAR and SVHN from generated files ----------------------------------------------------


@pytest.fixture
def no_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated files cannot match the real md5 sums; md5=None makes torchvision skip them."""
    for cls in (CIFAR10, CIFAR100):
        monkeypatch.setattr(cls, "train_list", [[f, None] for f, _ in cls.train_list])
        monkeypatch.setattr(cls, "test_list", [[f, None] for f, _ in cls.test_list])
        monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": None})
        monkeypatch.setattr(cls, "tgz_md5", None)
    split_list = {k: [v[0], v[1], None] for k, v in SVHN.split_list.items()}
    monkeypatch.setattr(SVHN, "split_list", split_list)


def _pickle(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))


def _batch(rng: np.random.Generator, n: int, classes: int, key: str) -> dict:
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return {"data": data, key: rng.integers(0, classes, size=n).tolist()}


def _write_cifar10(root: Path) -> dict[str, dict]:
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    batches = {f"data_batch_{i}": _batch(rng, 4, 10, "labels") for i in range(1, 6)}
    batches["test_batch"] = _batch(rng, 6, 10, "labels")
    for name, content in batches.items():
        _pickle(folder / name, content)
    _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    return batches


def _write_svhn(root: Path, n: int = 7) -> np.ndarray:
    scipy_io = pytest.importorskip("scipy.io")
    x = np.random.default_rng(1).integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    (root / "svhn").mkdir(parents=True, exist_ok=True)
    y = np.arange(1, n + 1).reshape(n, 1)  # SVHN labels 1..10
    scipy_io.savemat(str(root / "svhn" / "test_32x32.mat"), {"X": x, "y": y})
    return x


def _unnormalise(x: torch.Tensor, name: str) -> torch.Tensor:
    from ssvi.data._cifar import CIFAR_STATS

    mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in CIFAR_STATS[name])
    return (x * std + mean) * 255


@pytest.mark.usefixtures("no_md5")
def test_cifar10_from_files(tmp_path: Path) -> None:
    batches = _write_cifar10(tmp_path)
    svhn_x = _write_svhn(tmp_path)
    data = load_dataset("cifar10", data_dir=tmp_path, val_fraction=0.0, download=False)
    assert data.augment and data.num_classes == 10 and data.input_shape == (3, 32, 32)
    train_rows = np.concatenate([batches[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    # Rows hold R, G, B planes of 32x32 in row-major order.
    expected = torch.from_numpy(train_rows.reshape(20, 3, 32, 32)).double()
    assert torch.allclose(_unnormalise(data.train_x, "cifar10").double(), expected, atol=1e-3)
    labels = [label for i in range(1, 6) for label in batches[f"data_batch_{i}"]["labels"]]
    assert data.train_y.tolist() == labels
    assert data.test_y.tolist() == batches["test_batch"]["labels"]
    test_expected = torch.from_numpy(batches["test_batch"]["data"].reshape(6, 3, 32, 32))
    assert torch.allclose(_unnormalise(data.test_x, "cifar10"), test_expected.float(), atol=1e-3)
    # SVHN's .mat stores X as [H, W, C, N].
    ood_expected = torch.from_numpy(svhn_x.transpose(3, 2, 0, 1)).float()
    assert torch.allclose(_unnormalise(data.ood_x, "cifar10"), ood_expected, atol=1e-3)
    assert data.train_x.dtype == torch.float32 and data.train_y.dtype == torch.int64
    assert (tmp_path / ".ssvi-download.lock").exists()
    split = load_dataset("cifar10", data_dir=tmp_path, val_fraction=0.25, download=False)
    assert (len(split.train_y), len(split.val_y), len(split.test_y)) == (15, 5, 6)


@pytest.mark.usefixtures("no_md5")
def test_cifar100_from_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    folder = tmp_path / "cifar-100-python"
    train, test = _batch(rng, 12, 100, "fine_labels"), _batch(rng, 5, 100, "fine_labels")
    _pickle(folder / "train", train)
    _pickle(folder / "test", test)
    _pickle(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})
    _write_svhn(tmp_path)
    data = load_dataset("cifar100", data_dir=tmp_path, val_fraction=0.0, download=False)
    assert data.num_classes == 100 and data.augment and data.name == "cifar100"
    assert data.train_y.tolist() == train["fine_labels"]
    expected = torch.from_numpy(test["data"].reshape(5, 3, 32, 32)).float()
    assert torch.allclose(_unnormalise(data.test_x, "cifar100"), expected, atol=1e-3)
    assert data.ood_x.shape == (7, 3, 32, 32)


@pytest.mark.usefixtures("no_md5")
def test_cifar10_archive_is_unpacked_without_download(tmp_path: Path) -> None:
    source = tmp_path / "source"
    _write_cifar10(source)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tarfile.open(data_dir / "cifar-10-python.tar.gz", "w:gz") as archive:
        archive.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    _write_svhn(data_dir)
    data = load_dataset("cifar10", data_dir=data_dir, download=False)
    assert len(data.train_y) + len(data.val_y) == 20
    assert (data_dir / "cifar-10-batches-py" / "test_batch").is_file()


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    message = str(info.value)
    for part in (
        "cifar-10-python.tar.gz",
        "cifar-10-batches-py/",
        "data_batch_1",
        "test_batch",
        str(tmp_path.resolve()),
        "download=False",
    ):
        assert part in message
    with pytest.raises(DatasetUnavailableError, match="cifar-100-python"):
        load_dataset("cifar100", data_dir=tmp_path, download=False)


@pytest.mark.usefixtures("no_md5")
def test_missing_svhn_names_its_file(tmp_path: Path) -> None:
    _write_cifar10(tmp_path)
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert "test_32x32.mat" in str(info.value)
    assert str((tmp_path / "svhn").resolve()) in str(info.value)


def test_failed_download_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets.cifar as tv_cifar

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("cifar10", data_dir=tmp_path / "fresh", download=True)
    assert "downloading failed" in str(info.value) and "URLError" in str(info.value)
    assert "cifar-10-python.tar.gz" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# --- batches --------------------------------------------------------------------------------


def _labelled(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose every pixel encodes the example index: value = 1000 * i + pixel + 1."""
    pixels = torch.arange(1, 2 * 8 * 8 + 1, dtype=torch.float64).view(2, 8, 8)
    idx = torch.arange(n)
    return 1000.0 * idx.view(n, 1, 1, 1).double() + pixels, idx


def test_each_example_once_per_epoch() -> None:
    x, y = _labelled(10)
    batches = list(BatchIterator(x, y, 3, seed=0).epoch(0))
    assert [len(b[1]) for b in batches] == [3, 3, 3, 1]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    for xb, yb in batches:
        assert torch.equal(xb, x[yb])
    dropped = list(BatchIterator(x, y, 3, drop_last=True).epoch(0))
    assert len(dropped) == 3 == len(BatchIterator(x, y, 3, drop_last=True))
    assert len(BatchIterator(x, y, 3)) == 4
    ordered = torch.cat([b for _, b in BatchIterator(x, y, 4, shuffle=False).epoch(0)])
    assert ordered.tolist() == list(range(10))


def test_order_depends_only_on_seed_and_epoch() -> None:
    x, y = _labelled(50)

    def order(seed: int, epoch: int) -> list[int]:
        return torch.cat([b for _, b in BatchIterator(x, y, 7, seed=seed).epoch(epoch)]).tolist()

    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1)
    assert order(0, 1) != order(1, 0)
    assert epoch_seed(0, 1) != epoch_seed(1, 0)


def test_resume_mid_epoch_is_bit_exact() -> None:
    x, y = _labelled(20)
    batches = BatchIterator(x, y, 6, seed=3, augment=True)
    full = list(batches.epoch(4))
    resumed = list(batches.epoch(4, start_batch=2))
    assert len(resumed) == len(full) - 2
    for (xa, ya), (xb, yb) in zip(full[2:], resumed, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_crop_and_flip_hand_made_image() -> None:
    image = torch.arange(9.0).view(1, 1, 3, 3)  # [[0,1,2],[3,4,5],[6,7,8]]

    def run(row: int, col: int, flip: bool) -> list[list[float]]:
        out = crop_and_flip(image, torch.tensor([[row, col]]), torch.tensor([flip]), padding=1)
        return out[0, 0].tolist()

    assert run(1, 1, False) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # centre: unchanged
    assert run(0, 0, False) == [[0, 0, 0], [0, 0, 1], [0, 3, 4]]  # shifted down-right
    assert run(2, 2, False) == [[4, 5, 0], [7, 8, 0], [0, 0, 0]]  # shifted up-left
    assert run(1, 1, True) == [[2, 1, 0], [5, 4, 3], [8, 7, 6]]  # mirrored
    assert run(0, 2, True) == [[0, 0, 0], [0, 2, 1], [0, 5, 4]]  # crop, then mirror


def test_crop_and_flip_matches_pad_slice_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 32, 32, generator=gen, dtype=torch.float64)
    offsets = torch.randint(0, 9, (16, 2), generator=gen)
    flips = torch.rand(16, generator=gen) < 0.5
    out = crop_and_flip(x, offsets, flips)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(16):
        r, c = offsets[i].tolist()
        crop = padded[i, :, r : r + 32, c : c + 32]
        assert torch.equal(out[i], crop.flip(-1) if flips[i] else crop)


def test_augmented_batches_come_from_their_examples() -> None:
    x, y = _labelled(64)
    batches = list(BatchIterator(x, y, 16, seed=1, augment=True).epoch(0))
    changed = 0
    for xb, yb in batches:
        assert xb.shape == (len(yb), 2, 8, 8) and xb.dtype == x.dtype
        owner = torch.div(xb, 1000, rounding_mode="floor")
        nonzero = xb > 0
        # Every non-padding pixel belongs to the batch's own example.
        assert torch.equal(owner[nonzero], yb.view(-1, 1, 1, 1).double().expand_as(xb)[nonzero])
        # Padding 4 on an 8x8 image keeps at least a 4x4 block of the original.
        assert bool((nonzero.flatten(1).sum(1) >= 2 * 4 * 4).all())
        changed += int((xb != x[yb]).flatten(1).any(1).sum())
    assert changed > 32  # almost every example is shifted or flipped


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_equal_cpu_batches() -> None:
    x, y = _labelled(40)
    cpu = list(BatchIterator(x, y, 8, seed=2, augment=True).epoch(5))
    gpu = list(BatchIterator(x.cuda(), y.cuda(), 8, seed=2, augment=True).epoch(5))
    for (xc, yc), (xg, yg) in zip(cpu, gpu, strict=True):
        assert xg.is_cuda and torch.equal(xc, xg.cpu()) and torch.equal(yc, yg.cpu())
