"""Tests for ssvi.data's registry and shared parts: names, DATASET_INFO against what loads,
load_dataset's argument checks, and DatasetSplits.to. The families are tested in
test_data_<family>.py."""

from __future__ import annotations

import pytest
import torch

from ssvi.data import DATASET_INFO, DATASETS, DatasetName, load_dataset


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


def test_every_name_has_its_facts_and_they_match_what_loads() -> None:
    assert tuple(DATASET_INFO) == (
        "digits",
        "digits5",
        "synthetic",
        "cifar10",
        "cifar100",
        "mnist1d",
    )
    assert set(DATASET_INFO) == set(DATASETS) == {d.value for d in DatasetName}
    for name in ("digits", "digits5", "synthetic"):  # cheap to load; mnist1d: its own test
        data = load_dataset(name, val_fraction=0.0)
        info = DATASET_INFO[name]
        assert data.input_shape == info.input_shape and data.num_classes == info.num_classes
        assert len(data.train_y) == info.train_pool


@pytest.mark.parametrize("name", ["digits", "synthetic"])
def test_validation_is_a_seeded_part_of_the_pool(name: str) -> None:
    pool = load_dataset(name, val_fraction=0.0)
    data = load_dataset(name, val_fraction=0.25, seed=3)
    n = len(pool.train_y)
    assert len(data.val_y) == round(0.25 * n) and len(data.train_y) + len(data.val_y) == n
    # Both parts keep the pool's order; which examples go where is the seeded permutation's.
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    val_idx = perm[: round(0.25 * n)].sort().values
    assert torch.equal(data.val_x, pool.train_x[val_idx])
    assert torch.equal(data.val_y, pool.train_y[val_idx])
    assert torch.equal(data.test_x, pool.test_x) and torch.equal(data.ood_x, pool.ood_x)
