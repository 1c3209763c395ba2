"""Run a study on a two-node Ray cluster on this machine and remove the worker node mid-study.

Used by test_multinode.py in a subprocess (a Cluster needs a process without another Ray).
Prints one JSON line with what the test checks.
"""

import json
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import ray
from ray import tune
from ray.cluster_utils import Cluster

from studies.results import read_table
from studies.robustness import main

storage = Path(sys.argv[1])
cluster = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 1})
worker = cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
on_worker = "/" + worker.node_id[:8]  # the end of the results table's node column
folder = str(storage / "multi")
removed = threading.Event()


def remove_worker_mid_study() -> None:
    deadline = time.time() + 300
    while time.time() < deadline:
        # once the worker has finished a trial, its actor is busy with the next one
        rows = read_table(folder)  # mid-study: the compacted table and the rows since
        if rows is not None and rows["node"].str.endswith(on_worker).any():
            time.sleep(2.0)  # that next trial is now half-way through
            cluster.remove_node(worker)
            removed.set()
            return
        time.sleep(0.2)


threading.Thread(target=remove_worker_mid_study, daemon=True).start()
# 5 epochs of the CNN: a trial lasts several seconds, so the 2 s wait above lands mid-trial
argv = ["--design", "grid", "--seeds", "1", "--set", "model=cnn", "--set", "epochs=5",
        "--set", "eval_samples=1", "--checkpoint-every", "1", "--storage", str(storage),
        "--name", "multi", "--ray-address", cluster.address]  # fmt: skip
rc = main(argv)
final = pd.read_parquet(storage / "multi" / "results.parquet")
last = tune.ExperimentAnalysis(str(storage / "multi")).dataframe()
print(
    json.dumps(
        {
            "rc": rc,
            "removed": removed.is_set(),
            "rows": len(final),
            "statuses": sorted(set(final["status"])),
            "nodes": sorted(set(final["node"])),
            "epochs": sorted(set(final["epochs_completed"].tolist())),
            "resumed": int((last["resumed_from_epoch"] > 0).sum()),
        }
    )
)
ray.shutdown()  # disconnect the driver before the cluster goes
cluster.shutdown()
