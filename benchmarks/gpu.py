"""GPU benchmark: CIFAR ResNet-18 training throughput through the project's trainer, measured the
ways a study can run it, against the 20,000 images/s per GPU target for the paper's recipe (batch
128, SSVI at density 0.1). Estimated 5-10 minutes on one H100/H200 (not yet run on one; --parts
runs a subset). Prints tables and one summary line last; record the output in
benchmarks/RESULTS.md with the GPU model and the date.

1. eager: deterministic, dense VI and SSVI at fp32/batch 128 (the paper's recipe), bf16 +
   channels_last at batch 128 and 512; SSVI's step-time overhead over dense VI, and
   how many more operators (kernel launches) its step dispatches.
2. compiled: SSVI with `compile: default` and `compile: reduce-overhead` (CUDA graphs) at bf16 +
   channels_last, batch 128 and 512.
3. concurrent: 2 and 4 SSVI trials (batch 128) sharing the GPU as separate processes, as a study
   with `--gpus-per-trial 0.5` / `0.25` runs them: their summed images/s.
4. the time of one subspace update over all ResNet-18 weights.

    python benchmarks/gpu.py                          # needs CUDA
    PYTHONPATH=. python benchmarks/gpu.py             # on a machine with torch but no install
    python benchmarks/gpu.py --parts eager,update     # a subset
    python benchmarks/gpu.py --quick --device cpu --model cnn   # smoke test of the script
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import queue
import time
from types import SimpleNamespace

import torch
from throughput import _sync, bayesian_pair, deterministic

from ssvi.config import make_config
from ssvi.data import DatasetSplits, load_dataset
from ssvi.train import Trainer

TARGET = 20_000  # images/s per GPU for the paper's recipe (batch 128)
EAGER = [("fp32", False, 128), ("bf16", True, 128), ("bf16", True, 512)]  # precision, NHWC, batch
COMPILED = [
    ("default", 128),
    ("reduce-overhead", 128),
    ("default", 512),
]  # mode, batch (bf16, NHWC)
PARTS = ("eager", "compiled", "concurrent", "update")
STARTUP_TIMEOUT = 600.0  # seconds for every concurrent trial to build (and compile) its model


def synthetic(n_train: int, device: str) -> DatasetSplits:
    data = load_dataset("synthetic", shape=(3, 32, 32), n_train=n_train, n_test=64, val_fraction=0)
    return data.to(device)


def ssvi_trainer(
    data: DatasetSplits, model: str, device: str, batch: int, compile_mode: str
) -> Trainer:
    cfg = make_config({
        "dataset": "synthetic", "model": model, "density": 0.1, "batch_size": batch,
        "epochs": 1000, "update_interval": 100, "device": device, "precision": "bf16",
        "channels_last": True, "compile": compile_mode, "lr": 0.01,
    })  # fmt: skip
    return Trainer(cfg, data)


def images_per_second(trainer: Trainer, seconds: float, warm_up: bool = True) -> float:
    """Whole epochs for at least ``seconds``, after one warm-up epoch (which compiles)."""
    if warm_up:
        trainer.train_epoch()
        trainer.epoch += 1
    _sync(trainer.device)
    start, images = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        trainer.train_epoch()
        trainer.epoch += 1
        images += len(trainer.data.train_y)
    _sync(trainer.device)
    return images / (time.perf_counter() - start)


def _concurrent_trial(args: tuple, barrier, results) -> None:  # type: ignore[no-untyped-def]
    n_train, model, device, batch, compile_mode, seconds = args
    trainer = ssvi_trainer(synthetic(n_train, device), model, device, batch, compile_mode)
    trainer.train_epoch()  # warm-up and compilation, before the common start
    trainer.epoch += 1
    _sync(trainer.device)
    barrier.wait(timeout=STARTUP_TIMEOUT)  # a sibling that failed breaks the barrier
    results.put(images_per_second(trainer, seconds, warm_up=False))


def concurrent(n: int, args: tuple) -> float:
    """Summed images/s of ``n`` trials training at the same time in separate processes."""
    ctx = mp.get_context("spawn")  # CUDA needs spawned processes
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_concurrent_trial, args=(args, barrier, results), daemon=True)
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    rates: list[float] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT + 4 * args[-1] + 60
    while len(rates) < n:
        try:
            rates.append(results.get(timeout=1.0))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                for p in procs:
                    p.terminate()
                raise SystemExit(
                    f"concurrent trials: a process failed (exit codes {failed})"
                    if failed
                    else "concurrent trials: timed out"
                ) from None
    for p in procs:
        p.join()
    return sum(rates)


def update_time(model: str, device: str) -> float:
    """Seconds of one drop/grow update (scores, top-k, optimizer-state zeroing) of all weights."""
    data = load_dataset("synthetic", shape=(3, 32, 32), n_train=256, n_test=64, val_fraction=0.0)
    cfg = make_config({"dataset": "synthetic", "model": model, "device": device, "epochs": 1})
    trainer = Trainer(cfg, data)
    trainer.train_epoch()
    total = 0.0
    for i in range(7):  # two warm-up updates, five timed
        for layer in trainer.subspace.layers:  # as captured on the update step's minibatch
            layer.dense_grad, layer.dense_grad_count = torch.randn_like(layer.weight_mu), 1
        _sync(trainer.device)
        start = time.perf_counter()
        trainer.subspace.update(0.3, trainer.optimizer)
        _sync(trainer.device)
        total += (time.perf_counter() - start) * (i >= 2)
    return total / 5


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs")
    p.add_argument("--device", default="cuda")
    p.add_argument("--model", default="resnet18", help="resnet18 (the target's); cnn to smoke-test")
    p.add_argument("--parts", default=",".join(PARTS), help=f"any of {', '.join(PARTS)}")
    p.add_argument("--seconds", type=float, default=10.0, help="timed seconds per measurement")
    p.add_argument(
        "--trials", default="2,4", help="concurrent part: how many trials share the GPU (2,4)"
    )
    args = p.parse_args()
    parts = args.parts.split(",")
    if unknown := sorted(set(parts) - set(PARTS)):
        p.error(f"--parts: unknown {', '.join(unknown)}; allowed: {', '.join(PARTS)}")
    try:
        trial_counts = [int(n) for n in args.trials.split(",")]
    except ValueError:
        trial_counts = []
    if not trial_counts or min(trial_counts) < 1:
        p.error(f"--trials: comma-separated counts of 1 or more, got {args.trials!r}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA device (or --device cpu)")
    n_train = 512 if args.quick else 16384
    seconds = 0.5 if args.quick else args.seconds
    data = synthetic(n_train, args.device)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(
        f"# {name}, torch {torch.__version__}, {datetime.date.today()}, {args.model} (CIFAR), LRT"
    )
    best: dict[str, float] = {}  # batch-128 SSVI images/s of each way to run it

    if "eager" in parts:
        print(f"\n{'eager':<10}{'batch':>6}{'deterministic':>15}{'dense VI':>10}{'SSVI 0.1':>10}"
              f"{'SSVI overhead':>15}{'SSVI operators':>16}")  # fmt: skip
        for precision, cl, batch in EAGER:
            opts = SimpleNamespace(
                model=args.model, batch_size=batch, epochs=1 if args.quick else 3, density=0.1,
                update_interval=100, device=args.device, precision=precision, channels_last=cl,
                compile=None,
            )  # fmt: skip
            det = deterministic(opts, data, torch.device(args.device))
            runs = bayesian_pair(opts, data, 0.1)
            dense, ssvi = runs["dense"]["rate"], runs["ssvi"]["rate"]
            ops = runs["ssvi"]["ops"] / runs["dense"]["ops"] - 1  # per step, over dense VI's
            label = precision + ("+CL" if cl else "")
            print(f"{label:<10}{batch:>6}{det:>15,.0f}{dense:>10,.0f}{ssvi:>10,.0f}"
                  f"{dense / ssvi - 1:>+15.1%}{ops:>+16.1%}")  # fmt: skip
            if batch == 128:
                best[f"eager {label}"] = ssvi

    if "compiled" in parts:
        print(f"\n{'compiled (bf16+CL)':<22}{'batch':>6}{'SSVI 0.1':>10}{'compile s':>11}")
        for mode, batch in COMPILED:
            trainer = ssvi_trainer(data, args.model, args.device, batch, mode)  # resets dynamo
            start = time.perf_counter()
            trainer.train_epoch()  # the first epoch compiles
            trainer.epoch += 1
            first = time.perf_counter() - start
            rate = images_per_second(trainer, seconds, warm_up=False)  # the first epoch warmed up
            print(f"{mode:<22}{batch:>6}{rate:>10,.0f}{first:>11.0f}")
            if batch == 128:
                best[f"compiled {mode}"] = rate
            del trainer  # frees its CUDA graphs before the next mode compiles

    if "concurrent" in parts:
        mode = max(("default", "reduce-overhead"), key=lambda m: best.get(f"compiled {m}", 0.0))
        mode = mode if f"compiled {mode}" in best else "off"
        print(f"\n{'trials sharing the GPU':<24}{'SSVI 0.1 in total':>18}  (batch 128, bf16+CL, "
              f"compile {mode})")  # fmt: skip
        for n in trial_counts:
            total = concurrent(n, (n_train, args.model, args.device, 128, mode, seconds))
            print(f"{n:<24}{total:>18,.0f}")
            best[f"{n} trials, compile {mode}"] = total

    if "update" in parts:
        ms = update_time(args.model, args.device) * 1e3
        print(f"\none subspace update over all {args.model} weights: {ms:.1f} ms")

    if best:
        how, rate = max(best.items(), key=lambda kv: kv[1])
        verdict = "meets" if rate >= TARGET else "misses"
        print(f"summary: paper's recipe (batch 128, SSVI 0.1, {args.model}) on {name}: best {rate:,.0f} images/s "
              f"per GPU ({how}); {verdict} the {TARGET:,} target")  # fmt: skip


if __name__ == "__main__":
    main()
