"""The study framework's own cost as a study grows: driver CPU, bytes written, resume, table reads.

    python benchmarks/study_scale.py                          # 100 and 1,000 trials
    python benchmarks/study_scale.py --trials 100,1000,5000   # more sizes (5,000: about an hour)

Each size runs a real study (``studies.robustness``: the planner, the trainable, the results table,
Tune's experiment state, on a fresh local Ray instance) of a ``random`` design of that many trials
(the local preset's digits runs, 2 epochs, seed 0), with ssvi's Trainer replaced by a trivial one
that reports its epochs and checkpoints at once: what is left is the framework's own cost. The
study is interrupted (SIGINT, as Ctrl-C) when half its rows are written, then resumed with
``--resume``, as a user would. For each size it prints

- driver CPU seconds per trial (the study's Python process, from /proc: from the first trial's
  start to the process's end, both halves: Ray's start-up excluded, the final table, snapshot
  and shutdown included) and wall seconds per trial (first trial start to last row written);
- bytes the driver writes per trial over the same span (``wchar``: results table, Tune's
  experiment snapshots and loggers) and the study's bytes on disk per trial (row files, configs,
  checkpoints, Tune's logs and snapshots);
- seconds from launching ``--resume`` to the first new trial starting;
- seconds to read the table mid-way (compacted table + row files) and at the end.

The last line is the summary the scaling targets refer to (issue 14): per-trial driver overhead
at the smallest and largest size and their ratio, and bytes per trial at both.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "scale"
TICK = os.sysconf("SC_CLK_TCK")


# ---- the trivial trainer (runs in Ray's workers: cloudpickled by value from __main__) ----------
class ScaleTrainer:
    """ssvi.train.Trainer's interface as studies.trainable uses it, without training."""

    markers = ""  # set by the child before the study starts: a file per trial start goes here

    def __init__(self, cfg: Any, data: Any = None, callbacks: Any = (), epoch: int = 0) -> None:
        self.cfg, self.data, self.callbacks, self.epoch = cfg, data, list(callbacks), epoch
        if self.markers:
            Path(self.markers, f"{time.time():.6f}-{uuid.uuid4().hex[:8]}").touch()

    @classmethod
    def from_checkpoint(cls, path: Any, data: Any, callbacks: Any, **execution: Any) -> Any:
        from ssvi.config import make_config

        state = json.loads(Path(path).read_text())
        return cls(make_config({**state["cfg"], **execution}), data, callbacks, state["epoch"])

    def save_checkpoint(self, path: Any) -> None:
        Path(path).write_text(json.dumps({"cfg": self.cfg.to_dict(), "epoch": self.epoch}))

    def fit(self) -> Any:
        from ssvi.train import RunResult

        acc = 0.5 + 0.4 * ((hash(self.cfg.kl_weight) % 1000) / 1000)
        for epoch in range(self.epoch + 1, self.cfg.epochs + 1):
            self.epoch = epoch
            for callback in self.callbacks:
                callback.on_epoch_end(self, {"epoch": epoch, "train_loss": 1.0 / epoch,
                                             "val_accuracy": acc, "val_nll": 1 - acc})  # fmt: skip
        metrics = {f"{split}_{m}": acc if m == "accuracy" else 1 - acc
                   for split in ("val", "test") for m in ("accuracy", "nll", "ece", "brier")}  # fmt: skip
        metrics.update(test_ood_auroc=0.7, test_ood_aupr=0.7, test_accuracy_mean_weights=acc)
        return RunResult("completed", self.epoch, metrics)


