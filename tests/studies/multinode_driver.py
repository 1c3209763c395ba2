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


def checkpointed_unfinished(ended: set[str]) -> int:
    """Trials that have saved a checkpoint and not yet ended: Tune's trial folders hold the
    trial key (params.json) and the checkpoints."""
    count = 0
    for params in Path(folder).glob("*/params.json"):
        if any(params.parent.glob("checkpoint_*")):
            count += json.loads(params.read_text())["trial"] not in ended
    return count


def remove_worker_mid_study() -> None:
    deadline = time.time() + 300
    while time.time() < deadline:
        rows = read_table(folder)  # mid-study: the compacted table and the rows since
        # each node runs one trial at a time: when two running trials have checkpoints, the
        # worker's is one of them, and its retry must continue from its checkpoint
        if (
            rows is not None
            and rows["node"].str.endswith(on_worker).any()
            and checkpointed_unfinished(set(rows["trial_id"])) >= 2
        ):
            cluster.remove_node(worker)
            removed.set()
            return
        time.sleep(0.1)


threading.Thread(target=remove_worker_mid_study, daemon=True).start()
argv = ["--design", "grid", "--seeds", "1", "--set", "model=mlp", "--set", "epochs=5",
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
