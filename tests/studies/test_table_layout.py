"""The study folder's two-layer table (studies.results): one row file per ended trial, and a
compacted table rewritten when the rows since reach half of it. Checked without Ray: trials are
what Tune hands the TableWriter callback."""

import json
import math
import types
from pathlib import Path

import pandas as pd
import pytest

import studies.results as results
from analysis import load_results
from studies.results import COLUMNS, migrate_rows, read_row, read_table, row_ids, write_table
from studies.table import COMPACT_MIN, TableWriter
from studies.trainable import final_report, recorded_row


def row(i: int, status: str = "completed", acc: float = 0.9) -> dict:
    r = {c: float("nan") for c in results.METRICS}
    r.update(study="s", design="random", dataset="digits", model="mlp", trial_id=f"t{i:05d}",
             method="ssvi" if i % 2 else "dense_vi", config_id=f"c{i // 2}", oat_param="",
             is_default=False, density=0.1 if i % 2 else 1.0, kl_weight=0.1, init_sigma=1e-3,
             removal="snr_abs", addition="grad", update_interval=10, alpha=0.3, prior_std=1.0,
             lr=1e-3, seed=0, status=status, epochs_completed=2, node="n", git_rev="g",
             ssvi_only=results.SSVI_ONLY_TEXT, num_classes=10, val_accuracy=acc,
             test_accuracy=acc)  # fmt: skip
    return r


def ended(
    folder: str, i: int, status: str = "completed", acc: float = 0.9
) -> types.SimpleNamespace:
    """A trial as Tune gives it to the callback when it ends: its trainable wrote its row file
    (finished trials) and sent a short final report."""
    r = row(i, status, acc)
    if status in results.FINISHED:
        results.write_row(folder, r)
    result = final_report(r)
    trial = {"design": "random", "method": "ssvi" if i % 2 else "dense_vi",
             "config_id": f"c{i // 2}", "oat_param": "", "is_default": False,
             "trial_key": f"t{i:05d}", "run": {"dataset": "digits", "seed": 0}}  # fmt: skip
    return types.SimpleNamespace(trial_id=f"tune{i}", config={"trial": trial}, last_result=result)


def test_each_trial_writes_its_row_and_the_table_is_compacted_geometrically(tmp_path) -> None:
    folder = str(tmp_path)
    writer = TableWriter(folder, "s")
    writes = []
    original = results.write_files
    results.write_files = lambda f, outputs: (writes.append(sorted(outputs)), original(f, outputs))
    try:
        n = 1000
        for i in range(n):
            writer.on_trial_complete(0, [], ended(folder, i))
    finally:
        results.write_files = original
    row_writes = sum(1 for w in writes if w[0].startswith("rows/"))
    compactions = [i for i, w in enumerate(writes) if "results.parquet" in w]
    assert row_writes == n  # one small file per trial (by its trainable), whatever the study's size
    # the table is rewritten after 100, 200, 300, 450, 675 rows: each time the rows since reach
    # half of it, so its bytes per trial stay bounded (about 2 rows' worth) as the study grows
    sizes = [sum(1 for w in writes[: i + 1] if w[0].startswith("rows/")) for i in compactions]
    assert sizes == [100, 200, 300, 450, 675]
    assert COMPACT_MIN == 100
    # mid-way, the reader sees every row: the compacted 675 and the 325 row files since
    assert len(pd.read_parquet(tmp_path / "results.parquet")) == 675
    mid = read_table(folder)
    assert mid is not None and len(mid) == n and mid["trial_id"].is_unique
    assert len(load_results(folder)) == n  # the analysis reads a study mid-way too
    assert len(row_ids(folder)) == n


def test_a_row_file_wins_over_an_unfinished_compacted_row(tmp_path) -> None:
    folder = str(tmp_path)
    write_table(pd.DataFrame([row(0, "error"), row(1)], columns=list(COLUMNS)), folder)
    writer = TableWriter(folder, "s")
    writer.on_trial_complete(0, [], ended(folder, 0, "completed", acc=0.7))  # the retried trial
    writer.on_trial_error(0, [], ended(folder, 1, "error"))  # cannot replace a finished row
    for table in (read_table(folder), load_results(folder)):
        assert table is not None
        by_id = table.set_index("trial_id")
        assert by_id.loc["t00000", "status"] == "completed"
        assert by_id.loc["t00000", "val_accuracy"] == pytest.approx(0.7)
        assert by_id.loc["t00001", "status"] == "completed"
    assert read_row(folder, "t00001") is None  # no file: the finished row never changed


