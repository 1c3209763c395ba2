"""The Ray cluster a study runs on: joining or starting it (and saying which), what it has, and
whether it can ever run a trial of the requested size."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ResourceError(RuntimeError):
    """No node of the cluster can run a trial of the requested size (and none came)."""


@dataclass(frozen=True)
class ClusterInfo:
    """What ``connect`` found."""

    joined: bool  # an existing cluster (else a local instance this process started)
    address: str
    nodes: list[dict[str, float]]  # per alive node: its total CPU and GPU

    @property
    def cpus(self) -> float:
        return sum(n["CPU"] for n in self.nodes)

    @property
    def gpus(self) -> float:
        return sum(n["GPU"] for n in self.nodes)

    def describe(self) -> str:
        how = f"joined the cluster at {self.address}" if self.joined else "started a local Ray"
        nodes = f"{len(self.nodes)} node{'s' if len(self.nodes) != 1 else ''}"
        return f"ray: {how}: {nodes}, {self.cpus:g} CPUs, {self.gpus:g} GPUs"


def _nodes() -> list[dict[str, float]]:
    import ray

    return [
        {"CPU": float(n["Resources"].get("CPU", 0)), "GPU": float(n["Resources"].get("GPU", 0))}
        for n in ray.nodes()
        if n.get("Alive")
    ]


def connect(address: str, quiet_workers: bool = True) -> ClusterInfo:
    """Join a running cluster or start a local instance, and say which.

    Args:
        address: ``local`` (always a new local instance of this process: the main job's way),
            ``auto`` (the running cluster, as under ``ray submit``; a local instance when none
            runs) or ``HOST:PORT``.
        quiet_workers: do not forward every trial's log lines to this console, nor Ray's own
            INFO lines (our line says what started or joined).
    """
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "log_to_driver": not quiet_workers,
            "logging_level": logging.WARNING if quiet_workers else logging.INFO,
        }
        if address == "local":
            _start_local(kwargs)
        elif address == "auto":
            try:
                ray.init(address="auto", **kwargs)
            except ConnectionError:
                _start_local(kwargs)
        else:
            ray.init(address=address, **kwargs)
    return ClusterInfo(_joined(), ray.get_runtime_context().gcs_address, _nodes())


def _start_local(kwargs: dict[str, Any]) -> None:
    import ray

    if kwargs.get("logging_level", 0) > logging.INFO:
        # ray.init() turns token authentication on by default and warns that it did, in three
        # lines: a local instance of this script's own needs no such notice on every start
        logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(
            lambda record: "Token authentication is enabled" not in record.getMessage()
        )
    ray.init(include_dashboard=False, _temp_dir=os.environ.get("SSVI_RAY_TMPDIR"), **kwargs)


def _joined() -> bool:
    """Whether this process connected to a cluster it did not start (Ray 2.60: the driver's node
    object is the head only when ``ray.init`` started the instance)."""
    from ray._private import worker

    node = getattr(worker.global_worker, "node", None)
    return not bool(node is not None and node.head)


def feasible(nodes: list[dict[str, float]], cpus: float, gpus: float) -> bool:
    """Whether some node can hold a trial of ``cpus`` CPUs and ``gpus`` GPUs."""
    return any(n["CPU"] >= cpus and n["GPU"] >= gpus for n in nodes)


def ensure_resources(
    info: ClusterInfo,
    cpus: float,
    gpus: float,
    wait_s: float,
    say: Callable[[str], None] = print,
    poll_s: float = 10.0,
) -> None:
    """Return when a node can run a trial; raise :class:`ResourceError` when none can.

    A local instance cannot grow: it fails at once. A cluster may add nodes (its autoscaler is
    asked for one trial's resources): it is polled for ``wait_s`` seconds, saying so every 30 s.
    """
    if feasible(info.nodes, cpus, gpus):
        return
    asked = f"{cpus:g} CPUs and {gpus:g} GPUs per trial"
    largest = max(info.nodes, key=lambda n: (n["GPU"], n["CPU"]), default={"CPU": 0, "GPU": 0})
    has = (
        f"{len(info.nodes)} node(s), {info.cpus:g} CPUs and {info.gpus:g} GPUs in all, the "
        f"largest node {largest['CPU']:g} CPUs and {largest['GPU']:g} GPUs"
    )
    fix = (
        "use --gpus-per-trial 0 (CPUs) or a smaller --cpus-per-trial"
        if not gpus
        else ("use --gpus-per-trial 0 to train on CPUs, or a cluster with GPU workers")
    )
    if not info.joined:
        raise ResourceError(f"no trial can run: asked {asked}; this local Ray has {has}; {fix}")
    from ray.autoscaler.sdk import request_resources

    request_resources(bundles=[{"CPU": cpus, **({"GPU": gpus} if gpus else {})}])
    say(f"ray: no node has {asked} yet ({has}); waiting up to {wait_s:g} s for the autoscaler")
    start = last = time.monotonic()
    while time.monotonic() - start < wait_s:
        time.sleep(min(poll_s, max(wait_s - (time.monotonic() - start), 0)))
        nodes = _nodes()
        if feasible(nodes, cpus, gpus):
            say(f"ray: a node with {asked} joined after {time.monotonic() - start:.0f} s")
            return
        if time.monotonic() - last >= 30:
            last = time.monotonic()
            say(f"ray: still waiting for a node with {asked} ({time.monotonic() - start:.0f} s)")
    raise ResourceError(
        f"no node with {asked} joined within {wait_s:g} s (the cluster has {has}); check its "
        f"worker types (cluster/*.yaml), {fix}, or wait longer (--wait-for-resources)"
    )
