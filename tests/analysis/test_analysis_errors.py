"""Errored trials (status 'error': no result) are counted per method, shown in the report, and
a verdict says when they are unbalanced between the methods (issue 21, item 4)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from truth import World, make_table

from analysis import prepare_results, verdicts, write_report
from analysis._verdicts import errors_note


def _with_errors(ssvi: int, dense: int, seed: int = 3) -> pd.DataFrame:
    table = make_table(World(), seed=seed)
    rng = np.random.default_rng(seed)
    for method, n in (("ssvi", ssvi), ("dense_vi", dense)):
        rows = rng.choice(np.flatnonzero(table["method"] == method), n, replace=False)
        table.loc[rows, "status"] = "error"
    return table


def test_errors_are_counted_per_method() -> None:
    table = _with_errors(ssvi=5, dense=2)
    counts = prepare_results(table).attrs["errors_by_method"]
    assert counts == {
        "dense_vi": [2, int((table["method"] == "dense_vi").sum())],
        "ssvi": [5, int((table["method"] == "ssvi").sum())],
    }


@pytest.mark.parametrize(("ssvi", "dense", "unbalanced"), [(12, 0, True), (3, 2, False)])
def test_a_verdict_says_when_errors_are_unbalanced(ssvi, dense, unbalanced) -> None:
    v = verdicts(_with_errors(ssvi, dense), seed=0, n_boot=200)
    compared = v[v["family"].isin(["sensitivity", "noise"])]
    said = compared["note"].str.contains("errored trials are unbalanced")
    assert said.all() if unbalanced else not said.any()
    if unbalanced:
        assert f"{ssvi} of" in compared["note"].iloc[0]
    assert not v[v["family"] == "ssvi_only"]["note"].str.contains("errored").any()


def test_the_split_test_follows_the_methods_shares() -> None:
    # SSVI runs about twice dense VI's trials (its own knobs): 4 vs 2 errors is its share
    assert errors_note({"ssvi": [4, 200], "dense_vi": [2, 100]}) == ""
    assert "unbalanced" in errors_note({"ssvi": [10, 100], "dense_vi": [0, 100]})
    assert errors_note({"ssvi": [0, 100], "dense_vi": [0, 100]}) == ""


def test_the_report_shows_the_errors_next_to_divergence(tmp_path: Path) -> None:
    write_report(_with_errors(ssvi=12, dense=0), tmp_path, n_boot=200)
    md = (tmp_path / "report.md").read_text()
    verdict = md.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    assert "Errored trials (status `error`" in verdict and "SSVI 12 of" in verdict
    assert "dense VI 0 of" in verdict and "unbalanced between the methods" in verdict
