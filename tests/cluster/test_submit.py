"""`ray submit` on a real two-node Ray cluster on this machine (a head and a worker started as
separate Ray nodes): the study script alone, in an empty folder, joins the running cluster and its
trials run on the worker node."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_study_script_alone_joins_the_running_cluster(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "cluster" / "submit_driver.py"), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0, report["tail"]
    assert report["rows"] == 9 * 2 and report["statuses"] == ["completed"]
    # the head offers no CPUs (as in cluster/gpu.yaml): every trial ran on the worker node
    assert [node.split("/")[-1] for node in report["nodes"]] == [report["worker"]]
    assert report["joined"]  # it joined the running cluster instead of starting its own
    assert report["files_in_home"] == ["robustness.py"]  # nothing but the script was needed
