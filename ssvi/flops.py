"""Training and inference FLOPs from PyTorch's own FLOP counter, scaled by each layer's density.

``torch.utils.flop_counter.FlopCounterMode`` counts the FLOPs of one whole step (forward +
backward). A Bayesian layer's FLOPs (both convolutions of the local reparameterization, and their
backward) are scaled by its density, as a sparse kernel would do; the rest of the network is counted
as it is. Each layer's FLOPs are measured by running that layer alone, on a copy of the input it saw
in the step, under a fresh counter: the counter's own per-module attribution is wrong on backward
passes through residual branches (on the CIFAR ResNet-18 it gave each downsample convolution ~19x
its cost and a negative sparse training step). Steps that capture dense gradients for the ``grad``
addition criterion also pay the dense weight gradient of the mean convolution, i.e.
(1 - density) x its forward FLOPs more.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from ssvi.layers import BayesLayer, bayes_layers, forward_mode


@dataclass(frozen=True)
class FlopProfile:
    """Per-example FLOPs of a model with its current masks."""

    train_step: float  # forward + backward of one training example (LRT), sparse-scaled
    dense_grad_extra: float  # extra per example on a step that captures dense gradients
    inference: float  # forward of one example with mean weights, sparse-scaled
    train_step_dense: float  # the same training step if every layer were dense


def _count(run: Callable[[], object]) -> float:
    # display=False: no table printed; the per-module attribution is not read
    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


# The calls of one Bayesian layer in a pass: a copy of each input, and whether it required grad.
_Calls = list[tuple[Tensor, bool]]


def _record(calls: _Calls, _layer: nn.Module, args: tuple[Tensor, ...], _out: Tensor) -> None:
    calls.append((args[0].detach().clone(), args[0].requires_grad))


def _run_alone(layer: BayesLayer, x: Tensor, requires_grad: bool, backward: bool) -> None:
    out = layer(x.detach().requires_grad_(requires_grad and backward))
    if backward:
        out.backward(torch.ones_like(out))


def _layer_costs(
    model: nn.Module, run: Callable[[], object], backward: bool
) -> tuple[float, dict[BayesLayer, float]]:
    """FLOPs of ``run()`` and of each Bayesian layer of ``model`` in it, measured alone.

    Each layer is re-run on copies of the inputs it received (one run per call), forward and, with
    ``backward``, backward from a gradient of ones. An input gets ``requires_grad`` only if it had
    it in ``run``, so a first layer pays no input gradient that the real step never computes.
    """
    calls: dict[BayesLayer, _Calls] = {layer: [] for layer in bayes_layers(model)}
    handles = [layer.register_forward_hook(partial(_record, c)) for layer, c in calls.items()]
    try:
        total = _count(run)
    finally:
        for handle in handles:
            handle.remove()
    per_layer = {
        layer: sum((_count(partial(_run_alone, layer, x, g, backward)) for x, g in c), 0.0)
        for layer, c in calls.items()
    }
    return total, per_layer


def _train_step_costs(model: nn.Module, x: Tensor) -> tuple[float, dict[BayesLayer, float]]:
    """FLOPs of one training step of ``model`` on ``x`` (forward in the layers' current modes, and
    backward) and each Bayesian layer's part, before any density scaling: masks change no count.
    Changes the model's gradients and batch-norm statistics (:func:`profile_flops` runs on a copy).
    """
    model.train()
    return _layer_costs(model, lambda: model(x).float().sum().backward(), backward=True)


def profile_flops(model: nn.Module, x: Tensor) -> FlopProfile:
    """Measure the FLOPs of ``model`` on the batch ``x`` (on a copy: the model is not touched)."""
    model = copy.deepcopy(model)
    n = x.shape[0]
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        total, per_layer = _train_step_costs(model, x)
        with torch.no_grad(), forward_mode(model, "lrt"):
            _, fwd_lrt = _layer_costs(model, lambda: model(x), backward=False)
        model.eval()
        with torch.no_grad(), forward_mode(model, "mean"):
            total_inf, fwd_mean = _layer_costs(model, lambda: model(x), backward=False)
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
