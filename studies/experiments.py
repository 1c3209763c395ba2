"""A study's Tune experiments: the planned trials in experiments of bounded size, the edge
design's rounds, and how each experiment runs, records its rows and reports progress
(studies/robustness.py decides what runs; this module runs it)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studies.planning import Plan

# ---- knobs ----------------------------------------
MAX_FAILURES = 2  # retries of a failed trial, each from its last checkpoint
KEEP_CHECKPOINTS = 2  # per trial
PROGRESS_EVERY = 15.0  # seconds between progress lines when the console is not a terminal
SNAPSHOT_EVERY_S = 60  # Tune's experiment snapshot period (TUNE_GLOBAL_CHECKPOINT_S overrides)
QUIET_LINES = ("Failed to fetch metrics", "Resume experiment with", "Wrote the latest version")


class Interrupted(Exception):
    """The study stopped before every trial of an experiment ended (Ctrl-C)."""

    def __init__(self, experiment: str, ended: int, total: int) -> None:
        super().__init__(f"{experiment}: {ended} of {total} trials ended")
        self.experiment, self.ended, self.total = experiment, ended, total


def planned_experiments(p: Plan, resume: bool) -> list[tuple[str, list[Any]]]:
    """The planned trials as Tune experiments of at most ``experiment_trials`` each (the
    study's name, then ``<name>-part2``, ...), without those whose trials all finished.

    Tune's experiment snapshot holds every trial of its experiment and is rewritten every 10 s or
    more, and its driver loop visits every trial: both grow with the experiment, not the study.
    """
    from studies.results import FINISHED, read_table

    trials, size = p.trials, p.experiment_trials
    parts = [trials[i : i + size] for i in range(0, len(trials), size)]
    names = [p.name if k == 0 else f"{p.name}-part{k + 1}" for k in range(len(parts))]
    done: set[str] = set()
    if resume and len(parts) > 1:  # a resumed study skips its parts that ended (one table read)
        table = read_table(p.folder)
        if table is not None:
            done = set(table.loc[table["status"].isin(FINISHED), "trial_id"])
    return [
        (name, part)
        for name, part in zip(names, parts, strict=True)
        if not all(t["trial_key"] in done for t in part)
    ]


def run_edge_rounds(
    p: Plan, args: argparse.Namespace, trainable: Any, common: dict[str, Any]
) -> None:
    """The edge design's rounds (studies/edge.py), one Tune experiment each."""
    from ray import tune

    from studies.edge import run_rounds

    def run_round(name: str, trials: list[dict[str, Any]]) -> None:
        # the trials themselves in Tune's config (a round holds tens of them, not thousands)
        space = {**common, "trial": tune.grid_search(trials)}
        run_experiment(p, args, trainable, name, space, None, None, trials)

    run_rounds(p, run_round)


def run_experiment(
    p: Plan,
    args: argparse.Namespace,
    trainable: Any,
    exp_name: str,
    space: dict[str, Any],
    search: Any,
    scheduler: Any,
    planned: list[dict[str, Any]] | None = None,
) -> int:
    """Run (or restore) one Tune experiment of the study; ``planned``: its trials, when they are
    not the plan's (the edge design's rounds)."""
    from ray import tune

    from studies.console import Progress, StopOnCtrlC
    from studies.table import TableWriter, trial_dirname

    path = f"{p.storage}/{exp_name}"
    trials = {t["trial_key"]: t for t in (p.trials if planned is None else planned)}
    writer = TableWriter(p.folder, p.name, trials)
    search_alg, num_samples = search if search else (None, 1)
    total = num_samples if search else len(space["trial"]["grid_search"])
    progress = [] if args.verbose else [Progress(exp_name, total, PROGRESS_EVERY, trials)]
    run_config = tune.RunConfig(
        name=exp_name, storage_path=p.storage,
        callbacks=[writer, StopOnCtrlC(), *progress, *tune_loggers(args)],
        failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
        # num_to_keep=1 forces an experiment snapshot at every checkpoint (Ray 2.60): a bottleneck
        checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS),
        verbose=2 if args.verbose else 0,  # 0: our progress line instead of Tune's tables
    )  # fmt: skip
    if args.resume and tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(
            path, trainable=trainable, resume_errored=True, param_space=space
        )
    else:
        tune_config = tune.TuneConfig(
            search_alg=search_alg, scheduler=scheduler, num_samples=num_samples,
            max_concurrent_trials=args.max_concurrent or None, reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        )  # fmt: skip
        tuner = tune.Tuner(
            trainable, param_space=space, tune_config=tune_config, run_config=run_config
        )
    results = tuner.fit()
    ended = writer.merge(results)
    if ended < total:  # Tune stops on Ctrl-C (SIGINT) and returns what it has
        raise Interrupted(exp_name, ended, total)
    return ended


def quiet_tune_warnings(verbose: bool = False) -> None:
    """Tune's restore hint and its per-trial 'Failed to fetch metrics' lines (trials that never
    started have no result files) are replaced by one line of ours; its experiment box and its
    'Wrote the latest version' line at every experiment's end (the edge design runs several)
    say nothing our progress line does not. --verbose keeps them all."""
    import logging

    if verbose:
        return
    # Tune's new console output prints its experiment box even at verbose=0; the legacy one
    # prints nothing at verbose=0 (our Progress callback is the console)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

    class Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            text = record.getMessage()
            return not any(line in text for line in QUIET_LINES)

    for name in ("ray.tune.analysis.experiment_analysis", "ray.tune.tune"):
        logging.getLogger(name).addFilter(Drop())


def tune_loggers(args: argparse.Namespace) -> list[Any]:
    """Tune's per-trial CSV and JSON logs (ExperimentAnalysis reads them), and TensorBoard event
    files only with --tensorboard: written for every reported epoch of every trial, they cost the
    driver CPU time that trials on the same cores lose."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"  # Tune's switch: only those given here
    loggers = [CSVLoggerCallback(), JsonLoggerCallback()]
    return [*loggers, TBXLoggerCallback()] if args.tensorboard else loggers
