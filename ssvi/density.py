"""How the global density budget is spread over the layers (``uniform`` and ``erk``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ssvi.enums import DensityDistribution

Shapes = Sequence[tuple[int, ...]]


def _check_density(density: float) -> None:
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")


def uniform_densities(shapes: Shapes, density: float) -> list[float]:
    """Every layer at ``density`` except the first, which stays dense (as the reference code)."""
    _check_density(density)
    return [1.0 if i == 0 else density for i in range(len(shapes))]


def erk_densities(shapes: Shapes, density: float) -> list[float]:
    """Erdős–Rényi-Kernel densities (Evci et al., RigL, 2020).

    A layer's density is proportional to sum(dims) / prod(dims); layers whose density would exceed 1
    become dense and the scale of the others is recomputed, so that the total number of active
    weights equals ``density`` x the total number of weights.
    """
    _check_density(density)
    sizes = np.array([float(np.prod(s)) for s in shapes])
    raw = np.array([sum(s) / np.prod(s) for s in shapes], dtype=np.float64)
    budget = density * sizes.sum()
    dense = np.zeros(len(shapes), dtype=bool)
    while True:
        # Active weights left for the non-dense layers, shared in proportion to raw * size.
        remaining = budget - sizes[dense].sum()
        scale = remaining / (raw[~dense] * sizes[~dense]).sum()
        out = np.where(dense, 1.0, scale * raw)
        over = (out > 1.0) & ~dense
        if not over.any():
            return [float(d) for d in out]
        dense |= over


DISTRIBUTIONS: dict[DensityDistribution, Callable[[Shapes, float], list[float]]] = {
    DensityDistribution.UNIFORM: uniform_densities,
    DensityDistribution.ERK: erk_densities,
}


def layer_densities(name: DensityDistribution | str, shapes: Shapes, density: float) -> list[float]:
    """Per-layer densities for the weight ``shapes`` under the named distribution."""
    dist = DensityDistribution.parse(name, "density distribution")
    return DISTRIBUTIONS[dist](shapes, density)
