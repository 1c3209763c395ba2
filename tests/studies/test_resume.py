"""Interrupt a study (Ctrl-C), kill its driver, --resume: every trial present exactly once."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from studies.results import read_table
from tests.processes import end, pids_where
from tests.studies.conftest import study_env

ROOT = Path(__file__).resolve().parents[2]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "studies" / "robustness.py"), *args],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the driver and the Ray it started
    )  # fmt: skip


def _kill_group(proc: subprocess.Popen, ray_dir: str) -> None:
    """SIGKILL the study and every process of its Ray, and wait until they are gone: a trial
    still running after its driver was killed could write its row after the test looked. The
    driver's Ray (raylet, GCS, workers) inherits its environment, and Ray's workers run in
    process groups of their own."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    mark = f"SSVI_RAY_TMPDIR={ray_dir}".encode()

    def has_mark(pid: int) -> bool:
        return mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")

    def ours() -> list[int]:
        return pids_where(has_mark)

    # twice: a process started while the first ones were killed is found by the second pass
    left = end(ours, ((signal.SIGKILL, 15.0), (signal.SIGKILL, 15.0)))
    assert not left and not ours(), f"processes of the killed study still run: {left or ours()}"


def _table(folder: Path) -> pd.DataFrame:
    """The study's rows mid-way (the compacted table is written only every 100 rows and at the end:
    the row files hold the others)."""
    table = read_table(str(folder))
    return pd.DataFrame() if table is None else table


def _wait_for_rows(proc: subprocess.Popen, folder: Path, rows: int, log: Path) -> None:
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until a few trials have ended
        if len(_table(folder)) >= rows:
            return
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.5)
    pytest.fail("no trial finished in time:\n" + log.read_text()[-3000:])


@pytest.mark.slow
def test_killed_driver_resumes_without_losing_or_repeating_trials(tmp_path) -> None:
    env = study_env(tmp_path)
    # 18 trials as two Tune experiments of 9 (a large study's layout): resumed across them
    env["SSVI_EXPERIMENT_TRIALS"] = "9"
    args = ["--design", "grid", "--seeds", "1", "--set", "epochs=3", "--set", "eval_samples=1",
            "--storage", str(tmp_path), "--name", "killed", "--ray-address", "local"]  # fmt: skip
    folder = tmp_path / "killed"
    log = tmp_path / "study.log"
    # Ctrl-C: the study ends cleanly, keeps its finished rows only, and says how to resume
    proc = _start(args, env, log)
    try:
        _wait_for_rows(proc, folder, 2, log)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130, log.read_text()[-3000:]
    finally:
        _kill_group(proc, env["SSVI_RAY_TMPDIR"])
    text = log.read_text()
    assert "robustness: interrupted" in text and "Traceback" not in text
    assert f"continue with: python studies/robustness.py {' '.join(args)} --resume" in text
    # the interrupted study wrote its compacted table at the experiment's end
    interrupted = pd.read_parquet(folder / "results.parquet")
    assert set(interrupted["status"]) == {"completed"} and interrupted["trial_id"].is_unique
    # a killed driver (SIGKILL: no chance to clean up) after a resume
    proc = _start([*args, "--resume"], env, log)
    try:
        _wait_for_rows(proc, folder, len(interrupted) + 2, log)
    finally:
        _kill_group(proc, env["SSVI_RAY_TMPDIR"])
    done_before = _table(folder)  # killed: the row files hold what ended since the last table
    assert 4 <= len(done_before) < 18

    # an execution setting may change on resume (here channels_last, which changes nothing for
    # this MLP): the plan is the same, and the trials that run now run as this command says
    proc = _start([*args, "--resume", "--set", "channels_last=true"], env, log)
    try:
        assert proc.wait(timeout=400) == 0, log.read_text()[-3000:]
    finally:
        _kill_group(proc, env["SSVI_RAY_TMPDIR"])
    final = pd.read_parquet(folder / "results.parquet")
    assert (tmp_path / "killed-part2").is_dir() and not (tmp_path / "killed-part3").exists()
    assert len(final) == 9 * 2
    assert final["trial_id"].is_unique
    assert set(final["status"]) == {"completed"}
    assert (final.groupby(["config_id", "method"]).size() == 1).all()
    # trials that had finished before the kill were not re-run
    before = done_before.set_index("trial_id")["wall_time_s"]
    after = final.set_index("trial_id").loc[before.index, "wall_time_s"]
    assert (after == before).all(), pd.concat([before, after], axis=1)
    configs = {
        tid: yaml.safe_load((tmp_path / "killed" / "configs" / f"{tid}.yaml").read_text())
        for tid in final["trial_id"]
    }
    assert not any(configs[tid]["channels_last"] for tid in before.index)
    resumed = [tid for tid in final["trial_id"] if tid not in before.index]
    assert resumed and all(configs[tid]["channels_last"] for tid in resumed)
