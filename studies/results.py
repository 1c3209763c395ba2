"""The results table (docs/results-table.md) in the study folder, on local disk or any URI
pyarrow's filesystems understand.

Two layers, so that a trial's end costs the same in a study of 100 trials as in one of 10,000:

- ``rows/<trial_id>.json``: one small file per ended trial, written atomically when it ends (and
  again if a resumed study changes it). These are the record: they are never rewritten in bulk.
- ``results.parquet`` / ``results.csv``: the compacted table of all rows, rewritten (atomically)
  when the rows that ended since its last writing reach half its size, and at the end of every
  experiment, so its writing costs a bounded number of rows' bytes per trial.

:func:`read_table` reads both: the compacted table, and the rows of trials that ended after it
was written (or whose row it holds unfinished).
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow.fs as pafs
import yaml

from ssvi.io import atomic_write
from studies.presets import HYPERPARAMETERS, SSVI_ONLY

COLUMNS = (
    "study", "design", "dataset", "model", "trial_id", "method", "config_id", "oat_param",
    "is_default", "density", "kl_weight", "init_sigma", "removal", "addition", "update_interval",
    "alpha", "prior_std", "lr", "seed", "status", "epochs_completed",
    "val_accuracy", "val_nll", "val_ece", "val_brier",
    "test_accuracy", "test_nll", "test_ece", "test_brier", "test_ood_auroc", "test_ood_aupr",
    "test_accuracy_mean_weights", "train_flops", "inference_flops", "active_params", "model_bytes",
    "wall_time_s", "node", "git_rev", "ssvi_only", "num_classes",
)  # fmt: skip
FINISHED = ("completed", "diverged")  # a finished row is never replaced by an unfinished one
ROWS = "rows"  # the folder of per-trial row files
METRICS = [c for c in COLUMNS[COLUMNS.index("val_accuracy") : COLUMNS.index("wall_time_s") + 1]]
# every row says which hyperparameters mean nothing to dense VI, so that the analysis (which
# imports neither ssvi nor studies) keeps them out of the SSVI vs dense VI comparisons
SSVI_ONLY_TEXT = ",".join(SSVI_ONLY)


def make_row(
    trial: dict[str, Any],
    run: dict[str, Any],
    status: str,
    metrics: dict[str, Any],
    *,
    study: str,
    trial_id: str,
    epochs_completed: int,
    node: str = "",
    git_rev: str = "",
    num_classes: int | None = None,
) -> dict[str, Any]:
    """A results-table row: the trial's metadata, its resolved run config and its metrics.

    ``num_classes``: the dataset's number of classes (the analysis scores chance level with it);
    by default the dataset's known count.
    """
    if num_classes is None:
        from ssvi.data import DATASET_INFO

        num_classes = DATASET_INFO[run["dataset"]].num_classes
    row: dict[str, Any] = {
        "study": study,
        "design": trial["design"],
        "dataset": run["dataset"],
        "model": run["model"],
        "trial_id": trial_id,
        "method": trial["method"],
        "config_id": trial["config_id"],
        "oat_param": trial["oat_param"],
        "is_default": bool(trial["is_default"]),
        **{k: run[k] for k in HYPERPARAMETERS},
        "seed": run["seed"],
        "status": status,
        "epochs_completed": int(epochs_completed),
        "node": node,
        "git_rev": git_rev,
        "ssvi_only": SSVI_ONLY_TEXT,
        "num_classes": int(num_classes),
    }
    for key in METRICS:
        row[key] = float(metrics.get(key, float("nan")))
    return row


def to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.sort_values(
        ["design", "config_id", "method", "density", "seed"], kind="stable"
    ).reset_index(drop=True)


def _is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def study_folder(storage: str, name: str) -> str:
    return f"{storage.rstrip('/')}/{name}"


def write_files(folder: str, outputs: dict[str, bytes]) -> None:
    """Write each ``name: data`` into ``folder`` (a local path or a URI), each file atomically."""
    if _is_uri(folder):
        fs, root = pafs.FileSystem.from_uri(folder)
        for name, data in outputs.items():  # an object store PUT is atomic
            with fs.open_output_stream(f"{root}/{name}") as f:
                f.write(data)
        return
    local = Path(folder.removeprefix("file://"))
    for name, data in outputs.items():

        def write(f: IO[bytes], data: bytes = data) -> None:
            f.write(data)

        atomic_write(local / name, write)


def write_table(df: pd.DataFrame, folder: str) -> None:
    """Write ``results.csv`` and ``results.parquet`` into ``folder`` atomically."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    write_files(
        folder, {"results.csv": df.to_csv(index=False).encode(), "results.parquet": buf.getvalue()}
    )


