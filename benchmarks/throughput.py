"""Training throughput through the project's own trainer: deterministic vs dense VI vs SSVI.

    python benchmarks/throughput.py                                   # CPU, digits-sized CNN
    python benchmarks/throughput.py --model resnet18 --shape 3,32,32 --batch-size 128 --device cuda
    python benchmarks/throughput.py --device cuda --precision bf16 --channels-last --batch-size 512
    python benchmarks/throughput.py --compile default  # all three runs through torch.compile

Deterministic: the same architecture trained by a plain loop (SGD, cross-entropy). Dense VI and
SSVI: ``Trainer.train_epoch`` (LRT forward, KL, optimizer, and for SSVI masks, removal scoring and
drop/grow updates every ``--update-interval`` steps). All three iterate the same GPU/CPU-resident
synthetic data. Also prints the compact export size of each Bayesian model, and the operators a
Bayesian training step dispatches (views excluded; a subspace update and its gradient captures
amortised over the update interval): on a GPU nearly every one launches a kernel, so when steps are
launch-bound (eager, small batches) their count predicts step time there. One run measures all
three, so the ratios are comparable even on a noisy machine. The last line is a summary.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from ssvi.batches import BatchIterator
from ssvi.config import COMPILE_MODES, make_config
from ssvi.data import load_dataset
from ssvi.device import resolve_device
from ssvi.models import create_model
from ssvi.train import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class OpCounter(TorchDispatchMode):
    """Counts the aten operators dispatched inside it, except views (metadata only, no kernel)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        ret = func._schema.returns
        if not (ret and ret[0].alias_info is not None and not ret[0].alias_info.is_write):
            self.count += 1
        return func(*args, **(kwargs or {}))


def _count(fn) -> int:
    with OpCounter() as counter:
        fn()
    return counter.count


def ops_per_step(trainer: Trainer) -> float:
    """Operators per eager training step while the subspace still changes: a plain step, plus a
    subspace update and its dense-gradient captures amortised over ``update_interval`` steps."""
    cfg, sub = trainer.cfg, trainer.subspace
    schedule, sub.schedule = sub.schedule, None  # plain steps: no captures, no updates
    try:
        plain = _count(trainer.train_epoch) / trainer.steps_per_epoch
        trainer.epoch += 1
        if schedule is None or sub.is_dense:
            return plain
        extra = 0.0
        if cfg.addition == "grad":  # every step of this epoch captures the dense gradients
            for layer in sub.layers:
                layer.capture_grad = True
            capture = _count(trainer.train_epoch) / trainer.steps_per_epoch - plain
            trainer.epoch += 1
            extra += cfg.grow_accumulation * capture
        extra += _count(lambda: sub.update(0.1, trainer.optimizer))  # uses the captured gradients
    finally:
        sub.schedule = schedule
        for layer in sub.layers:
            layer.capture_grad = False
            layer.dense_grad, layer.dense_grad_count = None, 0
    return plain + extra / cfg.update_interval