def child(n: int, storage: str, resume: bool, cpus_per_trial: float) -> int:
    """One invocation of the study (the process the parent measures)."""
    from studies.designs import expand_designs
    from studies.robustness import parse_args, plan, run

    argv = ["--preset", "local", "--design", "random", "--seeds", "1", "--set", "epochs=2",
            "--storage", storage, "--name", NAME, "--ray-address", "local",
            "--cpus-per-trial", str(cpus_per_trial), *(["--resume"] if resume else [])]  # fmt: skip
    args = parse_args(argv)
    args.argv = argv
    p = plan(args)
    # n trials: n/2 random configurations of the shared knobs, SSVI and dense VI, one seed
    preset = replace(p.preset, densities=(0.1,), seeds=(0,), random_samples=n // 2)
    p = replace(p, trials=expand_designs(["random"], preset, p.base))
    ScaleTrainer.markers = str(Path(storage) / "markers")
    Path(ScaleTrainer.markers).mkdir(exist_ok=True)
    rc = run(p, args, trainer_class=ScaleTrainer)
    end = sample(os.getpid(), 0)  # the driver's totals as it ends (final table, snapshot, shutdown)
    assert end is not None
    Path(storage, f"end-{'resume' if resume else 'start'}.json").write_text(json.dumps(vars(end)))
    return rc


# ---- the parent: runs the child twice per size and watches it from /proc ---------------------
@dataclass
class Sample:
    wall: float
    cpu: float  # driver user + system seconds
    wchar: int  # bytes the driver passed to write()
    rows: int


def sample(pid: int, rows: int) -> Sample | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    except (OSError, ValueError):
        return None
    cpu = (int(stat[11]) + int(stat[12])) / TICK  # utime, stime (fields 14, 15)
    return Sample(time.monotonic(), cpu, int(io["wchar"]), rows)


def count(folder: Path) -> int:
    try:
        return len(os.listdir(folder))
    except FileNotFoundError:
        return 0


@dataclass
class Phase:
    first: Sample | None  # when the first new trial started
    last: Sample | None  # when the last row was written
    end: Sample | None  # the driver's totals as it ended
    start_latency: float  # launch -> first new trial
    rc: int


def phase(n: int, storage: Path, resume: bool, stop_at: int | None, args: Any) -> Phase:
    """Run the child; SIGINT it once ``stop_at`` rows exist."""
    markers, rows_dir = storage / "markers", storage / NAME / "rows"
    seen = set(os.listdir(markers)) if markers.exists() else set()
    env = {**os.environ, "SSVI_RAY_TMPDIR": tempfile.mkdtemp(prefix="ssvi-ray-", dir="/tmp")}
    cmd = [sys.executable, __file__, "--child", str(n), "--storage", str(storage),
           "--cpus-per-trial", str(args.cpus_per_trial), *(["--resume"] if resume else [])]  # fmt: skip
    log = open(storage / f"child-{'resume' if resume else 'start'}.log", "w")  # noqa: SIM115
    launched = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, cwd=ROOT)  # fmt: skip
    first = last = None
    latency = float("nan")
    rows = count(rows_dir)
    interrupted = False
    deadline = time.monotonic() + args.timeout
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} trials: no end after {args.timeout} s; see {log.name}")
            now_rows = count(rows_dir)
            if first is None:
                new = [
                    m for m in (os.listdir(markers) if markers.exists() else []) if m not in seen
                ]
                if new:
                    first = sample(proc.pid, now_rows)
                    latency = min(float(m.split("-")[0]) for m in new) - launched
            if now_rows > rows:
                rows = now_rows
                last = sample(proc.pid, rows) or last
            if stop_at is not None and rows >= stop_at and not interrupted:
                proc.send_signal(signal.SIGINT)  # the driver only, as Ctrl-C would reach it
                interrupted = True
            time.sleep(0.1)
    finally:
        if proc.poll() is None:  # only what this benchmark started: the child's process group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    end_file = storage / f"end-{'resume' if resume else 'start'}.json"
    end = Sample(**json.loads(end_file.read_text())) if end_file.exists() else None
    if end is not None and last is not None:
        end.rows = last.rows
    return Phase(first, last, end, latency, proc.returncode)


def disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def timed_read(folder: Path) -> tuple[float, float, int]:
    """Seconds for studies' read_table and for the analysis' load_results, and the rows read."""
    from analysis import load_results
    from studies.results import read_table

    t0 = time.perf_counter()
    table = read_table(str(folder))
    t1 = time.perf_counter()
    load_results(folder)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, 0 if table is None else len(table)


