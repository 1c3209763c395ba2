"""One driver per study folder: a second start, or a --resume, of a live study refuses in one line
naming the driver that runs it; a killed driver's lock is taken over, and that is said."""

import os
import subprocess
import sys
import time

import pytest

import studies.lock as lock_module
from studies.lock import LOCK_FILE, StudyLock, StudyLocked
from studies.robustness import main

HOLD = """
import sys, time
from studies.lock import StudyLock
lock = StudyLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def _holder(folder) -> subprocess.Popen:
    """Another driver on ``folder``: a process that holds its lock."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


ARGS = ["--design", "grid", "--seeds", "1", "--set", "epochs=1", "--name", "live"]


def test_a_second_driver_on_a_live_study_refuses_naming_the_first(tmp_path, capsys) -> None:
    folder = tmp_path / "live"
    proc = _holder(folder)
    try:
        for extra in ([], ["--resume"]):  # a second start at once, and a --resume meanwhile
            assert main([*ARGS, "--storage", str(tmp_path), *extra]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1, err
            assert "being run by another driver" in err[0] and f"pid {proc.pid}," in err[0]
            assert "since 20" in err[0] and "Traceback" not in err[0]
    finally:
        proc.kill()
        proc.wait()
    # the killed driver left its lock file, but not its lock: the next driver takes it over
    lock = StudyLock(str(folder))
    note = lock.acquire()
    assert note is not None and "took over" in note and f"pid {proc.pid}," in note
    with pytest.raises(StudyLocked):  # held: a third driver in this process is refused too
        StudyLock(str(folder)).acquire()
    lock.release()
    again = StudyLock(str(folder))
    assert again.acquire() is None  # released cleanly: nothing to take over
    again.release()


def test_the_lock_is_released_when_a_study_ends(tmp_path, capsys) -> None:
    """A study that fails validation after taking the lock gives it back."""
    (tmp_path / "live").mkdir()
    assert main([*ARGS, "--storage", str(tmp_path), "--resume"]) == 2  # no such study
    assert "no study at" in capsys.readouterr().err
    assert StudyLock(str(tmp_path / "live")).acquire() is None


def test_object_store_lock_refuses_while_the_heartbeat_is_fresh(monkeypatch) -> None:
    """s3:// and gs://: a lock object renewed every HEARTBEAT_S, stale after STALE_S."""
    store: dict[str, bytes] = {}
    monkeypatch.setattr(lock_module, "_is_uri", lambda folder: True)
    monkeypatch.setattr(lock_module, "read_file", lambda folder, name: store.get(name))
    monkeypatch.setattr(lock_module, "write_files", lambda folder, files: store.update(files))
    monkeypatch.setattr(lock_module, "HEARTBEAT_S", 0.05)
    first = StudyLock("s3://bucket/study")
    assert first.acquire() is None
    beat = lock_module.json.loads(store[LOCK_FILE])["heartbeat"]
    time.sleep(0.3)
    assert lock_module.json.loads(store[LOCK_FILE])["heartbeat"] > beat  # renewed
    with pytest.raises(StudyLocked, match="last seen 0 s ago"):
        StudyLock("s3://bucket/study").acquire()
    # a driver that stopped renewing (killed) is taken over once the lock is stale
    first._stop.set()
    first._beat.join()
    monkeypatch.setattr(lock_module, "STALE_S", 0.1)
    time.sleep(0.2)
    second = StudyLock("s3://bucket/study")
    note = second.acquire()
    assert note is not None and "took over" in note and f"pid {os.getpid()}," in note
    second.release()
    assert lock_module.json.loads(store[LOCK_FILE])["released"] is True
    third = StudyLock("s3://bucket/study")
    assert third.acquire() is None  # released: nothing to take over
    third.release()
