"""Read, validate and prepare a study's results table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.fs as pafs

from analysis._schema import (
    ARM,
    METHODS,
    NUMERIC_COLUMNS,
    REQUIRED_COLUMNS,
    STATUSES,
    STRING_COLUMNS,
    arm_name,
)

TABLE_NAMES = ("results.parquet", "results.csv")
ROWS = "rows"  # a study's per-trial row files: rows/<trial_id>.json
FINISHED = ("completed", "diverged")
CONTRACT = "docs/results-table.md"


class ResultsTableError(ValueError):
    """The results table is missing, empty or does not follow docs/results-table.md."""


def load_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a study's results table, also while the study runs.

    Args:
        path: a study folder, or a table file (``.parquet`` / ``.csv``); a local path or a URI
            (``s3://bucket/studies/name``; remote file systems need their fsspec package). A
            study folder is read as docs/results-table.md says: its compacted table
            (``results.parquet``, else ``results.csv``) with the per-trial row files
            (``rows/<trial_id>.json``) of the trials that ended after it was written.

    Returns:
        The table with typed columns (strings, booleans, numbers), one row per trial, all rows
        kept (``prepare_results`` drops errored trials).

    Raises:
        ResultsTableError: no table at ``path``, an empty table, or missing columns (named).
    """
    text = os.fspath(path)
    local = "://" not in text or text.startswith("file://")
    if local:
        text = str(Path(text.removeprefix("file://")).resolve())
    if text.endswith((".parquet", ".csv")):
        if local and not Path(text).is_file():
            raise ResultsTableError(f"no results table at {text}")
        return validate_results(_read(text), source=text)
    if local and not Path(text).is_dir():
        raise ResultsTableError(f"no results table at {text} (expected a study folder or a file)")
    table, source = _compacted(text)
    rows = _row_files(text, table)
    if table is None and rows is None:
        raise ResultsTableError(
            f"no {' or '.join(TABLE_NAMES)} and no {ROWS}/*.json in the study folder {text}"
        )
    if rows is not None:
        kept = None if table is None else table[~table["trial_id"].isin(rows["trial_id"])]
        table = rows if kept is None else pd.concat([kept, rows], ignore_index=True)
        source = f"{text} ({len(rows)} rows from {ROWS}/)"
    return validate_results(table, source=str(source))


def _compacted(folder: str) -> tuple[pd.DataFrame | None, str]:
    """The study's compacted table and where it was read, or None when it has none yet."""
    for name in TABLE_NAMES:
        candidate = folder.rstrip("/") + "/" + name
        try:
            return _read(candidate), candidate
        except (FileNotFoundError, OSError):
            continue
    return None, folder


