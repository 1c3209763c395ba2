"""Study overhead for the `local` preset: time spent training versus the study's wall time.

    python benchmarks/study_overhead.py                    # the local preset: 240 trials
    python benchmarks/study_overhead.py --design grid      # 54 trials

Runs the study on a fresh local Ray instance in a temporary folder, then compares the sum of the
trials' own training time (``wall_time_s`` in the results table: model building excluded,
training and evaluation included) with the wall time of the whole study x its concurrency. What is
left is overhead outside training: Ray start-up and scheduling, actor reuse, per-epoch reports,
checkpoints, experiment snapshots and the results table. The last line is a summary.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import pandas as pd
from ray.tune import ExperimentAnalysis

from studies.robustness import main as study


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--design", default="grid,oat,random,random_ssvi", help="the local preset's designs"
    )
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="concurrent trials")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("SSVI_RAY_TMPDIR", tempfile.mkdtemp(prefix="ssvi-ray-", dir="/tmp"))
        start = time.perf_counter()
        rc = study(
            [
                "--design",
                args.design,
                "--storage",
                tmp,
                "--name",
                "overhead",
                "--ray-address",
                "local",
            ]
        )
        wall = time.perf_counter() - start
        table = pd.read_parquet(f"{tmp}/overhead/results.parquet")
        inside = ExperimentAnalysis(f"{tmp}/overhead").dataframe()["trial_seconds"].sum()
    assert rc == 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    driver_cpu = usage.ru_utime + usage.ru_stime  # the driver competes with the trials for cores
    training = table["wall_time_s"].sum()
    capacity = wall * args.cpus
    share = 1.0 - training / capacity
    print(f"trials: {len(table)}, concurrency {args.cpus}")
    print(
        f"study wall time: {wall:.1f} s (x {args.cpus} = {capacity:.1f} trial-seconds of capacity)"
    )
    print(f"time in training epochs (sum of trial wall_time_s): {training:.1f} s")
    print(
        f"per trial: {wall * args.cpus / len(table):.2f} s of capacity, {training / len(table):.2f} s training"
    )
    print(
        f"whole trials inside the trainable (model building, training, test, FLOPs, export): {inside:.1f} s"
    )
    print(f"driver process CPU time (Tune loop, callbacks, loggers, table): {driver_cpu:.1f} s")
    print(f"overhead outside the trainable (Ray start-up, scheduling, reports, checkpoints, table): "
          f"{1.0 - inside / capacity:.1%}")  # fmt: skip
    print(f"summary: overhead outside training {share:.1%} of the study's capacity "
          f"({len(table)} trials, {wall:.0f} s wall)")  # fmt: skip


if __name__ == "__main__":
    main()
