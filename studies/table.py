"""Tune trials as results-table rows, during the study (a Tune callback) and at its end."""

from __future__ import annotations

from typing import Any

from ray import tune

from ssvi.config import make_config
from studies.designs import config_id
from studies.results import (
    COLUMNS,
    FINISHED,
    encode_row,
    make_row,
    read_table,
    to_frame,
    write_row,
    write_table,
)

COMPACT_MIN = 100  # rows that end before the compacted table is first rewritten


def trial_of(config: dict[str, Any]) -> dict[str, Any]:
    """The trial description in a Tune config, with Optuna-sampled values merged into its run."""
    trial = dict(config["trial"])
    if config.get("search"):
        run = {**trial["run"], **config["search"]}
        if "__trial_index__" in config:  # Repeater: the k-th repeat of a configuration
            run["seed"] = trial["seeds"][int(config["__trial_index__"]) % len(trial["seeds"])]
        trial["run"] = run
        trial["config_id"] = config_id(run)
    return trial


def row_from_result(
    config: dict[str, Any], metrics: dict[str, Any] | None, error: bool, study: str, trial_id: str
) -> dict[str, Any]:
    """A row from a trial's last reported result: the trainable's own row when it finished,
    ``stopped_early`` (ASHA) with the metrics it had, or ``error``."""
    metrics = metrics or {}
    trial = trial_of(config)
    trial_id = trial.get("trial_key") or trial_id  # Tune overwrites a reported "trial_id"
    if metrics.get("final") and not error:
        return {**{c: metrics.get(c) for c in COLUMNS}, "trial_id": trial_id}
    run = make_config(trial["run"]).to_dict()
    status = "error" if error else "stopped_early"
    epochs = int(metrics.get("epoch", 0) or 0)
    return make_row(
        trial, run, status, metrics, study=study, trial_id=trial_id, epochs_completed=epochs,
        node=str(metrics.get("hostname", "")),
    )  # fmt: skip


class TableWriter(tune.Callback):
    """Writes each trial's row (atomically, one small file) when it ends, so nothing is lost, and
    rewrites the compacted table when the rows written since reach half of it (studies.results):
    a trial's end costs the same at any study size."""

    def __init__(self, folder: str, study: str) -> None:
        self.folder, self.study = folder, study
        self.rows: dict[str, dict[str, Any]] = {}
        self.completed: set[str] = set()  # trials Tune ended in this invocation (ASHA included)
        self.pending = 0  # rows written since the compacted table was
        self._load()

    def _load(self) -> None:
        """Start from the study on disk: a resumed study keeps the trials that already ended."""
        existing = read_table(self.folder)
        self.rows = (
            {} if existing is None else {r["trial_id"]: r for r in existing.to_dict("records")}
        )
        self.pending = 0

    def setup(self, **info: Any) -> None:
        # Tuner.restore() brings back the callbacks pickled when the study began, so the rows
        # must be re-read when the (restored) experiment starts, not only in __init__.
        self._load()
        self.completed = set()

    def _keep(self, row: dict[str, Any]) -> None:
        """Record ``row`` and write its file, unless it would replace a finished row by an
        unfinished one (a restored experiment can report trials that ended before the
        interruption without their result) or changes nothing."""
        old = self.rows.get(row["trial_id"])
        if old is not None and old["status"] in FINISHED and row["status"] not in FINISHED:
            return
        if old is not None and encode_row(old) == encode_row(row):
            return
        self.rows[row["trial_id"]] = row
        write_row(self.folder, row)
        self.pending += 1

    def compact(self) -> None:
        """Rewrite the compacted table from every row."""
        write_table(to_frame(list(self.rows.values())), self.folder)
        self.pending = 0

    def _record(self, trial: Any, error: bool) -> None:
        self._keep(
            row_from_result(trial.config, trial.last_result, error, self.study, trial.trial_id)
        )
        if self.pending >= max(COMPACT_MIN, (len(self.rows) - self.pending) // 2):
            self.compact()

    def merge(self, results: tune.ResultGrid) -> int:
        """Rebuild the row of every trial of ``results`` that ended (authoritative at the end of
        an experiment), keep the rows of other experiments of the study, and write the table.

        Trials that never started, or were still running when the study was interrupted, are
        not rows: ``--resume`` runs them. Returns the number of trials that ended.
        """
        ended = 0
        for r in results:
            tune_id = (r.metrics or {}).get("trial_id") or r.path.rstrip("/").split("/")[-1]
            finished = bool((r.metrics or {}).get("final")) or tune_id in self.completed
            if r.config is None or not (finished or r.error is not None):
                continue
            ended += 1
            self._keep(
                row_from_result(r.config, r.metrics, r.error is not None, self.study, tune_id)
            )
        if self.rows:
            self.compact()
        return ended

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.completed.add(trial.trial_id)
        self._record(trial, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._record(trial, error=True)
