"""A two-node Ray cluster on one machine: trials on both nodes; losing a node mid-trial costs
nothing but time (the trial restarts on the other node from its last checkpoint)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.studies.conftest import study_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_worker_removed_mid_trial_every_trial_completes(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.studies.multinode_driver", str(tmp_path)],
        cwd=ROOT, env=study_env(tmp_path), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0 and report["removed"]
    assert report["rows"] == 9 * 2
    assert report["statuses"] == ["completed"]
    assert report["epochs"] == [5]
    assert len(report["nodes"]) == 2  # trials ran on both nodes
    assert report["resumed"] >= 1  # at least one trial continued from its checkpoint
