"""The benchmarks run (tiny sizes, CPU) and end with their summary line: they must not rot
between the occasions when a GPU is at hand to run them for real."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
# gpu.py's last line on CPU; {how} is the way of running that gave the best rate
GPU_SUMMARY = (
    r"summary: paper's recipe \(batch 128, SSVI 0\.1, mlp\) on CPU: best [\d,]+ images/s per GPU "
    r"\(({how})\); misses the 20,000 target"
)


def run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, script, *args], cwd=BENCH, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def test_throughput_prints_rates_ratios_and_sizes() -> None:
    last = run("throughput.py", "--model", "mlp", "--n-train", "512", "--epochs", "1")
    assert re.fullmatch(
        r"summary: deterministic [\d,]+, dense VI [\d,]+, SSVI [\d,]+ images/s; SSVI step-time "
        r"overhead over dense VI [+-]\d+\.\d%; operators per step [+-]\d+\.\d%; SSVI/dense VI "
        r"file size 0\.\d+ \(density 0\.1\)",
        last,
    ), last


def test_precision_prints_paired_differences() -> None:
    last = run("precision.py", "--model", "mlp", "--epochs", "1", "--seeds", "2")
    interval = r"[+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]"
    metrics = "; ".join(f"{m} {interval}" for m in ("accuracy", "NLL", "ECE", "OOD AUROC"))
    verdict = "(no detectable difference|differs in .+)"
    assert re.fullmatch(f"summary: bf16 - fp32 over 2 seeds: {metrics}; {verdict}", last), last


def test_gpu_benchmark_script_runs_on_cpu() -> None:
    last = run("gpu.py", "--quick", "--device", "cpu", "--model", "mlp", "--parts", "eager,update")
    assert re.fullmatch(GPU_SUMMARY.format(how=r"eager (fp32|bf16\+CL)"), last), last


@pytest.mark.slow
def test_gpu_benchmark_concurrent_trials_run_on_cpu() -> None:
    # two trials show that the processes start, meet at the barrier and report (4 only add time)
    last = run(
        "gpu.py", "--quick", "--device", "cpu", "--model", "mlp", "--parts", "concurrent",
        "--trials", "2",
    )  # fmt: skip
    assert re.fullmatch(GPU_SUMMARY.format(how="2 trials, compile off"), last), last


def test_analysis_speed_prints_its_timings() -> None:
    last = run("analysis_speed.py", "--repeats", "1", "--no-command")
    assert re.fullmatch(
        r"summary: verdicts \d+\.\d\d s on \d+ runs \(target 3 s at ~210\); report \d+\.\d s in "
        r"process, command not timed \(--no-command\) \(target 5 s at ~210 rows\)",
        last,
    ), last
