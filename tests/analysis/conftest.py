"""Shared fixtures: a study drawn from a known truth (the local preset's designs, both methods,
3 seeds, SSVI diverging half of the time at KL weight 1, two errored runs) written as a study
folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from truth import World, make_table

# 20 configurations in each random design: enough for an identifiable fANOVA importance
STUDY = World(n_random=20, n_random_ssvi=20, diverge_above=1.0, diverge_rate=0.5)


@pytest.fixture(scope="session")
def study_table() -> pd.DataFrame:
    """~310 rows following docs/results-table.md, with 2 runs that errored."""
    table = make_table(STUDY, seed=2)
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
