"""Deterministic architectures by name (``create_model``); the trainer makes them Bayesian."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision.models import resnet18 as tv_resnet18

InputShape = tuple[int, int, int]


def mlp(input_shape: InputShape, num_classes: int, width: int = 256) -> nn.Module:
    """Two hidden layers of ``width`` ReLU units."""
    c, h, w = input_shape
    return nn.Sequential(
        nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
        nn.Linear(width, num_classes),
    )  # fmt: skip


def cnn(input_shape: InputShape, num_classes: int) -> nn.Module:
    """conv 32 -> conv 64 -> max-pool -> linear 128 -> classes (1024 features on 8x8 digits)."""
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * (h // 2) * (w // 2), 128), nn.ReLU(),
        nn.Linear(128, num_classes),
    )  # fmt: skip


def cnn1d(input_shape: InputShape, num_classes: int, width: int = 32) -> nn.Module:
    """Three 1D convolutions of ``width`` channels (kernel 5, then 3 and 3, each stride 2) ->
    linear -> classes, the MNIST-1D CNN of Greydanus (2020) at width 32 (the paper: 25).

    Inputs ``(C, H, W)`` are read as ``C x H`` channels of a signal of length ``W``: a 1D signal
    is ``(1, 1, length)`` (MNIST-1D: ``(1, 1, 40)``, 5 positions left after the three strides).
    """
    c, h, w = input_shape
    length = w
    for kernel, pad in ((5, 2), (3, 1), (3, 1)):  # the output length of each stride-2 conv
        length = (length + 2 * pad - kernel) // 2 + 1
    return nn.Sequential(
        nn.Flatten(1, 2), nn.Conv1d(c * h, width, 5, stride=2, padding=2), nn.ReLU(),
        nn.Conv1d(width, width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(width, width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(width * length, num_classes),
    )  # fmt: skip


def resnet18(input_shape: InputShape, num_classes: int) -> nn.Module:
    """ResNet-18, CIFAR variant: 3x3 stride-1 stem and no max-pool (as the SSVI reference)."""
    model = tv_resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(input_shape[0], 64, 3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "cnn": cnn,
    "cnn1d": cnn1d,
    "resnet18": resnet18,
}

# The models whose width (hidden units of the MLP, channels of the 1D CNN) a run config can set.
WIDTH_MODELS = frozenset({"mlp", "cnn1d"})


def create_model(
    name: str, input_shape: InputShape, num_classes: int, width: int | None = None
) -> nn.Module:
    """Build the deterministic model ``name`` for inputs of ``input_shape`` (C, H, W); ``width``
    (models in ``WIDTH_MODELS`` only) replaces the model's own default width, None keeps it."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(map(repr, MODELS))}")
    if width is None:
        return MODELS[name](input_shape, num_classes)
    if name not in WIDTH_MODELS:
        raise ValueError(
            f"model {name!r} has no width; models with a width: {', '.join(sorted(WIDTH_MODELS))}"
        )
    if width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    return MODELS[name](input_shape, num_classes, width=width)
