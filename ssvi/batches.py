"""Seeded minibatches of tensors that already live on their device, with GPU-side augmentation.

No DataLoader and no CPU round trip per batch (as airbench): batches index the dataset tensors on
their device. Each epoch's order and augmentation come from a generator seeded by (seed, epoch),
so an epoch is reproducible without saved state (bit-exact resume); the random numbers are drawn
on the CPU and moved, so CPU and GPU see the same crops and flips.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["BatchIterator", "crop_and_flip", "epoch_seed"]


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of the generator for one epoch, mixed from ``(seed, epoch)`` (both >= 0).

    SeedSequence hashing keeps nearby pairs such as (0, 1) and (1, 0) unrelated.
    """
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0])


def crop_and_flip(x: Tensor, offsets: Tensor, flips: Tensor, padding: int = 4) -> Tensor:
    """Random-crop-with-zero-padding and horizontal flip, with the randomness given explicitly.

    Each image is zero-padded by ``padding`` on every side, cropped back to its size with its
    top-left corner at ``offsets[i] = (row, col)`` of the padded image (``(padding, padding)`` is
    no shift), then mirrored left-right where ``flips[i]``. One gather, on ``x``'s device.

    Args:
        x: images ``[B, C, H, W]``.
        offsets: integer ``[B, 2]`` with values in ``[0, 2 * padding]``.
        flips: bool ``[B]``.
        padding: zero padding on each side.

    Returns:
        Augmented images, same shape and dtype as ``x``.
    """
    b, c, h, w = x.shape
    dev = x.device
    offsets, flips = offsets.to(dev), flips.to(dev)
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = offsets[:, :1] + torch.arange(h, device=dev)  # [B, H]
    # Flipping the crop reads the padded columns in reverse: out[w'] = padded[col + W-1-w'].
    cols = offsets[:, 1:] + torch.where(
        flips[:, None], torch.arange(w - 1, -1, -1, device=dev), torch.arange(w, device=dev)
    )  # [B, W]
    batch = torch.arange(b, device=dev)[:, None, None, None]
    chan = torch.arange(c, device=dev)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


class BatchIterator:
    """Minibatches of tensors that already sit on their device, reproducible per epoch.

    An epoch's order and augmentation draw from a CPU ``torch.Generator`` seeded with
    ``epoch_seed(seed, epoch)``: the same epoch always gives the same batches, on CPU and CUDA
    alike, with no generator state to save. All of an epoch's random numbers are drawn up front,
    so ``epoch(e, start_batch=k)`` resumes mid-epoch bit-exactly by skipping k batches.

    Args:
        x: inputs ``[N, ...]`` (``[N, C, H, W]`` if ``augment``).
        y: labels ``[N]`` on the same device as ``x``.
        batch_size: examples per batch.
        shuffle: random order each epoch (else the stored order).
        seed: run seed mixed into every epoch's generator.
        augment: random crop (zero padding ``padding``) and horizontal flip.
        drop_last: drop the final incomplete batch.
        padding: crop padding in pixels.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        augment: bool = False,
        drop_last: bool = False,
        padding: int = 4,
    ) -> None:
        if len(x) != len(y) or x.device != y.device:
            raise ValueError(
                f"x and y must have the same length and device, got {len(x)} on {x.device} "
                f"and {len(y)} on {y.device}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if augment and x.ndim != 4:
            raise ValueError(f"augment needs images [N, C, H, W], got {tuple(x.shape)}")
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.seed, self.augment = shuffle, seed, augment
        self.drop_last, self.padding = drop_last, padding

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield the ``(x, y)`` batches of ``epoch``, starting at batch index ``start_batch``."""
        n, dev = len(self.y), self.x.device
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        order = order.to(dev)
        if self.augment:
            # Indexed by position in the epoch, so batch k's draws do not depend on batches < k.
            offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=gen).to(dev)
            flips = (torch.rand(n, generator=gen) < 0.5).to(dev)
        for k in range(start_batch, len(self)):
            sl = slice(k * self.batch_size, (k + 1) * self.batch_size)
            idx = order[sl]
            xb = self.x[idx]
            if self.augment:
                xb = crop_and_flip(xb, offsets[sl], flips[sl], self.padding)
            yield xb, self.y[idx]
