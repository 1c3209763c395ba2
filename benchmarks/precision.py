"""Does bf16 autocast change what a run learns? fp32 and bf16 runs of the same seeds, paired.

    python benchmarks/precision.py            # digits CNN, 20 epochs, 8 seeds (~3 min on 2 CPUs)
    python benchmarks/precision.py --device cuda --dataset cifar10 --model resnet18 \
        --epochs 200 --batch-size 128 --seeds 3 --channels-last --data-dir ~/data

Each seed is trained twice through the project's Trainer, in fp32 and in bf16 (everything else
equal: data split, initialisation, batch order), and evaluated on the test set. For each metric
it prints the paired difference bf16 - fp32 with its 95% t interval over seeds, beside the seed
standard deviation of fp32 for scale, and the training time of each precision. bf16 is
equivalent for a study when every interval holds zero or lies well inside the seed noise. The
last line is a summary.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import stats

from ssvi.config import ConfigError, make_config
from ssvi.data import DATASETS, SPLIT_SEED, load_dataset
from ssvi.device import resolve_device
from ssvi.models import MODELS
from ssvi.train import COMPLETED, Trainer

METRICS = {  # result key -> label
    "test_accuracy": "accuracy",
    "test_nll": "NLL",
    "test_ece": "ECE",
    "test_ood_auroc": "OOD AUROC",
}


def paired_interval(deltas: list[float]) -> tuple[float, float, float]:
    """Mean of the paired differences and its two-sided 95% Student-t interval."""
    d = np.asarray(deltas, dtype=float)
    mean = float(d.mean())
    if d.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return mean, mean - half, mean + half


def run(base: dict, data, seed: int, precision: str) -> tuple[dict | None, float]:
    """Test metrics of one run (None if it diverged) and its wall time."""
    cfg = make_config({**base, "seed": seed, "precision": precision})
    start = time.perf_counter()
    result = Trainer(cfg, data).fit()
    seconds = time.perf_counter() - start
    if result.status != COMPLETED:
        print(f"seed {seed} {precision}: {result.status} after {result.epochs_completed} epochs")
        return None, seconds
    return result.metrics, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="digits", choices=DATASETS)
    p.add_argument("--data-dir", default="data")
    p.add_argument("--model", default="cnn", choices=sorted(MODELS))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 (at least 2)")
    p.add_argument("--density", type=float, default=0.1, help="1.0 for dense VI")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--eval-samples", type=int, default=4)
    p.add_argument("--device", default="auto")
    p.add_argument("--channels-last", action="store_true", help="for both precisions")
    args = p.parse_args()
    if args.seeds < 2:
        p.error(f"--seeds must be at least 2 for an interval, got {args.seeds}")
    base = {
        "dataset": args.dataset, "data_dir": args.data_dir, "model": args.model,
        "epochs": args.epochs, "density": args.density, "batch_size": args.batch_size,
        "device": args.device, "channels_last": args.channels_last,
        "eval_samples": args.eval_samples,
    }  # fmt: skip
    try:  # every field checked before the data is loaded
        cfg = make_config(base)
        device = resolve_device(cfg.device)
    except (ConfigError, RuntimeError) as err:
        p.error(str(err))
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.val_fraction, SPLIT_SEED)
    print(
        f"{args.dataset} {args.model}, density {args.density}, {args.epochs} epochs, "
        f"batch {args.batch_size}, device {device}"
        f"{', channels_last' if args.channels_last else ''}; bf16 - fp32 paired by seed"
    )
    fp32: dict[str, list[float]] = {k: [] for k in METRICS}
    deltas: dict[str, list[float]] = {k: [] for k in METRICS}
    seconds = {"fp32": 0.0, "bf16": 0.0}
    diverged: list[str] = []  # a seed whose run diverged in either precision has no pair
    for seed in range(args.seeds):
        a, seconds_a = run(base, data, seed, "fp32")
        b, seconds_b = run(base, data, seed, "bf16")
        seconds["fp32"] += seconds_a
        seconds["bf16"] += seconds_b
        if a is None or b is None:
            diverged.append(f"seed {seed} ({'fp32' if a is None else 'bf16'})")
            continue
        for key in METRICS:
            fp32[key].append(a.get(key, float("nan")))
            deltas[key].append(b.get(key, float("nan")) - a.get(key, float("nan")))
        shown = ", ".join(
            f"{label} {fp32[k][-1]:.4f} {deltas[k][-1]:+.4f}" for k, label in METRICS.items()
        )
        print(f"seed {seed}: fp32 and bf16 - fp32: {shown}", flush=True)

    n, pairs = args.seeds, args.seeds - len(diverged)
    print(f"time per run (training and evaluation): fp32 {seconds['fp32'] / n:.1f} s, "
          f"bf16 {seconds['bf16'] / n:.1f} s")  # fmt: skip
    left_out = f"; diverged, left out: {', '.join(diverged)}" if diverged else ""
    if pairs < 2:
        print(f"summary: bf16 - fp32: {pairs} of {n} seeds completed in both precisions, too few "
              f"for an interval{left_out}")  # fmt: skip
        return
    print(f"\n{'metric':<10} {'fp32 mean':>10} {'seed SD':>9} {'bf16 - fp32':>12} "
          f"{'95% interval':>20}")  # fmt: skip
    parts, differ = [], []
    for key, label in METRICS.items():
        mean, lo, hi = paired_interval(deltas[key])
        print(
            f"{label:<10} {statistics.mean(fp32[key]):>10.4f} {statistics.stdev(fp32[key]):>9.4f} "
            f"{mean:>+12.4f} {f'[{lo:+.4f}, {hi:+.4f}]':>20}"
        )
        parts.append(f"{label} {mean:+.4f} [{lo:+.4f}, {hi:+.4f}]")
        if lo > 0.0 or hi < 0.0:  # NaN (a metric the dataset lacks) is no evidence of a difference
            differ.append(label)
    verdict = f"differs in {', '.join(differ)}" if differ else "no detectable difference"
    print(f"summary: bf16 - fp32 over {pairs} seeds: {'; '.join(parts)}; {verdict}{left_out}")


if __name__ == "__main__":
    main()
