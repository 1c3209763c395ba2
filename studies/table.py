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
    read_row,
    read_table,
    to_frame,
    write_row,
    write_table,
)

COMPACT_MIN = 100  # rows that end before the compacted table is first rewritten


Trials = dict[str, dict[str, Any]]  # trial key -> trial description (studies.designs)


def trial_of(config: dict[str, Any], trials: Trials | None = None) -> dict[str, Any]:
    """The trial description of a Tune config, with Optuna-sampled values merged into its run.

    A planned trial's config names it by its key (looked up in ``trials``), so that Tune's
    per-trial state, which its experiment snapshots hold for every trial, stays small; a tune
    design's config (and a study planned before keys) holds the description itself.
    """
    trial = config["trial"]
    if isinstance(trial, str):
        if trials is None or trial not in trials:
            raise KeyError(f"trial {trial!r} is not in this study's plan")
        trial = trials[trial]
    trial = dict(trial)
    if config.get("search"):
        run = {**trial["run"], **config["search"]}
        if "__trial_index__" in config:  # Repeater: the k-th repeat of a configuration
            run["seed"] = trial["seeds"][int(config["__trial_index__"]) % len(trial["seeds"])]
        trial["run"] = run
        trial["config_id"] = config_id(run)
    return trial


def trial_dirname(trial: Any) -> str:
    """Tune's folder name of a trial: its Tune id (a module-level function: Tune pickles it into
    every trial's state, a lambda by value)."""
    return str(trial.trial_id)


def row_from_result(
    config: dict[str, Any],
    metrics: dict[str, Any] | None,
    error: bool,
    study: str,
    trial_id: str,
    trials: Trials | None = None,
) -> dict[str, Any]:
    """A row from a trial's last reported result: ``stopped_early`` (ASHA) with the metrics it
    had, or ``error`` (a finished trial's row is the file its trainable wrote: TableWriter reads
    it; studies begun before row files reported the whole row, which is taken as it is)."""
    metrics = metrics or {}
    trial = trial_of(config, trials)
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

    def __init__(self, folder: str, study: str, trials: Trials | None = None) -> None:
        self.folder, self.study, self.trials = folder, study, trials
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

    def setup(
        self, stop: Any = None, num_samples: Any = None, total_num_samples: Any = None, **info: Any
    ) -> None:
        # Tuner.restore() brings back the callbacks pickled when the study began, so the rows
        # must be re-read when the (restored) experiment starts, not only in __init__.
        self._load()
        self.completed = set()

    def _keep(self, row: dict[str, Any] | None, on_disk: bool) -> None:
        """Record ``row`` and write its file (unless ``on_disk``: the trainable wrote it), unless
        it would replace a finished row by an unfinished one (a restored experiment can report
        trials that ended before the interruption without their result) or changes nothing."""
        if row is None:
            return
        old = self.rows.get(row["trial_id"])
        if old is not None and old["status"] in FINISHED and row["status"] not in FINISHED:
            return
        if old is not None and encode_row(old) == encode_row(row):
            return
        self.rows[row["trial_id"]] = row
        if not on_disk:
            write_row(self.folder, row)
        self.pending += 1

    def _row(
        self, config: Any, metrics: Any, error: bool, tune_id: str
    ) -> tuple[dict[str, Any] | None, bool]:
        """The row of a trial that ended, and whether its file is already written."""
        metrics = metrics or {}
        if metrics.get("final") and not error and "config_id" not in metrics:
            # finished: the trainable wrote the row file (one small read, unless already known)
            key = trial_of(config, self.trials).get("trial_key") or tune_id
            old = self.rows.get(key)
            if old is not None and old["status"] in FINISHED:
                return old, True
            return read_row(self.folder, key), True
        return row_from_result(config, metrics, error, self.study, tune_id, self.trials), False

    def compact(self) -> None:
        """Rewrite the compacted table from every row."""
        write_table(to_frame(list(self.rows.values())), self.folder)
        self.pending = 0

    def _record(self, trial: Any, error: bool) -> None:
        self._keep(*self._row(trial.config, trial.last_result, error, trial.trial_id))
        if self.pending >= max(COMPACT_MIN, (len(self.rows) - self.pending) // 2):
            self.compact()

    def merge(self, results: tune.ResultGrid) -> int:
        """Rebuild the row of every trial of ``results`` that ended (authoritative at the end of
        an experiment), keep the rows of other experiments of the study, and write the table.

        Trials that never started, or were still running when the study was interrupted, are
        not rows: ``--resume`` runs them. Returns the number of trials that ended.
        """
        ended = 0
        for i in range(len(results)):  # a ResultGrid is indexed (its type declares no __iter__)
            r = results[i]
            tune_id = (r.metrics or {}).get("trial_id") or r.path.rstrip("/").split("/")[-1]
            finished = bool((r.metrics or {}).get("final")) or tune_id in self.completed
            if r.config is None or not (finished or r.error is not None):
                continue
            ended += 1
            self._keep(*self._row(r.config, r.metrics, r.error is not None, tune_id))
        if self.rows:
            self.compact()
        return ended

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.completed.add(trial.trial_id)
        self._record(trial, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._record(trial, error=True)
