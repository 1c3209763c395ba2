"""Accuracy floors of the MNIST-1D recipe (issue 15), measured the way a user would: `ssvi train`
with seed 1 and the dataset's default recipe, reading the metrics file the command writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# method -> (density, floor on test accuracy). Measured on CPU with one thread: 0.966 and 0.914
# (with two threads, the numerics of a different reduction order: 0.967 and 0.886).
FLOORS = {"dense_vi": (1.0, 0.90), "ssvi": (0.1, 0.85)}


@pytest.mark.slow
def test_mnist1d_recipe_meets_its_floors(mnist1d_dir: Path, tmp_path: Path) -> None:
    # Both runs at once, one thread each (about 40 s of CPU each): this small model gains nothing
    # from a second thread, which stalls whenever another process holds a core (measured 20-40 s
    # an epoch instead of 0.7 s), and a fixed thread count on the CPU gives the same numbers on
    # any machine.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs: dict[str, subprocess.Popen[str]] = {}
    try:
        for method, (density, _) in FLOORS.items():
            sets = [
                "dataset=mnist1d", "seed=1", f"density={density}", f"data_dir={mnist1d_dir}",
                "device=cpu",
            ]  # fmt: skip
            argv = ["train", *(a for s in sets for a in ("--set", s))]
            argv += ["--out", str(tmp_path / method), "--quiet"]
            runs[method] = subprocess.Popen(
                [sys.executable, "-m", "ssvi.cli", *argv],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
        accuracy = {}
        for method, run in runs.items():
            output, _ = run.communicate(timeout=1200)
            assert run.returncode == 0, output
            saved = yaml.safe_load((tmp_path / method / "config.yaml").read_text())
            assert saved["_method"] == method and saved["model"] == "cnn1d"
            metrics = json.loads((tmp_path / method / "metrics.json").read_text())
            assert metrics["status"] == "completed"
            accuracy[method] = metrics["test_accuracy"]
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait()
    assert all(accuracy[m] >= floor for m, (_, floor) in FLOORS.items()), accuracy
