"""Find and end the processes a test started, and only those (Linux: reads /proc)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path


def pids_where(belongs: Callable[[int], bool]) -> list[int]:
    """Live process ids (not this process) for which ``belongs(pid)`` is true; a process that
    ends while it is looked at is skipped."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError, ProcessLookupError):
                if belongs(int(entry)):
                    pids.append(int(entry))
    return pids


def gone(pid: int) -> bool:
    """Whether the process has ended (a zombie has: it only waits for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


Steps = tuple[tuple[signal.Signals, float], ...]


def end(
    find: Callable[[], list[int]],
    steps: Steps = ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)),
) -> list[int]:
    """For each ``(signal, seconds)`` step, send the signal to every process ``find()`` returns
    then and wait up to that long for them to end. Returns those of the last step still alive."""
    pids: list[int] = []
    for sig, wait_s in steps:
        pids = find()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.time() + wait_s
        while pids and time.time() < deadline:
            pids = [p for p in pids if not gone(p)]
            time.sleep(0.1)
    return pids
