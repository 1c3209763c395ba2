"""How long the analysis takes on a study of the local preset's size.

    python benchmarks/analysis_speed.py                       # a simulated 240-run study
    python benchmarks/analysis_speed.py --results results/local-robustness

Times ``analysis.verdicts`` (target: 3 s for a 210-run table on 2 cores) and the whole report,
in process and as the ``python -m analysis.report`` command with its imports (target: 10 s).
Without ``--results`` the table is drawn from tests/analysis/truth.py (the local preset's
designs, 3 seeds).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "analysis")]


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--results", help="a study folder or table (default: a simulated study)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of verdicts")
    p.add_argument(
        "--no-command", action="store_true", help="skip timing the report command (quicker)"
    )
    args = p.parse_args()

    from analysis import load_results, verdicts, write_report

    with tempfile.TemporaryDirectory() as tmp:
        if args.results:
            source = args.results
            table = load_results(source)
        else:
            from truth import World, make_table

            table = make_table(World(random_divergences=3), seed=0)
            source = str(Path(tmp) / "results.parquet")
            table.to_parquet(source, index=False)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            v = verdicts(table)
            times.append(time.perf_counter() - start)
        print(f"table: {len(table)} runs; verdicts: {len(v)} rows")
        print(f"verdicts: median {statistics.median(times):.2f} s over {args.repeats} runs")
        start = time.perf_counter()
        write_report(table, Path(tmp) / "report")
        in_process = time.perf_counter() - start
        print(f"write_report (in process, imports done): {in_process:.1f} s")
        command = float("nan")
        if not args.no_command:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "analysis.report", source, "--out", str(Path(tmp) / "cli")],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            command = time.perf_counter() - start
            print(f"python -m analysis.report (with imports): {command:.1f} s")
    print(
        f"summary: verdicts {statistics.median(times):.2f} s on {len(table)} runs (target 3 s); "
        f"report {in_process:.1f} s in process, {command:.1f} s as a command (target 10 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