def test_row_files_are_strict_json_and_read_back(tmp_path) -> None:
    folder = str(tmp_path)
    r = row(3, "diverged")
    r["test_nll"] = float("inf")
    results.write_row(folder, r)
    text = (tmp_path / "rows" / "t00003.json").read_text()
    data = json.loads(text)  # strict: no NaN / Infinity tokens
    assert "NaN" not in text and "Infinity" not in text
    assert data["test_nll"] is None and data["status"] == "diverged"
    back = read_row(folder, "t00003")
    assert back is not None and math.isnan(back["test_nll"]) and back["seed"] == 0
    # the trainable's finished-check: one small read, finished rows only
    assert recorded_row(folder, "t00003") is not None
    results.write_row(folder, row(4, "error"))
    assert recorded_row(folder, "t00004") is None and recorded_row(folder, "t09999") is None


def test_an_older_study_folder_is_migrated_once(tmp_path) -> None:
    folder = str(tmp_path)
    write_table(pd.DataFrame([row(i) for i in range(5)], columns=list(COLUMNS)), folder)
    assert row_ids(folder) == [] and len(read_table(folder)) == 5  # the old layout reads
    assert migrate_rows(folder) == 5
    assert row_ids(folder) == [f"t{i:05d}" for i in range(5)]
    assert migrate_rows(folder) == 0  # already done
    assert recorded_row(folder, "t00002") is not None


def test_the_analysis_reads_a_folder_of_row_files_alone(tmp_path: Path) -> None:
    for i in range(4):
        results.write_row(str(tmp_path), row(i))
    assert not (tmp_path / "results.parquet").exists()
    df = load_results(tmp_path)
    assert sorted(df["trial_id"]) == [f"t{i:05d}" for i in range(4)]
    assert df["is_default"].dtype == bool and df["seed"].dtype == "int64"


def test_a_large_study_runs_as_experiments_of_bounded_size(tmp_path, monkeypatch) -> None:
    import dataclasses

    from studies.planning import experiment_trials
    from studies.robustness import main, parse_args, plan, planned_experiments

    keys = [f"t{i:05d}" for i in range(25)]
    planned = plan(parse_args(["--design", "grid", "--storage", str(tmp_path)]))
    p = dataclasses.replace(
        planned, trials=[{"trial_key": k} for k in keys], experiment_trials=10, name="s",
        folder=str(tmp_path),
    )  # fmt: skip
    parts = planned_experiments(p, resume=False)
    assert [n for n, _ in parts] == ["s", "s-part2", "s-part3"]
    assert [[t["trial_key"] for t in part] for _, part in parts] == [
        keys[:10],
        keys[10:20],
        keys[20:],
    ]
    # a resumed study skips the experiments whose trials all finished, and only those
    for i in range(12):
        results.write_row(str(tmp_path), row(i, "error" if i == 11 else "completed"))
    assert [n for n, _ in planned_experiments(p, resume=True)] == ["s-part2", "s-part3"]
    results.write_row(str(tmp_path), row(11, "diverged"))
    assert [n for n, _ in planned_experiments(p, resume=True)] == ["s-part2", "s-part3"]
    for i in range(12, 20):
        results.write_row(str(tmp_path), row(i))
    assert [n for n, _ in planned_experiments(p, resume=True)] == ["s-part3"]
    # the size: 1000 unless SSVI_EXPERIMENT_TRIALS says otherwise; a bad value stops the study
    monkeypatch.delenv("SSVI_EXPERIMENT_TRIALS", raising=False)
    assert experiment_trials() == 1000
    monkeypatch.setenv("SSVI_EXPERIMENT_TRIALS", "250")
    assert experiment_trials() == 250
    monkeypatch.setenv("SSVI_EXPERIMENT_TRIALS", "lots")
    assert main(["--storage", str(tmp_path / "new"), "--dry-run"]) == 2
