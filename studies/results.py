"""The results table (docs/results-table.md): one row per trial, written atomically as CSV and
Parquet into the study folder, on local disk or any URI pyarrow's filesystems understand."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

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
        atomic_write(local / name, lambda f, data=data: f.write(data))


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


def read_table(folder: str) -> pd.DataFrame | None:
    """The table written by :func:`write_table`, or None when there is none yet."""
    try:
        return pd.read_parquet(f"{folder.rstrip('/')}/results.parquet")
    except (FileNotFoundError, OSError):
        return None
