"""One training run: SSVI (density < 1) or dense mean-field VI (density 1.0) from a RunConfig.

Loss per minibatch = cross-entropy + beta_t * kl_weight / N_train * KL(q || prior), beta_t rising
linearly from 0 to 1 over the first ``kl_warmup`` of training; cosine learning-rate schedule per
step; subspace updates every ``update_interval`` steps until ``t_end`` (the optimizer step of an
update iteration is skipped, as in the reference code). Validation metrics after every epoch, test
metrics (and OOD detection) once at the end. Callbacks see every epoch's metrics and may save the
trainer's state or stop the run, so the CLI and Ray Tune drive the same loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssvi.batches import BatchIterator
from ssvi.config import RunConfig, make_config
from ssvi.data import SPLIT_SEED, DatasetSplits, load_dataset
from ssvi.device import resolve_device
from ssvi.evaluate import split_metrics
from ssvi.export import export_bytes
from ssvi.flops import FlopProfile, profile_flops
from ssvi.io import atomic_write, load_safely
from ssvi.layers import bayes_layers, convert_to_bayesian, init_posterior_, kl_divergence
from ssvi.models import create_model
from ssvi.schedule import CosineDropSchedule
from ssvi.subspace import SparseSubspace

COMPLETED, DIVERGED, STOPPED = "completed", "diverged", "stopped"


class Callback(Protocol):
    """Called after every epoch with that epoch's metrics; return True to stop the run."""

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> bool | None: ...