def _row_files(folder: str, table: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of trials that ended after the compacted table was written, or that it holds
    unfinished: their files win (a study writes a trial's row file before any table holds it)."""
    fs, root = pafs.FileSystem.from_uri(folder if "://" in folder else Path(folder).as_uri())
    infos = fs.get_file_info(pafs.FileSelector(f"{root}/{ROWS}", allow_not_found=True))
    finished = set()
    if table is not None and {"trial_id", "status"} <= set(table.columns):
        finished = set(table["trial_id"].astype(str)[table["status"].isin(FINISHED)])
    records = []
    for info in infos:
        name = info.base_name
        if not name.endswith(".json") or name.startswith(".") or name[:-5] in finished:
            continue
        try:
            with fs.open_input_stream(info.path) as f:
                records.append(json.loads(f.read()))
        except (FileNotFoundError, OSError, json.JSONDecodeError) as error:
            raise ResultsTableError(f"cannot read the row file {info.path}: {error}") from error
    return pd.DataFrame.from_records(records) if records else None


def _read(source: str | Path) -> pd.DataFrame:
    try:
        if str(source).endswith(".parquet"):
            return pd.read_parquet(source)
        return pd.read_csv(source, dtype={c: "string" for c in STRING_COLUMNS})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except ImportError as error:  # e.g. s3:// without s3fs, gs:// without gcsfs
        raise ResultsTableError(f"cannot read {source}: {error}") from error


def validate_results(df: pd.DataFrame, source: str = "results table") -> pd.DataFrame:
    """Check a results table against the contract and return a copy with normalised types.

    Raises:
        ResultsTableError: empty table, missing columns (all named), unknown methods or statuses.
    """
    if len(df.columns) == 0 or len(df) == 0:
        raise ResultsTableError(f"{source}: the results table is empty (no rows)")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ResultsTableError(
            f"{source}: missing required column(s): {', '.join(missing)} (see {CONTRACT})"
        )
    out = df.copy()
    for col in STRING_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype("string").fillna("").astype(object)
    out["is_default"] = out["is_default"].map(_to_bool).astype(bool)
    for col in NUMERIC_COLUMNS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    for col in ("seed", "density"):
        if out[col].isna().any():
            raise ResultsTableError(
                f"{source}: column {col!r} is missing or not a number in "
                f"{int(out[col].isna().sum())} row(s)"
            )
    if (out["config_id"] == "").any():
        raise ResultsTableError(f"{source}: column 'config_id' is empty in some rows")
    out["seed"] = out["seed"].astype("int64")
    _check_values(out, "method", METHODS, source)
    _check_values(out, "status", STATUSES, source)
    return out.reset_index(drop=True)


def _to_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return False if pd.isna(value) else bool(value)


def _check_values(df: pd.DataFrame, column: str, allowed: tuple[str, ...], source: str) -> None:
    bad = sorted(set(df[column]) - set(allowed))
    if bad:
        raise ResultsTableError(
            f"{source}: column {column!r} has unknown value(s) {bad}; allowed: {list(allowed)}"
        )


def prepare_results(df: pd.DataFrame, num_classes: int | None = None) -> pd.DataFrame:
    """Make a table ready for the statistics: drop errored trials, set diverged runs apart.

    A diverged run (``status == "diverged"``) is an outcome of its own, not a value of a metric:
    its metric values are set to NaN here, so that every spread statistic describes converged
    runs, and the divergence rate is reported beside it. ``score_at_chance`` gives the other
    view, diverged runs scored as the uniform predictor. Rows with ``status == "error"`` are
    excluded; their count is kept in ``df.attrs["excluded_errors"]``, and per method (errored,
    trials) in ``df.attrs["errors_by_method"]``. Adds the ``arm`` column
    (``dense_vi`` or ``ssvi@<density>``) and a ``num_classes`` column (from the table, or from
    ``num_classes=``, NaN for tables written before the column). Tables that already have an
    ``arm`` column are returned unchanged.

    Args:
        df: a table from ``load_results`` (or any frame with the contract's columns).
        num_classes: number of classes K, for tables without a ``num_classes`` column.

    Raises:
        ResultsTableError: an invalid table.
    """
    if ARM in df.columns:
        return df
    table = validate_results(df)
    classes = _num_classes(table, num_classes)
    keep = table["status"] != "error"
    out = table[keep].copy()
    out["num_classes"] = classes[keep.to_numpy()]
    out[ARM] = [arm_name(m, d) for m, d in zip(out["method"], out["density"], strict=True)]
    div = (out["status"] == "diverged").to_numpy()
    metric_columns = [c for c in out.columns if c.startswith(("test_", "val_"))]
    out.loc[div, metric_columns] = np.nan
    errored = table.loc[~keep]
    out.attrs = {
        "excluded_errors": int((~keep).sum()),
        # per method, with the trials each method ran: verdicts say when errors are unbalanced
        "errors_by_method": {
            str(m): [int((errored["method"] == m).sum()), int((table["method"] == m).sum())]
            for m in sorted(set(table["method"]))
        },
        "num_classes": sorted({int(k) for k in out["num_classes"].dropna()}),
    }
    return out.reset_index(drop=True)


def score_at_chance(data: pd.DataFrame) -> pd.DataFrame:
    """A prepared table whose diverged runs are scored as the uniform predictor.

    Accuracy ``1/K``, NLL ``log K``, Brier ``1 - 1/K``, OOD AUROC ``0.5``; ECE and AUPR stay NaN
    (a uniform predictor is perfectly calibrated, which would reward divergence). This is what
    a tuner sees (a diverged configuration is a bad one) and the report's sensitivity analysis.
    """
    data = prepare_results(data)
    out = data.copy()
    div = (out["status"] == "diverged").to_numpy()
    classes = out["num_classes"].to_numpy(dtype=float)
    unknown = sorted(set(out.loc[div & np.isnan(classes), "dataset"]))
    if unknown:
        raise ResultsTableError(
            f"scoring diverged runs at chance needs the number of classes of {unknown}: the "
            "table has no num_classes column (older studies); pass num_classes= (command "
            "line: --num-classes)"
        )
    chance = {
        "accuracy": 1.0 / classes,
        "nll": np.log(classes),
        "brier": 1.0 - 1.0 / classes,
        "ood_auroc": np.full(len(out), 0.5),
    }
    for name, values in chance.items():
        for col in (f"test_{name}", f"val_{name}", f"test_{name}_mean_weights"):
            if col in out.columns:
                out.loc[div, col] = values[div]
    return out


def _num_classes(df: pd.DataFrame, num_classes: int | None) -> np.ndarray:
    """The rows' number of classes: the argument when given, else the table's ``num_classes``
    column (NaN where a table predates it: only scoring a diverged run at chance needs it)."""
    if num_classes is not None:
        if num_classes < 2:
            raise ResultsTableError(f"num_classes must be at least 2, got {num_classes}")
        return np.full(len(df), float(num_classes))
    if "num_classes" in df.columns:
        return pd.to_numeric(df["num_classes"], errors="coerce").to_numpy(dtype=float)
    return np.full(len(df), np.nan)
