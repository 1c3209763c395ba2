"""Robustness study: how sensitive is SSVI to its hyperparameters, compared with dense VI?

    python studies/robustness.py                      # the `local` preset on a local Ray instance
    python studies/robustness.py --preset cifar10 --design grid --storage s3://bucket/studies
    ray submit cluster/gpu.yaml studies/robustness.py -- --preset cifar10 --storage s3://...

Every design runs SSVI and dense VI on the same configurations and seeds. The results table
(docs/results-table.md) is written into STORAGE/NAME as trials end; `python -m analysis.report
STORAGE/NAME --out report/` turns it into the sensitivity report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from studies.experiments import (
    SNAPSHOT_EVERY_S,
    Interrupted,
    planned_experiments,
    quiet_tune_warnings,
    run_edge_rounds,
    run_experiment,
)
from studies.planning import Plan, StudyError, dry_run, plan

# ---- knobs ----------------------------------------
DEFAULT_PRESET = "local"
DEFAULT_STORAGE = "results"  # local folder (made absolute) or a URI: s3://, gs://
TUNE_SEED = 0  # TPE sampler seed
ASHA_GRACE_FRACTION = 0.25  # ASHA's grace period, as a fraction of the epochs
# (per experiment: retries, checkpoints kept, progress and snapshot periods: studies/experiments.py)


# ---- 1. options (checked and planned by studies.planning) ----------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from studies.presets import DESIGNS, PRESETS

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"one of {', '.join(PRESETS)}")
    p.add_argument(
        "--design", help=f"comma-separated subset of {','.join(DESIGNS)} (default: the preset's)"
    )
    p.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help="study storage: local folder or s3:// / gs:// URI",
    )
    p.add_argument(
        "--name", help="study name (default: <preset>-robustness); the study folder is STORAGE/NAME"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue an interrupted study of this name"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the trials and a cost estimate, then exit"
    )
    p.add_argument(
        "--power-sims",
        type=int,
        default=200,
        metavar="N",
        help="--dry-run: simulate N studies of the plan under the preset's noise assumption and "
        "analyse them with the real verdicts, for the headline's power (0: the formula only; "
        "default %(default)s, under a minute on 2 cores)",
    )
    p.add_argument(
        "--max-concurrent", type=int, default=0, help="trials at once (0: as resources allow)"
    )
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="GPUs per trial; fractions share a GPU (default: the preset's when the cluster has "
        "GPUs, else 0; 0 forces CPUs)",
    )
    p.add_argument(
        "--wait-for-resources",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="on a cluster, how long to wait for a node that can run a trial (default 600)",
    )
    p.add_argument(
        "--verbose", action="store_true", help="Tune's tables and every trial's log lines"
    )
    p.add_argument(
        "--cpus-per-trial", type=float, default=1.0, help="CPUs per trial (also torch threads)"
    )
    p.add_argument("--seeds", type=int, help="use the first N seeds of the preset")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the base run config",
    )
    p.add_argument(
        "--base", help="YAML run config to use as base configuration (e.g. studies/tuned/*.yaml)"
    )
    p.add_argument(
        "--all-knobs",
        "--oat-all",
        dest="all_knobs",
        action="store_true",
        help="oat also sweeps density, alpha, prior_std, lr; random also samples prior_std, lr",
    )
    p.add_argument("--tune-trials", type=int, help="Optuna configurations per method (tune design)")
    p.add_argument(
        "--edge-delta", type=float, default=2.0, metavar="POINTS",
        help="edge design: the tolerance line, this many accuracy points below the base value",
    )  # fmt: skip
    p.add_argument(
        "--edge-resolution", type=float, default=2.0, metavar="FACTOR",
        help="edge design: bisect until each edge is bracketed within this factor (default 2)",
    )  # fmt: skip
    p.add_argument(
        "--edge-step", type=float, default=0.0, metavar="FACTOR",
        help="edge design: the step outward from the base value (0: the preset's, 10)",
    )  # fmt: skip
    p.add_argument("--asha", action="store_true", help="tune design: stop poor trials early (ASHA)")
    p.add_argument(
        "--export-dir", default="studies/tuned", help="where tune writes the best configs"
    )
    p.add_argument("--data-dir", help="dataset folder on every node (default: the run config's)")
    p.add_argument(
        "--optuna-storage",
        default=os.environ.get("SSVI_OPTUNA_STORAGE"),
        help="Optuna RDB storage URL (default: sqlite file optuna.db in the study folder, or in "
        "./NAME-optuna/ when the storage is a URI)",
    )
    p.add_argument(
        "--checkpoint-every", type=int, default=0, help="epochs between checkpoints (0: preset)"
    )
    p.add_argument(
        "--tensorboard", action="store_true", help="also write TensorBoard event files per trial"
    )
    p.add_argument(
        "--ray-address",
        default="auto",
        help="auto (join a running cluster, else start one), local, or HOST:PORT",
    )
    return p.parse_args(argv)


# ---- 2. Ray ----------------------------------------
def connect_ray(args: argparse.Namespace) -> Any:
    """Join the cluster or start a local instance, say which and what it has (studies.cluster)."""
    from studies.cluster import connect

    info = connect(args.ray_address, quiet_workers=not args.verbose)
    print(info.describe())
    return info


def trial_gpus(args: argparse.Namespace, preset: Any, model: str, info: Any) -> float:
    """GPUs per trial: the flag's, else the preset's when the cluster has GPUs, else 0."""
    if args.gpus_per_trial is not None:
        gpus = float(args.gpus_per_trial)
    else:
        gpus = preset.gpus_per_trial if info.gpus > 0 else 0.0
        if preset.gpus_per_trial and not gpus:
            print(f"robustness: warning: the cluster has no GPU: the {preset.name} preset's "
                  f"{model} trials will train on CPUs, slowly")  # fmt: skip
    if not gpus and model == "resnet18" and args.gpus_per_trial is not None:
        print("robustness: warning: --gpus-per-trial 0: ResNet-18 trials train on CPUs, slowly")
    return gpus


# ---- 3. run ----------------------------------------
def run(p: Plan, args: argparse.Namespace, trainer_class: Any = None) -> int:
    """Run the planned study; ``trainer_class`` replaces ssvi's Trainer in every trial (for
    benchmarks/study_scale.py)."""
    import ray
    from ray import tune

    from ssvi.config import EXECUTION_FIELDS
    from ssvi.data import SPLIT_SEED, load_dataset
    from studies.cluster import ResourceError, ensure_resources
    from studies.console import catch_ctrl_c, stop_requested
    from studies.results import migrate_rows
    from studies.resume import save_plan
    from studies.trainable import run_trial

    save_plan(p)
    moved = migrate_rows(p.folder) if args.resume else 0
    if moved:
        print(f"robustness: {p.folder} was written by an older version: its {moved} rows are "
              "now also one file per trial in rows/ (results.csv stays as it was)")  # fmt: skip
    info = connect_ray(args)
    base = p.base
    gpus = trial_gpus(args, p.preset, base["model"], info)
    base["device"] = "cuda" if gpus > 0 else "cpu"
    try:
        ensure_resources(info, args.cpus_per_trial, gpus, args.wait_for_resources)
    except ResourceError as err:
        print(f"robustness: error: {err}", file=sys.stderr)
        return 2
    data = load_dataset(base["dataset"], base["data_dir"], base["val_fraction"], SPLIT_SEED)
    trainable = tune.with_resources(
        # the data: one copy in the object store; execution settings: this invocation's, also
        # for the trials of a resumed study (Tuner.restore takes this trainable)
        tune.with_parameters(
            run_trial,
            trials={t["trial_key"]: t for t in p.trials},
            data=data,
            execution={k: base[k] for k in sorted(EXECUTION_FIELDS)},
            **({"trainer_class": trainer_class} if trainer_class else {}),
        ),
        {"cpu": args.cpus_per_trial, "gpu": gpus},
    )
    common = {
        "study": p.name,
        "folder": p.folder,
        "threads": max(1, int(args.cpus_per_trial)),
        "checkpoint_every": p.checkpoint_every,
    }
    experiments = [
        (name, {**common, "trial": tune.grid_search([t["trial_key"] for t in part])}, None, None)
        for name, part in planned_experiments(p, args.resume)
    ]  # trial keys, not descriptions: Tune keeps every trial's config in each snapshot
    if "tune" in p.designs:
        from studies.tuning import tune_experiments

        experiments += tune_experiments(p, common, args.asha, TUNE_SEED, ASHA_GRACE_FRACTION)
    quiet_tune_warnings(args.verbose)
    # Tune rewrites its experiment snapshot (every trial of the experiment) every 10 s by default,
    # changed or not: 1.8 MB/s to the storage for 1,000 trials. The row files are the record and
    # a restored trial resumes from its own checkpoint, so an older snapshot costs little.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", str(SNAPSHOT_EVERY_S))
    started = time.monotonic()
    restore_signals = catch_ctrl_c()
    try:
        for exp_name, space, search_alg, scheduler in experiments:
            if stop_requested():  # Ctrl-C as the previous experiment ended
                raise KeyboardInterrupt
            run_experiment(p, args, trainable, exp_name, space, search_alg, scheduler)
        if p.edge is not None:
            run_edge_rounds(p, args, trainable, common)
    except (Interrupted, KeyboardInterrupt) as stop:
        where = f" ({stop})" if isinstance(stop, Interrupted) else ""
        words = argv_of(args) or sys.argv[1:]
        resume = " ".join([*words, *([] if "--resume" in words else ["--resume"])])
        print(
            f"robustness: interrupted{where}; every finished trial is in "
            f"{p.folder}/results.csv; continue with: python studies/robustness.py {resume}",
            file=sys.stderr,
        )
        if ray.is_initialized() and not info.joined:
            ray.shutdown()
        return 130
    finally:
        restore_signals()
    print(summary(p.folder, time.monotonic() - started))
    if "tune" in p.designs:
        export_tuned(p, args)
    if ray.is_initialized() and not info.joined:
        ray.shutdown()
    return 0


def export_tuned(p: Plan, args: argparse.Namespace) -> None:
    """Write the best configuration per method as run configs for `ssvi train --config` / --base."""
    from studies.results import read_table
    from studies.tuning import export_best

    table = read_table(p.folder)
    if table is None:
        return
    base = {k: v for k, v in p.base.items() if k != "device"}
    for path in export_best(table, base, Path(args.export_dir), study=p.name):
        print(f"tuned configuration: {path}")


def summary(folder: str, seconds: float) -> str:
    """The study's last lines: what the table holds, and how to turn it into a report."""
    from studies.results import read_table

    table = read_table(folder)
    counts = {} if table is None else table["status"].value_counts().to_dict()
    n = sum(counts.values())
    parts = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    name = folder.rstrip("/").split("/")[-1]
    return (
        f"summary: {n} trials in {folder}/results.csv ({parts or 'none'}), {seconds:.0f} s\n"
        f"report:  python -m analysis.report {folder} --out report/{name}"
    )