@dataclass
class RunResult:
    status: str  # completed | diverged | stopped
    epochs_completed: int
    metrics: dict[str, float]  # final val_* and test_* metrics
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """Builds the model, subspace and optimizer of ``cfg`` and trains it (see module docstring).

    Args:
        cfg: the run configuration (validated here).
        data: the dataset, e.g. shared through Ray's object store; loaded from ``cfg`` if None.
        callbacks: objects with ``on_epoch_end(trainer, metrics)``.
    """

    def __init__(
        self,
        cfg: RunConfig,
        data: DatasetSplits | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.cfg = cfg.validate()
        self.device = resolve_device(cfg.device)
        self.callbacks = list(callbacks)
        torch.manual_seed(cfg.seed)
        if data is None:
            data = load_dataset(cfg.dataset, cfg.data_dir, cfg.val_fraction, SPLIT_SEED)
        self.data = data.to(self.device)
        self.model = self._build_model()
        self.batches = BatchIterator(
            self.data.train_x, self.data.train_y, cfg.batch_size, shuffle=True, seed=cfg.seed,
            augment=self.data.augment,
        )  # fmt: skip
        self.steps_per_epoch = len(self.batches)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        t_end = int(cfg.t_end * self.total_steps)
        # alpha = 0 keeps the initial random mask fixed (no update iterations at all)
        schedule = (
            CosineDropSchedule(cfg.alpha, cfg.update_interval, t_end) if cfg.alpha > 0 else None
        )
        self.subspace = SparseSubspace(
            self.model, cfg.density, cfg.distribution, schedule, cfg.removal, cfg.addition,
            cfg.new_sigma, cfg.grow_accumulation, cfg.lam, cfg.seed,
        )  # fmt: skip
        gen = torch.Generator().manual_seed(cfg.seed)
        init_posterior_(
            self.model, cfg.mu_init, cfg.init_mu_std, cfg.init_sigma, cfg.init_sigma_spread, gen
        )
        self.optimizer = self._build_optimizer()
        # Masks are graph inputs, so subspace updates do not recompile; a short last batch adds
        # one more graph (dynamic=False: two static shapes beat one dynamic graph).
        self._compiled = None
        if cfg.compile != "off":
            # Compiled code is cached per function across trainers: trials that share a process
            # (Ray reuses actors) would fill the recompile limit and silently run eagerly.
            torch._dynamo.reset()
            self._compiled = torch.compile(self._loss_terms, mode=cfg.compile, dynamic=False)
        total = max(self.total_steps, 1)
        self.lr_schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total))
        )
        self.epoch = 0
        self.step = 0
        self.capture_steps = 0
        self.wall_time = 0.0
        self.history: list[dict[str, float]] = []
        self._flops: FlopProfile | None = None

    # --- construction ----------------------------------------
    def _build_model(self) -> nn.Module:
        cfg = self.cfg
        model = create_model(cfg.model, self.data.input_shape, self.data.num_classes, cfg.width)
        convert_to_bayesian(model, cfg.prior_std, cfg.sigma_param, cfg.mu_init, cfg.init_mu_std)
        model = model.to(self.device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def _build_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.cfg
        rho = [p for n, p in self.model.named_parameters() if n.endswith("weight_rho")]
        rest = [p for n, p in self.model.named_parameters() if not n.endswith("weight_rho")]
        groups = [
            {"params": rest, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
            {"params": rho, "lr": cfg.lr_rho or cfg.lr, "weight_decay": 0.0},  # never decay rho
        ]
        # foreach: one multi-tensor operator per group, not one per parameter (CUDA's default;
        # the same numbers on CPU, bit for bit)
        if cfg.optimizer == "adam":
            return torch.optim.Adam(groups, foreach=True)
        return torch.optim.SGD(groups, momentum=cfg.momentum, foreach=True)

    # --- training ----------------------------------------
    def kl_beta(self, step: int) -> float:
        warm = self.cfg.kl_warmup * self.total_steps
        return 1.0 if warm <= 0 else min(1.0, step / warm)

    def _autocast(self) -> torch.autocast:
        enabled = self.cfg.precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _loss_terms(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-entropy of one minibatch and the model's KL: the part ``compile`` compiles."""
        with self._autocast():
            logits = self.model(x)
        return F.cross_entropy(logits.float(), y), kl_divergence(self.model)

    def train_epoch(self) -> dict[str, float]:
        cfg, model = self.cfg, self.model
        model.train()
        n_train = len(self.data.train_y)
        sums = torch.zeros(3, device=self.device, dtype=torch.float64)  # loss, nll, kl
        for x, y in self.batches.epoch(self.epoch):
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self.subspace.before_step(self.step)
            capturing = any(layer.capture_grad for layer in self.subspace.layers)
            # the few steps that capture dense gradients (through tensor hooks) run eagerly
            terms = self._loss_terms if capturing or self._compiled is None else self._compiled
            nll, kl = terms(x, y)
            loss = nll + self.kl_beta(self.step) * cfg.kl_weight / n_train * kl
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.capture_steps += int(capturing)
            self.step += 1
            if not self.subspace.maybe_update(self.step, self.optimizer):
                self.optimizer.step()
            self.lr_schedule.step()
            sums += torch.stack([loss.detach(), nll.detach(), kl.detach()]).double()
        sums /= max(self.steps_per_epoch, 1)
        loss_v, nll_v, kl_v = sums.tolist()
        return {"train_loss": loss_v, "train_nll": nll_v, "kl": kl_v}

    def diverged(self, epoch_metrics: dict[str, float]) -> bool:
        if not math.isfinite(epoch_metrics["train_loss"]):
            return True
        return not all(torch.isfinite(p).all() for p in self.model.parameters())

    def fit(self) -> RunResult:
        """Train for the remaining epochs; returns the status, final metrics and history.

        A run whose loss or parameters become NaN/inf ends with status ``diverged``; its final
        metrics are those of its last finite state (the model at the end of the last epoch that
        finished finite, ``last_finite_epoch``), evaluated on the validation and test sets, or
        none when it diverged in its first epoch (``last_finite_epoch`` 0).
        """
        status = COMPLETED
        last_finite = (self.epoch, self._model_state()) if self.epoch else None
        while self.epoch < self.cfg.epochs:
            start = time.perf_counter()
            row: dict[str, float] = {"epoch": self.epoch + 1}
            row.update(self.train_epoch())
            self.epoch += 1
            if self.diverged(row):
                status = DIVERGED
                self.wall_time += time.perf_counter() - start
                row["lr"] = float(self.lr_schedule.get_last_lr()[0])
                self.history.append(row)
                break
            row.update(self.evaluate("val"))
            row["lr"] = float(self.lr_schedule.get_last_lr()[0])
            self.wall_time += time.perf_counter() - start
            row["wall_time_s"] = self.wall_time
            self.history.append(row)
            last_finite = (self.epoch, self._model_state())
            stop = [bool(cb.on_epoch_end(self, dict(row))) for cb in self.callbacks]
            if any(stop) and self.epoch < self.cfg.epochs:
                status = STOPPED
                break
        final = dict(self.history[-1]) if self.history else {}
        if status != DIVERGED:
            final.update(self.evaluate("test"))
        else:
            final["last_finite_epoch"] = float(last_finite[0]) if last_finite else 0.0
            if last_finite is not None:
                diverged_state = self._model_state()
                self.model.load_state_dict(last_finite[1])
                final.update(self.evaluate("val"))
                final.update(self.evaluate("test"))
                self.model.load_state_dict(diverged_state)  # the checkpoint keeps what happened
        final.update(self.cost_metrics())
        return RunResult(status, self.epoch, final, list(self.history))

    def _model_state(self) -> dict[str, Tensor]:
        """A copy of the model's parameters and buffers (masks included)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    # --- evaluation ----------------------------------------
    def evaluate(self, split: str) -> dict[str, float]:
        """Metrics of the Bayesian model average (K samples) and the mean weights on ``split``;
        for ``test`` also OOD detection on the dataset's OOD set."""
        d = self.data
        x, y = (d.val_x, d.val_y) if split == "val" else (d.test_x, d.test_y)
        ood = d.ood_x if split == "test" else None
        return split_metrics(
            self.model, split, x, y, self.cfg.eval_samples, ood,
            autocast=self._autocast(), channels_last=self.cfg.channels_last,
        )  # fmt: skip

    # --- cost ----------------------------------------
    def flop_profile(self) -> FlopProfile:
        if self._flops is None:
            self._flops = profile_flops(self.model, self.data.train_x[:2])
        return self._flops

    def cost_metrics(self) -> dict[str, float]:
        """Training FLOPs so far, inference FLOPs per example, active parameters, wall time."""
        prof = self.flop_profile()
        examples = self.epoch * len(self.data.train_y)
        active_weights = sum(layer.num_active for layer in bayes_layers(self.model))
        weights = sum(layer.weight_mu.numel() for layer in bayes_layers(self.model))
        deterministic = sum(
            p.numel()
            for n, p in self.model.named_parameters()
            if not n.endswith(("weight_mu", "weight_rho"))
        )
        return {
            "train_flops": prof.train_step * examples
            + prof.dense_grad_extra * self.capture_steps * self.cfg.batch_size,
            "inference_flops": prof.inference,
            "active_weights": float(active_weights),
            "total_weights": float(weights),
            "active_params": float(active_weights + deterministic),
            "model_bytes": float(len(self.export_bytes())),
            "wall_time_s": self.wall_time,
        }

    def export_bytes(self) -> bytes:
        """The compact model file of the current model (``ssvi.export``)."""
        d = self.data
        return export_bytes(self.model, self.cfg, d.input_shape, d.num_classes)

    # --- checkpoints ----------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "cfg": self.cfg.to_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "capture_steps": self.capture_steps,
            "wall_time": self.wall_time,
            "history": self.history,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_schedule": self.lr_schedule.state_dict(),
            "subspace": self.subspace.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_schedule.load_state_dict(state["lr_schedule"])
        self.subspace.load_state_dict(state["subspace"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.capture_steps, self.wall_time = state["capture_steps"], state["wall_time"]
        self.history = list(state["history"])
        torch.set_rng_state(state["rng_cpu"])
        if state.get("rng_cuda") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng_cuda"])

    def save_checkpoint(self, path: str | Path) -> None:
        """Full training state, written atomically."""
        atomic_write(path, lambda f: torch.save(self.state_dict(), f))

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        data: DatasetSplits | None = None,
        callbacks: Sequence[Callback] = (),
        **cfg_changes: Any,
    ) -> Trainer:
        """Rebuild a trainer from :meth:`save_checkpoint` (``cfg_changes``: e.g. device).

        The file is read with ``torch.load(weights_only=True)``: tensors, numbers, strings and
        containers only, so a checkpoint from someone else cannot run code when loaded.
        """
        state = load_safely(path, "a training checkpoint (OUT/checkpoint.pt of `ssvi train`)")
        cfg = make_config({**state["cfg"], **cfg_changes})
        trainer = cls(cfg, data, callbacks)
        trainer.load_state_dict(state)
        return trainer


def train(
    cfg: RunConfig, data: DatasetSplits | None = None, callbacks: Sequence[Callback] = ()
) -> RunResult:
    """Train one run from scratch and return its result."""
    return Trainer(cfg, data, callbacks).fit()