def measure(n: int, args: Any) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"ssvi-scale-{n}-") as tmp:
        storage = Path(tmp)
        first_half = phase(n, storage, resume=False, stop_at=n // 2, args=args)
        folder = storage / NAME
        mid_read, mid_load, mid_rows = timed_read(folder)
        second = phase(n, storage, resume=True, stop_at=None, args=args)
        if second.rc != 0:
            log = (storage / "child-resume.log").read_text()[-3000:]
            raise RuntimeError(f"{n} trials: the resumed study ended with {second.rc}:\n{log}")
        end_read, end_load, end_rows = timed_read(folder)
        # from the first trial's start to the last row (wall), or to the driver's end (CPU, bytes:
        # the final table, the last snapshot and the shutdown count too)
        spans = [(h.first, h.last, h.end) for h in (first_half, second)]
        full = [(a, b, c) for a, b, c in spans if a is not None and b is not None and c is not None]
        trials = sum(b.rows - a.rows for a, b, _ in full)
        cpu = sum(c.cpu - a.cpu for a, _, c in full)
        wall = sum(b.wall - a.wall for a, b, _ in full)
        written = sum(c.wchar - a.wchar for a, _, c in full)
        snapshots = sorted(storage.glob(f"{NAME}/experiment_state*.json")) + sorted(
            storage.glob(f"{NAME}/**/experiment_state*.json")
        )
        return {
            "trials": n,
            "rows": end_rows,
            "measured_trials": trials,
            "interrupted_at": mid_rows,
            "driver_cpu_ms": 1000 * cpu / trials,
            "wall_ms": 1000 * wall / trials,
            "driver_bytes": written / trials,
            "disk_bytes": disk_bytes(storage) / n,
            "snapshot_bytes": max((s.stat().st_size for s in snapshots), default=0),
            "resume_s": second.start_latency,
            "read_mid_s": mid_read,
            "load_mid_s": mid_load,
            "read_end_s": end_read,
            "load_end_s": end_load,
        }


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--trials", default="100,1000", help="study sizes, comma-separated")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="as the study's flag")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per invocation")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--storage", help=argparse.SUPPRESS)
    p.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, args.storage, args.resume, args.cpus_per_trial)
    try:
        sizes = sorted({int(s) for s in args.trials.split(",") if s.strip()})
    except ValueError:
        p.error(f"--trials {args.trials!r}: give study sizes as integers, e.g. 100,1000,5000")
    if not sizes or min(sizes) < 20:
        p.error(f"--trials {args.trials!r}: each size must be at least 20")
    figures = []
    print(f"{'trials':>7} {'driver ms/trial':>15} {'wall ms/trial':>13} {'driver B/trial':>14} "
          f"{'disk B/trial':>12} {'snapshot B':>11} {'resume s':>8} {'read mid/end s':>15} "
          f"{'load end s':>10}")  # fmt: skip
    for n in sizes:
        f = measure(n, args)
        figures.append(f)
        print(f"{n:>7} {f['driver_cpu_ms']:>15.1f} {f['wall_ms']:>13.1f} "
              f"{f['driver_bytes']:>14,.0f} {f['disk_bytes']:>12,.0f} {f['snapshot_bytes']:>11,} "
              f"{f['resume_s']:>8.1f} {f['read_mid_s']:>7.2f}/{f['read_end_s']:<7.2f} "
              f"{f['load_end_s']:>10.2f}", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    a, b = figures[0], figures[-1]
    print(f"summary: per-trial driver overhead {a['trials']} trials {a['driver_cpu_ms']:.1f} ms, "
          f"{b['trials']} trials {b['driver_cpu_ms']:.1f} ms, ratio "
          f"{b['driver_cpu_ms'] / a['driver_cpu_ms']:.2f}; bytes per trial "
          f"{a['driver_bytes']:,.0f} -> {b['driver_bytes']:,.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