def write_run_configs(folder: str, configs: dict[str, dict[str, Any]]) -> None:
    """Save each trial's resolved run config as ``configs/<trial_id>.yaml`` for ssvi train."""
    write_files(
        folder,
        {
            f"configs/{tid}.yaml": yaml.safe_dump(cfg, sort_keys=False).encode()
            for tid, cfg in configs.items()
        },
    )


def read_file(folder: str, name: str) -> bytes | None:
    """The bytes of ``folder/name`` (local path or URI), or None when it does not exist."""
    try:
        if _is_uri(folder):
            fs, root = pafs.FileSystem.from_uri(folder)
            with fs.open_input_stream(f"{root}/{name}") as f:
                return bytes(f.read())
        return (Path(folder.removeprefix("file://")) / name).read_bytes()
    except (FileNotFoundError, OSError):
        return None


def encode_row(row: dict[str, Any]) -> bytes:
    """A row as strict JSON (the table's columns; NaN, infinities and missing values as null)."""

    def plain(v: Any) -> Any:
        if v is None or v is pd.NA:
            return None
        if hasattr(v, "item"):  # numpy / pandas scalars
            v = v.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return json.dumps({c: plain(row.get(c)) for c in COLUMNS}, allow_nan=False).encode()


def row_name(trial_id: str) -> str:
    return f"{ROWS}/{trial_id}.json"


def write_row(folder: str, row: dict[str, Any]) -> None:
    """Write one trial's row as ``rows/<trial_id>.json``, atomically."""
    write_files(folder, {row_name(row["trial_id"]): encode_row(row)})


def read_row(folder: str, trial_id: str) -> dict[str, Any] | None:
    """The row file of ``trial_id``, or None when the trial has none (one small read)."""
    data = read_file(folder, row_name(trial_id))
    if data is None:
        return None
    row = json.loads(data)
    return {k: float("nan") if v is None and k in METRICS else v for k, v in row.items()}


def row_ids(folder: str) -> list[str]:
    """The trial ids that have a row file, by listing ``rows/`` (no file is read)."""
    if _is_uri(folder):
        fs, root = pafs.FileSystem.from_uri(folder)
        infos = fs.get_file_info(pafs.FileSelector(f"{root}/{ROWS}", allow_not_found=True))
        names = [i.base_name for i in infos if i.type == pafs.FileType.File]
    else:
        try:
            names = os.listdir(Path(folder.removeprefix("file://")) / ROWS)
        except (FileNotFoundError, NotADirectoryError):
            return []
    return sorted(n[: -len(".json")] for n in names if n.endswith(".json") and n[0] != ".")


def read_compacted(folder: str) -> pd.DataFrame | None:
    """The compacted table alone (``results.parquet``), or None when there is none yet."""
    try:
        return pd.read_parquet(f"{folder.rstrip('/')}/results.parquet")
    except (FileNotFoundError, OSError):
        return None


def read_table(folder: str) -> pd.DataFrame | None:
    """Every row of the study, also mid-way: the compacted table, with the row files of trials
    it lacks or holds unfinished in their place. None when no trial has ended yet."""
    ids = row_ids(folder)  # listed before the table is read: a row is in one or the other
    table = read_compacted(folder)
    done = set() if table is None else set(table["trial_id"][table["status"].isin(FINISHED)])
    rows = [r for r in (read_row(folder, t) for t in ids if t not in done) if r is not None]
    if not rows:
        return table
    fresh = pd.DataFrame(rows, columns=list(COLUMNS))
    if table is None:
        return to_frame(fresh.to_dict("records"))
    kept = table[~table["trial_id"].isin(fresh["trial_id"])]
    return to_frame([*kept.to_dict("records"), *fresh.to_dict("records")])


def migrate_rows(folder: str) -> int:
    """Give a study folder of the older layout (a table, no row files) its row files, so that
    trials' finished-checks find them; returns the number of rows written."""
    table = None if row_ids(folder) else read_compacted(folder)
    if table is None:
        return 0
    for row in table.to_dict("records"):
        write_row(folder, row)
    return len(table)
