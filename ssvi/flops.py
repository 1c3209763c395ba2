"""Training and inference FLOPs from PyTorch's own FLOP counter, scaled by each layer's density.

``torch.utils.flop_counter.FlopCounterMode`` attributes the FLOPs of one step (forward + backward)
to modules. A Bayesian layer's FLOPs (both convolutions of the local reparameterization, and their
backward) are scaled by its density, as a sparse kernel would do; the rest of the network is counted
as it is. Steps that capture dense gradients for the ``grad`` addition criterion also pay the dense
weight gradient of the mean convolution, i.e. (1 - density) x its forward FLOPs more.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from ssvi.layers import BayesLayer, forward_mode


@dataclass(frozen=True)
class FlopProfile:
    """Per-example FLOPs of a model with its current masks."""

    train_step: float  # forward + backward of one training example (LRT), sparse-scaled
    dense_grad_extra: float  # extra per example on a step that captures dense gradients
    inference: float  # forward of one example with mean weights, sparse-scaled
    train_step_dense: float  # the same training step if every layer were dense


def _per_module(
    model: nn.Module, run: Callable[[], object]
) -> tuple[float, dict[BayesLayer, float]]:
    names = {m: n for n, m in model.named_modules()}
    root = type(model).__name__
    with FlopCounterMode(display=False) as counter:
        run()
    counts = counter.get_flop_counts()
    per_layer: dict[BayesLayer, float] = {}
    for module, name in names.items():
        if isinstance(module, BayesLayer):
            key = f"{root}.{name}" if name else root
            per_layer[module] = float(sum(counts.get(key, {}).values()))
    return float(counter.get_total_flops()), per_layer


def profile_flops(model: nn.Module, x: Tensor) -> FlopProfile:
    """Measure the FLOPs of ``model`` on the batch ``x`` (on a copy: the model is not touched)."""
    model = copy.deepcopy(model)
    n = x.shape[0]
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        model.train()

        def train_step() -> None:
            model(x).float().sum().backward()

        total, per_layer = _per_module(model, train_step)
        with torch.no_grad(), forward_mode(model, "lrt"):
            _, fwd_lrt = _per_module(model, lambda: model(x))
        model.eval()
        with torch.no_grad(), forward_mode(model, "mean"):
            total_inf, fwd_mean = _per_module(model, lambda: model(x))
    saved = sum((1.0 - layer.density) * f for layer, f in per_layer.items())
    saved_inf = sum((1.0 - layer.density) * f for layer, f in fwd_mean.items())
    # the mean convolution is half of the LRT forward; its dense weight gradient costs as much
    extra = sum((1.0 - layer.density) * f / 2.0 for layer, f in fwd_lrt.items())
    return FlopProfile(
        train_step=(total - saved) / n,
        dense_grad_extra=extra / n,
        inference=(total_inf - saved_inf) / n,
        train_step_dense=total / n,
    )
