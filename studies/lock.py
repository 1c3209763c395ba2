"""One driver per study folder: a second driver on a live study refuses, naming the first.

Two drivers on one folder would both run every trial (twice the compute) and race on the
compacted table. The lock is ``<study folder>/driver.lock``:

- a local or NFS folder: ``flock`` on that file, held for the driver's life. The kernel releases
  it when the process ends, however it ends, so a killed driver never leaves it stuck; the file
  keeps the last holder's host, pid and start time, and the next driver says it takes it over.
- an ``s3://`` / ``gs://`` folder: object stores have no locks. The driver writes the lock object
  and rewrites it every ``HEARTBEAT_S`` seconds; another driver refuses while the heartbeat is
  younger than ``STALE_S`` and takes a staler one over, saying so. Checking and writing are two
  requests, so two drivers started within the same second can both pass: advisory, not exclusive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import IO, Any

from studies.results import _is_uri, read_file, write_files

LOCK_FILE = "driver.lock"
HEARTBEAT_S = 60.0  # object stores: how often a live driver rewrites its lock object
STALE_S = 300.0  # object stores: a lock object older than this belongs to a driver that is gone


class StudyLocked(RuntimeError):
    """Another driver holds the study folder."""


def _holder_text() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "heartbeat": time.time(),
    }


def describe(holder: dict[str, Any]) -> str:
    return (
        f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}, "
        f"since {holder.get('since', '?')}"
    )


class StudyLock:
    """Hold ``folder``'s driver lock: :meth:`acquire` raises :class:`StudyLocked` when another
    live driver holds it, and returns a message when it took over a dead driver's lock."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.holder = _holder_text()
        self._file: IO[str] | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def acquire(self) -> str | None:
        return self._acquire_uri() if _is_uri(self.folder) else self._acquire_local()

    def _acquire_local(self) -> str | None:
        import fcntl

        folder = Path(self.folder.removeprefix("file://"))
        folder.mkdir(parents=True, exist_ok=True)
        f = open(folder / LOCK_FILE, "a+")  # noqa: SIM115 (held open for the driver's life)
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = _parse(f.read())
            f.close()
            raise StudyLocked(
                f"study {self.folder} is being run by another driver ({describe(holder)}): "
                "wait for it to end, or stop it, then --resume"
            ) from None
        f.seek(0)
        previous = _parse(f.read())
        f.seek(0)
        f.truncate()
        f.write(json.dumps(self.holder))
        f.flush()
        self._file = f
        if previous and not previous.get("released"):  # it ended without releasing: killed
            return f"took over the lock of a driver that has ended ({describe(previous)})"
        return None

    def _acquire_uri(self) -> str | None:
        raw = read_file(self.folder, LOCK_FILE)
        previous = _parse(raw.decode()) if raw else {}
        if previous and not previous.get("released"):
            age = time.time() - float(previous.get("heartbeat", 0.0))
            if age < STALE_S:
                raise StudyLocked(
                    f"study {self.folder} is being run by another driver ({describe(previous)}, "
                    f"last seen {age:.0f} s ago): wait for it to end, or stop it, then --resume; "
                    f"a lock not renewed for {STALE_S:.0f} s is taken over"
                )
        self._write_uri()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name="study-lock")
        self._beat.start()
        if previous and not previous.get("released"):
            return (
                f"took over the lock of a driver not seen for over {STALE_S:.0f} s "
                f"({describe(previous)})"
            )
        return None

    def _write_uri(self, **extra: Any) -> None:
        self.holder["heartbeat"] = time.time()
        write_files(self.folder, {LOCK_FILE: json.dumps({**self.holder, **extra}).encode()})

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                self._write_uri()

    def release(self) -> None:
        """Give the lock back (the file stays, with the last holder's description)."""
        self._stop.set()
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.write(json.dumps({**self.holder, "released": True}))
            self._file.close()  # closing releases the flock
            self._file = None
        elif self._beat is not None:
            self._beat.join(timeout=5)
            with contextlib.suppress(OSError):
                self._write_uri(released=True)
            self._beat = None


def hold(folder: str) -> StudyLock:
    """The study folder's driver lock, or a StudyError naming its holder (said in one line)."""
    from studies.planning import StudyError

    lock = StudyLock(folder)
    try:
        note = lock.acquire()
    except StudyLocked as err:
        raise StudyError(str(err)) from None
    if note:
        print(f"robustness: {note}")
    return lock


def _parse(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
