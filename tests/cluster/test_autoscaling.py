"""The GPU worker type of cluster/gpu.yaml scales up for GPU trials and back down when idle.

Uses Ray's fake multi-node provider (``RAY_FAKE_CLUSTER=1``): the real autoscaler reads the
node types of cluster/gpu.yaml (the CPU-0 head, the spot GPU workers with their resources) and
"launches" a worker by starting another raylet on this machine that advertises the same CPU/GPU
resources; no GPU is needed. Token authentication is on, as on the real cluster.

Ray runs in its own temporary directory and process session, started with ``ray start`` from a
subprocess, and the driver is another subprocess, so nothing here touches a Ray instance that
other tests share. Cleanup kills only the processes of that session (never ``ray stop``).
Takes about 15-25 s on 2 cores.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.processes import end, pids_where

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
RAY_BIN = Path(sys.executable).with_name("ray")
TIMEOUT_S = 90  # for each step; the whole test normally takes well under 30 s

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc"),
    pytest.mark.skipif(not RAY_BIN.exists(), reason="no `ray` executable next to python"),
]

# Four trials of --gpus-per-trial 0.25 --cpus-per-trial 1 fill one g5.xlarge worker
# (CPU 4, GPU 1). The driver reports where they ran and when the worker went away.
DRIVER = r"""
import json, sys, time
import ray

ray.init(address=sys.argv[1], log_to_driver=False)
head = ray.get_runtime_context().get_node_id()

@ray.remote(num_gpus=0.25, num_cpus=1)
def trial():
    import os, time
    time.sleep(1.0)
    return ray.get_runtime_context().get_node_id(), os.environ.get("CUDA_VISIBLE_DEVICES")

def alive():
    return [n for n in ray.nodes() if n["Alive"]]

start = time.time()
ran_on = ray.get([trial.remote() for _ in range(4)], timeout=float(sys.argv[2]))
up_s = time.time() - start
workers_up = [n for n in alive() if n["NodeID"] != head]
start = time.time()
while time.time() - start < float(sys.argv[2]) and len(alive()) > 1:
    time.sleep(0.5)
print("RESULT " + json.dumps({
    "head": head,
    "ran_on": ran_on,
    "up_s": up_s,
    "workers_up": [n["Resources"] for n in workers_up],
    "down_s": time.time() - start,
    "nodes_after": len(alive()),
}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_config(port: int) -> dict[str, Any]:
    """cluster/gpu.yaml's node types and scaling limits on the fake multi-node provider."""
    with open(ROOT / "cluster" / "gpu.yaml") as f:
        real = yaml.safe_load(f)
    head = real["head_node_type"]
    assert head == "ray.head.default"  # the only head type name the fake provider knows
    node_types = {
        name: {k: v for k, v in spec.items() if k in ("resources", "min_workers", "max_workers")}
        | {"node_config": {}}
        for name, spec in real["available_node_types"].items()
    }
    node_types[head]["max_workers"] = 0
    return {
        "cluster_name": "ssvi-fake",
        "max_workers": real["max_workers"],
        "upscaling_speed": real["upscaling_speed"],
        "idle_timeout_minutes": 0.05,  # 3 s instead of the real 5 min
        "provider": {
            "type": "fake_multinode",
            "gcs_address": f"127.0.0.1:{port}",
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
        },
        "auth": {},
        "docker": {},
        "available_node_types": node_types,
        "head_node_type": head,
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "rsync_exclude": [],
        "rsync_filter": [],
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


def _kill(session_id: int, marker: str) -> None:
    """End the processes of the Ray session started in ``session_id`` or naming ``marker``."""

    def ours(pid: int) -> bool:
        if os.getsid(pid) == session_id:
            return True
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()

    end(lambda: pids_where(ours))


@pytest.fixture
def fake_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    # A short path: Ray's unix sockets live under the temp dir (108-byte limit).
    tmp = tempfile.mkdtemp(prefix="ssvi-fake-", dir="/tmp")
    port = free_port()
    config = os.path.join(tmp, "autoscaling.yaml")
    with open(config, "w") as f:
        yaml.safe_dump(fake_config(port), f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env |= {
        "RAY_FAKE_CLUSTER": "1",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),  # a throwaway token for this test only
        "RAY_USAGE_STATS_ENABLED": "0",
        "AUTOSCALER_UPDATE_INTERVAL_S": "1",
    }
    start = subprocess.Popen(
        [
            str(RAY_BIN),
            "start",
            "--head",
            f"--port={port}",
            "--num-cpus=0",
            "--num-gpus=0",
            f"--temp-dir={tmp}/ray",
            f"--autoscaling-config={config}",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=env,
        cwd=tmp,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _ = start.communicate(timeout=TIMEOUT_S)
        assert start.returncode == 0, out[-3000:]
        yield f"127.0.0.1:{port}", env
    finally:
        if start.poll() is None:
            start.kill()
        _kill(start.pid, tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def test_gpu_workers_scale_up_for_trials_and_down_when_idle(fake_cluster) -> None:
    address, env = fake_cluster
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER, address, str(TIMEOUT_S)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3 * TIMEOUT_S,
    )
    lines = [ln for ln in driver.stdout.splitlines() if ln.startswith("RESULT ")]
    assert driver.returncode == 0 and lines, driver.stdout[-2000:] + driver.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])

    # Up: the trials could only run on a GPU worker the autoscaler launched (the head has
    # CPU 0, GPU 0), each saw a GPU, and four 0.25-GPU trials were packed onto one worker.
    assert result["workers_up"], "no worker was launched"
    for resources in result["workers_up"]:
        assert resources["GPU"] == 1 and resources["CPU"] == 4
    nodes = {node for node, _ in result["ran_on"]}
    assert result["head"] not in nodes
    assert all(devices == "0" for _, devices in result["ran_on"])
    assert len(result["workers_up"]) == 1 and len(nodes) == 1

    # Down: once idle past idle_timeout_minutes the worker is terminated; the head stays.
    assert result["nodes_after"] == 1, f"worker still up after {result['down_s']:.0f} s"
