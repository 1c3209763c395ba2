"""The study on a real (shared, local) Ray instance: results table, tune design and export."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from ssvi.config import load_config
from ssvi.train import Trainer
from studies.results import COLUMNS
from studies.robustness import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--seeds", "2", "--set", "epochs=2", "--set", "eval_samples=2"]


def test_local_preset_end_to_end_reduced(ray_local, tmp_path) -> None:
    argv = ["--design", "grid,random,random_ssvi", *SMALL, "--storage", str(tmp_path),
            "--name", "e2e"]  # fmt: skip
    assert main(argv) == 0
    folder = tmp_path / "e2e"
    csv, parquet = pd.read_csv(folder / "results.csv"), pd.read_parquet(folder / "results.parquet")
    assert list(parquet.columns) == list(COLUMNS) and len(csv) == len(parquet)
    # grid 3x3 + random 12 configurations, x 2 methods x 2 seeds; SSVI's own 10, SSVI only
    assert len(parquet) == (9 + 12) * 2 * 2 + 10 * 2
    assert parquet["trial_id"].is_unique
    assert set(parquet["status"]) == {"completed"}
    assert parquet["epochs_completed"].eq(2).all()
    assert set(parquet["ssvi_only"]) == {"removal,addition,update_interval,density,alpha"}
    assert set(parquet["num_classes"]) == {10}
    shared = parquet[parquet["design"] != "random_ssvi"]
    pairs = shared.groupby(["config_id", "seed"])["method"].apply(sorted)
    assert all(p == ["dense_vi", "ssvi"] for p in pairs)
    seeds = parquet.groupby(["config_id", "method"])["seed"].apply(sorted)
    assert all(s == [0, 1] for s in seeds)
    for col in ("test_accuracy", "test_nll", "test_ece", "test_ood_auroc", "train_flops"):
        assert parquet[col].notna().all(), col
    assert parquet["test_accuracy"].between(0.3, 1.0).all()
    ssvi = parquet[parquet["method"] == "ssvi"]
    dense = parquet[parquet["method"] == "dense_vi"]
    assert ssvi["train_flops"].mean() < 0.5 * dense["train_flops"].mean()
    assert parquet["git_rev"].astype(str).str.startswith("g").all()
    # every row's configuration is saved as a run config that `ssvi train --config` accepts
    for row in parquet.head(5).to_dict("records"):
        cfg = load_config(folder / "configs" / f"{row['trial_id']}.yaml")
        assert (cfg.density, cfg.seed, cfg.kl_weight, cfg.removal) == (
            row["density"], row["seed"], row["kl_weight"], row["removal"],
        )  # fmt: skip
    assert len(list((folder / "configs").glob("*.yaml"))) == len(parquet)
    # Tune's per-trial logs that ExperimentAnalysis reads; TensorBoard files only on request
    trial_dirs = [d for d in folder.glob("*_*") if (d / "params.json").exists()]
    assert len(trial_dirs) == len(parquet)
    assert all((d / "result.json").exists() and (d / "progress.csv").exists() for d in trial_dirs)
    # Tune's iteration count is the epoch count: one report per epoch, the last the final row
    progress = pd.read_csv(trial_dirs[0] / "progress.csv")
    assert progress["training_iteration"].max() == progress["epoch"].max() == 2
    assert not list(folder.rglob("events.out.tfevents*"))
    # ... and re-running it reproduces the row (same data split, seed and settings)
    row = parquet[parquet["method"] == "ssvi"].iloc[0]
    torch.set_num_threads(1)  # as the trial ran (--cpus-per-trial 1)
    rerun = Trainer(load_config(folder / "configs" / f"{row['trial_id']}.yaml")).fit()
    torch.set_num_threads(2)
    assert rerun.metrics["test_nll"] == pytest.approx(row["test_nll"], rel=1e-4)
    assert rerun.metrics["test_accuracy"] == pytest.approx(row["test_accuracy"], abs=0.003)
    assert main(argv) == 2  # the study exists: it is never overwritten without --resume
    # the contract: the analysis reads the table a real study wrote, and answers from it
    from analysis import load_results, verdicts

    v = verdicts(load_results(folder), n_boot=200)
    overall = v[(v["scope"] == "overall") & (v["metric"] == "accuracy")].iloc[0]
    assert overall["n_configs"] == 21 and overall["n_pairs"] == 42
    own = v[(v["scope"] == "ssvi_only") & (v["metric"] == "accuracy")].iloc[0]
    assert own["n_configs"] == 10 and own["source"] == "random_ssvi"


def test_tune_design_sqlite_export_and_train(ray_local, tmp_path) -> None:
    export = tmp_path / "tuned"
    argv = ["--design", "tune", "--tune-trials", "3", *SMALL, "--storage", str(tmp_path),
            "--name", "tuning", "--export-dir", str(export)]  # fmt: skip
    assert main(argv) == 0
    folder = tmp_path / "tuning"
    assert (folder / "optuna.db").is_file()
    import optuna

    storage = f"sqlite:///{folder / 'optuna.db'}"
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {"tuning-tune-ssvi", "tuning-tune-dense_vi"}
    study = optuna.load_study(study_name="tuning-tune-ssvi", storage=storage)
    assert len(study.trials) == 3
    table = pd.read_parquet(folder / "results.parquet")
    assert set(table["design"]) == {"tune"} and len(table) == 2 * 3 * 2
    assert set(table["status"]) == {"completed"}
    # every configuration Optuna proposed ran for both seeds (Repeater), paired by config_id
    assert all(s == [0, 1] for s in table.groupby("config_id")["seed"].apply(sorted))
    # --resume with other options is refused: trial ids are positions in the plan
    assert main([*argv, "--resume", "--tune-trials", "4"]) == 2
    files = sorted(export.glob("*.yaml"))
    assert [f.name for f in files] == ["digits-dense_vi.yaml", "digits-ssvi.yaml"]
    cfg = yaml.safe_load((export / "digits-ssvi.yaml").read_text())
    assert cfg["density"] == 0.1 and cfg["dataset"] == "digits"
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "ssvi.cli", "train", "--config", str(export / "digits-ssvi.yaml"),
         "--set", "epochs=1", "--out", str(out), "--quiet"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "metrics.json").is_file()
