"""Tests for ssvi.batches: the seeded on-device batch iterator and its crop-and-flip
augmentation."""

from __future__ import annotations

import pytest
import torch

from ssvi.batches import BatchIterator, crop_and_flip, epoch_seed


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