def deterministic(args: argparse.Namespace, data, device: torch.device) -> float:
    model = create_model(args.model, data.input_shape, data.num_classes).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = BatchIterator(data.train_x, data.train_y, args.batch_size, seed=0)
    enabled = args.precision == "bf16"
    forward = torch.compile(model, mode=args.compile, dynamic=False) if args.compile else model

    def epoch(e: int) -> None:
        for x, y in batches.epoch(e):
            if args.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
                loss = F.cross_entropy(forward(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    epoch(0)  # warm-up
    _sync(device)
    start = time.perf_counter()
    for e in range(1, args.epochs + 1):
        epoch(e)
    _sync(device)
    return args.epochs * len(data.train_y) / (time.perf_counter() - start)


def bayesian_pair(args: argparse.Namespace, data, density: float) -> dict[str, dict[str, float]]:
    """images/s of dense VI and SSVI, timed in alternating epochs (median of ``args.epochs``), so
    that machine noise hits both alike; their compact export sizes and operators per step."""

    def build(d: float) -> Trainer:
        cfg = make_config({
            "dataset": "synthetic", "model": args.model, "density": d, "batch_size": args.batch_size,
            "epochs": 2 * args.epochs + 4, "update_interval": args.update_interval,
            "device": args.device, "precision": args.precision, "channels_last": args.channels_last,
            "lr": 0.01, "compile": args.compile or "off",
        })  # fmt: skip
        trainer = Trainer(cfg, data)
        trainer.train_epoch()  # warm-up
        trainer.epoch += 1
        return trainer

    trainers = {"dense": build(1.0), "ssvi": build(density)}
    times: dict[str, list[float]] = {"dense": [], "ssvi": []}
    for _ in range(args.epochs):
        for key, trainer in trainers.items():
            _sync(trainer.device)
            start = time.perf_counter()
            trainer.train_epoch()
            _sync(trainer.device)
            times[key].append(time.perf_counter() - start)
            trainer.epoch += 1
    n = len(data.train_y)
    return {
        key: {
            "rate": n / statistics.median(times[key]),
            "bytes": len(trainer.export_bytes()),
            "ops": float("nan") if args.compile else ops_per_step(trainer),
        }
        for key, trainer in trainers.items()
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="cnn")
    p.add_argument("--shape", default="1,8,8", help="C,H,W of the synthetic images")
    p.add_argument("--n-train", type=int, default=4096)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--epochs", type=int, default=5, help="timed epochs per run (after a warm-up epoch)"
    )
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--update-interval", type=int, default=25)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument(
        "--compile", choices=COMPILE_MODES[1:], help="torch.compile every run's step in this mode"
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    shape = tuple(int(v) for v in args.shape.split(","))
    data = load_dataset(
        "synthetic", shape=shape, n_train=args.n_train, n_test=256, val_fraction=0.0
    ).to(device)
    det = deterministic(args, data, device)
    runs = bayesian_pair(args, data, args.density)
    dense, ssvi = runs["dense"]["rate"], runs["ssvi"]["rate"]
    dense_bytes, ssvi_bytes = int(runs["dense"]["bytes"]), int(runs["ssvi"]["bytes"])
    dense_ops, ssvi_ops = runs["dense"]["ops"], runs["ssvi"]["ops"]
    ops_cell = {k: "-" if args.compile else f"{v['ops']:,.0f}" for k, v in runs.items()}
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    print(f"device: {name}; model {args.model}, input {shape}, batch {args.batch_size}, {args.precision}"
          f"{', channels_last' if args.channels_last else ''}"
          f"{f', compiled ({args.compile})' if args.compile else ''}, torch {torch.__version__}")  # fmt: skip
    print(
        f"{'run':<22}{'images/s':>12}{'vs deterministic':>18}{'export bytes':>14}{'ops/step':>10}"
    )
    print(f"{'deterministic':<22}{det:>12,.0f}{1.0:>18.2f}{'-':>14}{'-':>10}")
    print(
        f"{'dense VI':<22}{dense:>12,.0f}{dense / det:>18.2f}{dense_bytes:>14,}{ops_cell['dense']:>10}"
    )
    print(
        f"{f'SSVI density {args.density}':<22}{ssvi:>12,.0f}{ssvi / det:>18.2f}{ssvi_bytes:>14,}"
        f"{ops_cell['ssvi']:>10}"
    )
    overhead = dense / ssvi - 1.0
    ops = "" if args.compile else f"; operators per step {ssvi_ops / dense_ops - 1.0:+.1%}"
    print(f"summary: deterministic {det:,.0f}, dense VI {dense:,.0f}, SSVI {ssvi:,.0f} images/s; "
          f"SSVI step-time overhead over dense VI {overhead:+.1%}{ops}; "
          f"SSVI/dense VI file size {ssvi_bytes / dense_bytes:.3f} (density {args.density})")  # fmt: skip


if __name__ == "__main__":
    main()
