"""The Ray Tune trainable: one trial = one ``ssvi`` training run, driven through its callbacks."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from ray import tune

from ssvi.config import git_revision, make_config
from ssvi.data import DatasetSplits
from ssvi.train import Trainer
from studies.results import FINISHED, make_row, read_row, write_row, write_run_configs
from studies.table import Trials, trial_of
from studies.tuning import OBJECTIVE, objective

CHECKPOINT = "checkpoint.pt"


class ReportToTune:
    """Per-epoch metrics to Tune, with the full training state every ``every`` epochs.

    The last epoch is not reported here: the trial's final report (its results row, with the
    final checkpoint) is that epoch's report, so Tune's iteration count is the epoch count.
    """

    def __init__(self, every: int) -> None:
        self.every = max(1, every)

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if trainer.epoch == trainer.cfg.epochs:
            return
        score = metrics.get("val_accuracy", float("nan"))
        report = {**metrics, "final": False, "status": "running", OBJECTIVE: score}
        if trainer.epoch % self.every:
            tune.report(report)
            return
        report_with_checkpoint(trainer, report)


def report_with_checkpoint(trainer: Trainer, report: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        trainer.save_checkpoint(Path(folder) / CHECKPOINT)
        tune.report(report, checkpoint=tune.Checkpoint.from_directory(folder))


def run_trial(
    config: dict[str, Any],
    data: DatasetSplits | None = None,
    execution: dict[str, Any] | None = None,
    trainer_class: type[Trainer] = Trainer,
    trials: Trials | None = None,
) -> None:
    """Train ``config["trial"]`` (a trial from studies.designs), resuming from Tune's checkpoint.

    ``execution``: run-config fields that say where and how the trial runs (device, data_dir,
    ...), taken from the invocation that runs it: a resumed study's trials keep the hyperparameters
    they were planned with but run as the resuming command says (e.g. with other --gpus-per-trial).
    ``trainer_class``: :class:`ssvi.train.Trainer`, or a stand-in with its interface
    (benchmarks/study_scale.py measures the framework's own cost with a trivial one).
    ``trials``: the study's plan by trial key (a planned trial's config holds only its key).

    The trial's results row goes to its row file (studies.results), written here; Tune gets a
    short final report (status, objective, headline accuracies), because Tune keeps statistics of
    every reported number of every trial in each experiment snapshot.
    """
    execution = execution or {}
    started = time.perf_counter()
    trial = trial_of(config, trials)
    finished = recorded_row(config.get("folder"), trial.get("trial_key"))
    if finished is not None:
        # Tune restores from its last experiment snapshot, which may predate this trial's end:
        # a trial whose row is already in the results table is reported again, not re-run.
        tune.report({**final_report(finished), "resumed_from_epoch": -1})
        return
    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    callbacks = [ReportToTune(int(config.get("checkpoint_every", 1)))]
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # a retry after a failure, or a resumed study
        with checkpoint.as_directory() as folder:
            path = Path(folder) / CHECKPOINT
            trainer = trainer_class.from_checkpoint(path, data, callbacks, **execution)
    else:
        trainer = trainer_class(make_config({**trial["run"], **execution}), data, callbacks)
    trial_id = trial.get("trial_key") or tune.get_context().get_trial_id()
    if config.get("folder"):  # every row of the table can be re-run with `ssvi train --config`
        write_run_configs(config["folder"], {trial_id: trainer.cfg.to_dict()})
    resumed_from_epoch = trainer.epoch
    result = trainer.fit()
    row = make_row(
        trial, trainer.cfg.to_dict(), result.status, result.metrics,
        study=config.get("study", ""), trial_id=trial_id,
        epochs_completed=result.epochs_completed, node=node_name(), git_rev=git_revision(),
        num_classes=trainer.data.num_classes,
    )  # fmt: skip
    seconds = time.perf_counter() - started  # the whole trial inside the trainable
    if config.get("folder"):
        write_row(config["folder"], row)
    report_with_checkpoint(trainer, {
        **final_report(row), "resumed_from_epoch": resumed_from_epoch, "trial_seconds": seconds,
    })  # fmt: skip


def final_report(row: dict[str, Any]) -> dict[str, Any]:
    """What Tune gets at a trial's end: its status, objective and headline accuracies (the row
    itself is in the row file). ``epoch`` is the epoch count, so Tune's iteration count is it."""
    return {
        "final": True, "status": row["status"], "epoch": row["epochs_completed"],
        "val_accuracy": row["val_accuracy"], "test_accuracy": row["test_accuracy"],
        OBJECTIVE: objective(row["val_accuracy"], row["status"], int(row["num_classes"])),
    }  # fmt: skip


def recorded_row(folder: str | None, trial_key: str | None) -> dict[str, Any] | None:
    """The finished row of ``trial_key`` in the study, if there is one: its row file (one small
    read, whatever the size of the study)."""
    if not folder or not trial_key:
        return None
    row = read_row(folder, trial_key)
    return row if row is not None and row.get("status") in FINISHED else None


def node_name() -> str:
    """Host name and Ray node id: several Ray nodes can share one host."""
    import ray

    return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"
