"""Start a head and a worker as separate Ray nodes on this machine, then run the study as
`ray submit` would: studies/robustness.py copied alone into an empty folder and run there with
only the installed project, joining the running cluster. As in cluster/gpu.yaml, the head offers
no CPUs for trials, so every trial has to run on the worker node. Prints one JSON line for the
test."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from ray.cluster_utils import Cluster

ROOT = Path(__file__).resolve().parents[2]
work = Path(sys.argv[1])
cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 0})
worker = cluster.add_node(num_cpus=2)
cluster.wait_for_nodes()
try:
    home = work / "head-home"  # `ray submit` copies the script to the head and runs it from ~
    home.mkdir()
    script = home / "robustness.py"
    shutil.copy(ROOT / "studies" / "robustness.py", script)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SSVI_RAY_TMPDIR")}
    env["RAY_ADDRESS"] = cluster.address  # what `ray start` leaves for scripts on the head
    proc = subprocess.run(
        [sys.executable, str(script), "--design", "grid", "--seeds", "1", "--set", "epochs=2",
         "--set", "eval_samples=1", "--storage", str(work / "storage"), "--name", "submitted"],
        cwd=home, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    table = work / "storage" / "submitted" / "results.parquet"
    rows = pd.read_parquet(table) if table.exists() else pd.DataFrame()
    print(
        json.dumps(
            {
                "rc": proc.returncode,
                "tail": (proc.stdout + proc.stderr)[-2000:] if proc.returncode else "",
                "rows": len(rows),
                "statuses": sorted(set(rows.get("status", []))),
                "nodes": sorted(set(rows.get("node", []))),
                "head": cluster.head_node.node_id[:8],
                "worker": worker.node_id[:8],
                "joined": "ray: joined the cluster at " in proc.stdout,
                "files_in_home": sorted(p.name for p in home.iterdir()),
            }
        )
    )
finally:
    cluster.shutdown()