def argv_of(args: argparse.Namespace) -> list[str] | None:
    """The arguments this study was started with (set by main)."""
    return getattr(args, "argv", None)


# ---- 4. main ----------------------------------------
def main(argv: list[str] | None = None) -> int:
    from studies.lock import hold
    from studies.resume import same_plan, study_exists

    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    lock = None
    try:
        p = plan(args)
        if not args.dry_run and "://" not in p.folder and Path(p.folder).is_dir():
            lock = hold(p.folder)  # first: a live driver's study is no error to report
        exists = study_exists(p)
        if exists and not args.resume and not args.dry_run:
            raise StudyError(
                f"study {p.folder} exists: pass --resume to continue it, or choose another --name"
            )
        if args.resume and not exists:
            raise StudyError(f"--resume: no study at {p.folder}")
        if args.resume and not args.dry_run and not same_plan(p):
            raise StudyError(
                f"--resume: the options differ from those that started {p.folder} (preset, "
                "design, --seeds, --set, --base, --all-knobs, --tune-trials, --edge-* must be the "
                "same), or "
                "a version of ssvi that plans other trials started it"
            )
        if not args.dry_run and lock is None:
            lock = hold(p.folder)
    except StudyError as err:
        if lock is not None:
            lock.release()
        print(f"robustness: error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(dry_run(p, args))
        return 0
    try:
        return run(p, args)
    finally:
        if lock is not None:
            lock.release()


if __name__ == "__main__":
    sys.exit(main())
