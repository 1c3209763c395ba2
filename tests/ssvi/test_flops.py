"""FLOP profiles: each Bayesian layer's cost measured alone, checked against hand counts."""

import copy

import pytest
import torch
from torch import nn

import ssvi
from ssvi.flops import _train_step_costs, profile_flops

SHAPES = {"mlp": (1, 8, 8), "cnn": (1, 8, 8), "cnn1d": (1, 1, 40), "resnet18": (3, 32, 32)}
N = 2  # examples per profile, as the trainer uses


def bayesian(name: str) -> nn.Module:
    torch.manual_seed(0)
    return ssvi.convert_to_bayesian(ssvi.create_model(name, SHAPES[name], 10))


def batch(name: str) -> torch.Tensor:
    return torch.randn(N, *SHAPES[name], generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return bayesian("resnet18")


def forward_flops(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Hand count of each Bayesian layer's dense mean forward, per example: 2 x MACs, where every
    output entry of a linear or (ungrouped) convolution costs fan-in MACs."""
    out_sizes: list[int] = []
    hooks = [
        layer.register_forward_hook(lambda _m, _a, out: out_sizes.append(out[0].numel()))
        for layer in ssvi.bayes_layers(model)
    ]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    layers = ssvi.bayes_layers(model)
    assert all(getattr(layer, "groups", 1) == 1 for layer in layers)
    return [2.0 * size * layer.fan_in for size, layer in zip(out_sizes, layers, strict=True)]


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def train_flops(forward: list[float]) -> list[float]:
    """A training step in LRT: the mean and variance convolutions forward, and the weight and
    input gradients of both (none for the first layer's input): 6x the mean forward, 4x first."""
    return [(4.0 if i == 0 else 6.0) * f for i, f in enumerate(forward)]


@pytest.mark.parametrize("name", list(SHAPES))
def test_layer_costs_alone_sum_to_the_step(name: str, resnet18: nn.Module) -> None:
    model = copy.deepcopy(resnet18) if name == "resnet18" else bayesian(name)
    x = batch(name)
    expected = train_flops(forward_flops(model, x))
    total, per_layer = _train_step_costs(model, x)
    # every FLOP the counter sees (matmuls, convolutions) is inside a Bayesian layer
    assert sum(per_layer.values()) == pytest.approx(total, rel=1e-6)
    costs = [per_layer[layer] / N for layer in ssvi.bayes_layers(model)]
    assert costs == pytest.approx(expected, rel=1e-9)
    prof = profile_flops(model, x)
    assert prof.train_step == prof.train_step_dense == pytest.approx(total / N, rel=1e-9)
    assert prof.dense_grad_extra == 0.0


@pytest.mark.parametrize(
    "name,density,distribution,band",
    [
        ("resnet18", 0.1, "uniform", (0.1, 0.105)),  # the issue measured 0.102
        ("resnet18", 0.05, "uniform", (0.05, 0.055)),
        ("resnet18", 0.1, "erk", (0.15, 0.35)),  # ERK keeps the small early layers denser
        ("cnn", 0.1, "erk", (0.05, 0.1)),  # ... and its big conv2 sparser than fc1
        ("cnn1d", 0.1, "uniform", (0.1, 0.15)),  # the dense first conv costs 0.138 here
        ("cnn1d", 0.1, "erk", (0.05, 0.1)),  # its 32x32x3 convs at 0.05, the first at 0.55
    ],
)
def test_sparse_profile_follows_layer_densities(
    name: str, density: float, distribution: str, band: tuple[float, float], resnet18: nn.Module
) -> None:
    model = copy.deepcopy(resnet18) if name == "resnet18" else bayesian(name)
    ssvi.SparseSubspace(model, density, distribution)
    x = batch(name)
    dens = [layer.density for layer in ssvi.bayes_layers(model)]
    fwd = forward_flops(model, x)  # hand counts of the dense layers (masks change no shape)
    train = train_flops(fwd)
    prof = profile_flops(model, x)
    assert prof.train_step_dense == pytest.approx(sum(train), rel=1e-9)
    ratio = prof.train_step / prof.train_step_dense
    assert 0.0 < prof.train_step < prof.train_step_dense
    assert ratio == pytest.approx(dot(dens, train) / sum(train), rel=1e-9)
    assert band[0] <= ratio <= band[1]
    # inference: the mean forward, sparse-scaled; a dense-gradient step adds each sparse layer's
    # dense weight gradient of the mean convolution, (1 - density) x its forward
    assert prof.inference == pytest.approx(dot(dens, fwd), rel=1e-9)
    assert prof.dense_grad_extra == pytest.approx(dot([1.0 - d for d in dens], fwd), rel=1e-9)
    assert 0.0 < prof.inference < prof.train_step and prof.dense_grad_extra > 0.0
