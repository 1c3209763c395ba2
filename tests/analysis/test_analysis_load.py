"""Reading, validating and preparing results tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_synthetic import COLUMNS, build_table

from analysis import ResultsTableError, load_results, prepare_results, score_at_chance


@pytest.mark.parametrize("name", ["", "results.parquet", "results.csv"])
def test_load_folder_or_file(study_dir: Path, study_table: pd.DataFrame, name: str) -> None:
    df = load_results(study_dir / name if name else study_dir)
    assert len(df) == len(study_table)
    assert list(df.columns) == COLUMNS
    assert df["config_id"].map(type).eq(str).all()
    assert df["is_default"].dtype == bool
    assert df["oat_param"].isin(["", "base", *COLUMNS]).all()


def test_load_file_uri(study_dir: Path) -> None:
    assert len(load_results(f"file://{study_dir / 'results.parquet'}")) > 0


def test_csv_keeps_numeric_looking_ids_as_strings(tmp_path: Path) -> None:
    table = build_table([{"config_id": "00123", "seed": s} for s in range(2)])
    table.to_csv(tmp_path / "results.csv", index=False)
    assert set(load_results(tmp_path)["config_id"]) == {"00123"}


def test_missing_columns_are_named(tmp_path: Path) -> None:
    table = build_table([{}]).drop(columns=["config_id", "test_nll", "kl_weight"])
    table.to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(ResultsTableError) as info:
        load_results(tmp_path / "results.csv")
    message = str(info.value)
    for column in ("config_id", "test_nll", "kl_weight"):
        assert column in message
    assert "docs/results-table.md" in message


@pytest.mark.parametrize("content", ["", ",".join(COLUMNS) + "\n"])
def test_empty_table(tmp_path: Path, content: str) -> None:
    (tmp_path / "results.csv").write_text(content)
    with pytest.raises(ResultsTableError, match="empty"):
        load_results(tmp_path)


def test_no_table_in_folder(tmp_path: Path) -> None:
    with pytest.raises(ResultsTableError, match="results.parquet or results.csv"):
        load_results(tmp_path)
    with pytest.raises(ResultsTableError, match="no results table"):
        load_results(tmp_path / "missing.csv")


def test_unknown_method_and_status(tmp_path: Path) -> None:
    with pytest.raises(ResultsTableError, match="'method'.*'laplace'"):
        prepare_results(build_table([{"method": "laplace"}]))
    with pytest.raises(ResultsTableError, match="'status'.*'crashed'"):
        prepare_results(build_table([{"status": "crashed"}]))


def test_diverged_rows_set_apart_or_scored_at_chance_and_errors_excluded() -> None:
    table = build_table(
        [
            {"seed": 0},
            {"seed": 1, "status": "diverged", "test_accuracy": float("nan"), "test_nll": 9.0},
            {"seed": 2, "status": "error"},
            {
                "seed": 3,
                "status": "diverged",
                "dataset": "cifar100",
                "method": "dense_vi",
                "num_classes": 100,
            },
        ]
    )
    data = prepare_results(table)
    assert len(data) == 3
    assert data.attrs["excluded_errors"] == 1
    assert list(data["arm"]) == ["ssvi@0.1", "ssvi@0.1", "dense_vi"]
    assert list(data["num_classes"]) == [10, 10, 100]
    div = data[data["status"] == "diverged"]
    # a diverged run's values (here a last NLL of 9) never enter a spread statistic
    metrics = [c for c in data.columns if c.startswith(("test_", "val_"))]
    assert div[metrics].isna().all().all()
    assert data.loc[0, "test_accuracy"] == 0.5  # completed rows untouched
    assert prepare_results(data) is data  # idempotent
    scored = score_at_chance(data)
    div = scored[scored["status"] == "diverged"]
    np.testing.assert_allclose(div["test_accuracy"], [0.1, 0.01])
    np.testing.assert_allclose(div["test_nll"], [math.log(10), math.log(100)])
    np.testing.assert_allclose(div["test_ood_auroc"], [0.5, 0.5])
    np.testing.assert_allclose(div["test_brier"], [0.9, 0.99])
    assert div["test_ece"].isna().all()
    assert data[data["status"] == "diverged"]["test_accuracy"].isna().all()  # not modified


def test_rows_carry_their_number_of_classes_the_analysis_keeps_no_dataset_list() -> None:
    table = build_table([{"dataset": "mnist1d-like", "status": "diverged", "num_classes": 4}])
    assert score_at_chance(prepare_results(table))["test_accuracy"].iloc[0] == 0.25
    # a table written before the column: fine until a diverged run must be scored at chance
    old = build_table([{"dataset": "digits", "status": "diverged"}]).drop(columns="num_classes")
    data = prepare_results(old)
    assert data["num_classes"].isna().all()
    with pytest.raises(ResultsTableError, match="digits.*num_classes.*--num-classes"):
        score_at_chance(data)
    scored = score_at_chance(prepare_results(old, num_classes=1000))
    assert scored["test_accuracy"].iloc[0] == 0.001
