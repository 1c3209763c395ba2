"""Shared fixtures: a realistic synthetic study (designs grid, oat, random; both methods;
3 seeds; a few diverged and errored trials) written as a study folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from analysis_synthetic import make_results


@pytest.fixture(scope="session")
def study_table() -> pd.DataFrame:
    """~220 rows following docs/results-table.md, with 2 trials that errored."""
    table = make_results(seed=0)
    errors = table.iloc[[0, 1]].copy()
    errors["trial_id"] = ["error_0", "error_1"]
    errors["status"] = "error"
    errors.loc[:, [c for c in table.columns if c.startswith(("test_", "val_"))]] = float("nan")
    return pd.concat([table, errors], ignore_index=True)


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory: pytest.TempPathFactory, study_table: pd.DataFrame) -> Path:
    """A study folder with results.parquet and results.csv, as the studies part writes it."""
    folder = tmp_path_factory.mktemp("study")
    study_table.to_parquet(folder / "results.parquet", index=False)
    study_table.to_csv(folder / "results.csv", index=False)
    return folder
