"""Compact export of a trained model: only the active weights (packed mask, mu, rho) plus the
deterministic parameters and buffers, and the run config to rebuild the architecture.

A dense VI model stores mu and sigma for every weight (8 bytes per weight in float32); an SSVI
model at density d stores a bit mask (1/8 byte per weight) and mu, rho of the active weights
(8 d bytes per weight), i.e. about d + 1/64 of the dense file. sigma is stored as its parameter
rho (sigma = softplus(rho) or exp(rho)) so that a loaded model predicts bit for bit the same.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ssvi.config import RunConfig, make_config
from ssvi.io import atomic_write, load_safely
from ssvi.layers import BayesLayer, convert_to_bayesian, rho_from_sigma
from ssvi.models import create_model

FORMAT = "ssvi-compact-v1"


def _pack_layer(layer: BayesLayer) -> dict[str, Any]:
    mu, rho = layer.weight_mu.detach().cpu(), layer.weight_rho.detach().cpu()
    if layer.mask is None:
        return {
            "shape": tuple(mu.shape),
            "mask": None,
            "mu": mu.flatten(),
            "rho": rho.flatten(),
        }
    mask = layer.mask.cpu().flatten()
    packed = torch.from_numpy(np.packbits(mask.numpy()))
    return {
        "shape": tuple(mu.shape),
        "mask": packed,
        "mu": mu.flatten()[mask],
        "rho": rho.flatten()[mask],
    }


def export_state(
    model: nn.Module, cfg: RunConfig, input_shape: tuple[int, int, int], num_classes: int
) -> dict[str, Any]:
    """The compact state of ``model`` (see module docstring)."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, BayesLayer)}
    bayes_keys = {f"{name}.{k}" for name in layers for k in ("weight_mu", "weight_rho", "mask")}
    rest = {k: v.detach().cpu() for k, v in model.state_dict().items() if k not in bayes_keys}
    return {
        "format": FORMAT,
        "cfg": cfg.to_dict(),
        "input_shape": tuple(input_shape),
        "num_classes": num_classes,
        "layers": {name: _pack_layer(m) for name, m in layers.items()},
        "deterministic": rest,
    }


def export_bytes(
    model: nn.Module, cfg: RunConfig, input_shape: tuple[int, int, int], num_classes: int
) -> bytes:
    """The compact file of ``model`` (tensors and plain data: it loads with
    ``torch.load(weights_only=True)``, so a file from someone else cannot run code)."""
    buf = io.BytesIO()
    torch.save(export_state(model, cfg, input_shape, num_classes), buf)
    return buf.getvalue()


def export_model(
    model: nn.Module,
    cfg: RunConfig,
    input_shape: tuple[int, int, int],
    num_classes: int,
    path: str | Path,
) -> int:
    """Write the compact file of ``model`` atomically; returns its size in bytes."""
    data = export_bytes(model, cfg, input_shape, num_classes)
    atomic_write(path, lambda f: f.write(data))
    return len(data)


def is_exported(state: Any) -> bool:
    """Whether a loaded file is a compact model file (not a training checkpoint)."""
    return isinstance(state, dict) and state.get("format") == FORMAT


def load_exported(path: str | Path, device: str = "cpu") -> tuple[nn.Module, RunConfig]:
    """Rebuild the Bayesian model from a compact file; returns ``(model, cfg)``.

    Raises:
        ssvi.io.UnsafeFileError: the file holds more than tensors and plain data.
        ValueError: a safe file that is not a compact model file.
    """
    state = load_safely(path, "a model file written by `ssvi export`")
    return model_from_state(state, path, device)


def model_from_state(
    state: Any, path: str | Path = "model file", device: str = "cpu"
) -> tuple[nn.Module, RunConfig]:
    """Rebuild the Bayesian model from a loaded compact file's contents."""
    if not is_exported(state):
        raise ValueError(f"{path}: not an ssvi compact model file (expected format {FORMAT})")
    cfg = make_config(state["cfg"])
    model = create_model(cfg.model, state["input_shape"], state["num_classes"], cfg.width)
    convert_to_bayesian(model, cfg.prior_std, cfg.sigma_param)
    model.load_state_dict(state["deterministic"], strict=False)
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, packed in state["layers"].items():
            layer = modules[name]
            assert isinstance(layer, BayesLayer)
            n = int(np.prod(packed["shape"]))
            if packed["mask"] is None:
                mask = torch.ones(n, dtype=torch.bool)
            else:
                bits = np.unpackbits(packed["mask"].numpy(), count=n).astype(bool)
                mask = torch.from_numpy(bits)
            mu = torch.zeros(n)
            rho = rho_from_sigma(torch.ones(n), layer.sigma_param)  # inactive entries: unused
            mu[mask], rho[mask] = packed["mu"], packed["rho"]
            layer.weight_mu.copy_(mu.view(packed["shape"]))
            layer.weight_rho.copy_(rho.view(packed["shape"]))
            layer.set_mask(None if packed["mask"] is None else mask.view(packed["shape"]))
    return model.to(device), cfg
