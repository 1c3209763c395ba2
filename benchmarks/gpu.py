"""GPU benchmark (a few minutes on one GPU): CIFAR ResNet-18 throughput of deterministic, dense VI
and SSVI training through the project's trainer, in the precisions and batch sizes that matter,
and the time of one subspace update over all ResNet-18 weights. Prints a table; record it in
benchmarks/RESULTS.md with the GPU model and the date.

    python benchmarks/gpu.py                 # needs CUDA
    python benchmarks/gpu.py --quick --device cpu   # smoke test of the script
"""

from __future__ import annotations

import argparse
import datetime
import time
from types import SimpleNamespace

import torch
from throughput import _sync, bayesian_pair, deterministic

from ssvi.config import make_config
from ssvi.data import load_dataset
from ssvi.train import Trainer

SETTINGS = [  # (precision, channels_last, batch size)
    ("fp32", False, 128),  # the paper's recipe
    ("bf16", True, 128),
    ("bf16", True, 512),
]


def update_time(device: str) -> float:
    """Seconds of one drop/grow update (scores, top-k, optimizer-state zeroing) on ResNet-18."""
    data = load_dataset("synthetic", shape=(3, 32, 32), n_train=256, n_test=64, val_fraction=0.0)
    cfg = make_config({"dataset": "synthetic", "model": "resnet18", "device": device, "epochs": 1})
    trainer = Trainer(cfg, data)
    trainer.train_epoch()
    _sync(trainer.device)
    start = time.perf_counter()
    for _ in range(5):
        for layer in trainer.subspace.layers:  # as captured on the update step's minibatch
            layer.dense_grad, layer.dense_grad_count = torch.randn_like(layer.weight_mu), 1
        trainer.subspace.update(0.3, trainer.optimizer)
    _sync(trainer.device)
    return (time.perf_counter() - start) / 5


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA device")
    n_train = 256 if args.quick else 16384
    data = load_dataset(
        "synthetic", shape=(3, 32, 32), n_train=n_train, n_test=64, val_fraction=0.0
    )
    data = data.to(args.device)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"# {name}, torch {torch.__version__}, {datetime.date.today()}, ResNet-18 (CIFAR), LRT")
    print(
        f"{'precision':<10}{'batch':>6}{'deterministic':>15}{'dense VI':>10}{'SSVI 0.1':>10}{'SSVI/dense':>11}"
    )
    for precision, cl, batch in SETTINGS:
        opts = SimpleNamespace(
            model="resnet18", batch_size=batch, epochs=1 if args.quick else 3, density=0.1,
            update_interval=100, device=args.device, precision=precision, channels_last=cl,
        )  # fmt: skip
        det = deterministic(opts, data, torch.device(args.device))
        dense, ssvi, _, _ = bayesian_pair(opts, data, 0.1)
        label = precision + ("+CL" if cl else "")
        print(
            f"{label:<10}{batch:>6}{det:>15,.0f}{dense:>10,.0f}{ssvi:>10,.0f}{ssvi / dense:>11.3f}"
        )
    seconds = update_time(args.device)
    print(f"summary: one subspace update over ResNet-18 takes {seconds * 1e3:.1f} ms on {name}")


if __name__ == "__main__":
    main()
