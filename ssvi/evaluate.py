"""Predictions and metrics of a Bayesian model: mean weights and the K-sample model average."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssvi import metrics as M
from ssvi.config import RunConfig
from ssvi.data import SPLIT_SEED, load_dataset
from ssvi.device import resolve_device
from ssvi.layers import forward_mode

EVAL_BATCH = 1000


@torch.no_grad()
def predict(
    model: nn.Module,
    x: Tensor,
    mode: str = "sample",
    samples: int = 1,
    autocast: contextlib.AbstractContextManager[object] | None = None,
    channels_last: bool = False,
) -> Tensor:
    """Predictive probabilities [N, C]: mean weights (``mean``) or the average of ``samples``
    forward passes with freshly sampled weights (``sample``: the Bayesian model average)."""
    model.eval()
    out = []
    with forward_mode(model, mode), autocast or contextlib.nullcontext():
        for i in range(0, len(x), EVAL_BATCH):
            xb = x[i : i + EVAL_BATCH]
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            probs = torch.stack([F.softmax(model(xb).float(), -1) for _ in range(samples)])
            out.append(probs.mean(0))
    return torch.cat(out)


def split_metrics(
    model: nn.Module,
    prefix: str,
    x: Tensor,
    y: Tensor,
    samples: int,
    ood_x: Tensor | None = None,
    **predict_kwargs: object,
) -> dict[str, float]:
    """``{prefix}_accuracy`` etc. for the model average, ``..._mean_weights`` for the mean model,
    and ``{prefix}_ood_*`` (predictive entropy / max probability) when ``ood_x`` is given."""
    if len(y) == 0:
        return {}
    bma = predict(model, x, "sample", samples, **predict_kwargs)  # type: ignore[arg-type]
    mean = predict(model, x, "mean", 1, **predict_kwargs)  # type: ignore[arg-type]
    out = {f"{prefix}_{k}": v for k, v in M.classification_metrics(bma, y).items()}
    mean_metrics = M.classification_metrics(mean, y).items()
    out.update({f"{prefix}_{k}_mean_weights": v for k, v in mean_metrics})
    if ood_x is not None and len(ood_x):
        ood = predict(model, ood_x, "sample", samples, **predict_kwargs)  # type: ignore[arg-type]
        out.update({f"{prefix}_{k}": v for k, v in M.ood_detection(bma, ood).items()})
    return out


def evaluate_model(model: nn.Module, cfg: RunConfig) -> dict[str, float]:
    """Test metrics (with OOD detection) of ``model`` on the dataset of ``cfg``, seeded by it."""
    device = resolve_device(cfg.device)
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.val_fraction, SPLIT_SEED).to(device)
    torch.manual_seed(cfg.seed)
    model = model.to(device)
    return split_metrics(model, "test", data.test_x, data.test_y, cfg.eval_samples, data.ood_x)
