"""Tests for ssvi.data._cifar: CIFAR-10/100 and the SVHN OOD set from generated files, and the
one clear error when files are missing. No network: torchvision's files are written here in
their on-disk format, and torchvision's md5 checks are switched off the way it allows
(md5=None)."""

from __future__ import annotations

import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10, CIFAR100, SVHN

from ssvi.data import (
    DatasetUnavailableError,
    load_dataset,
)
from ssvi.data._cifar import CIFAR_STATS


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
