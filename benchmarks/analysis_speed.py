"""How long the analysis takes on a study of the local preset's size, and on a large one.

    python benchmarks/analysis_speed.py                       # a simulated 240-run study
    python benchmarks/analysis_speed.py --rows 210            # ~210 rows (the local preset)
    python benchmarks/analysis_speed.py --rows 100000         # ~100,000 synthetic rows
    python benchmarks/analysis_speed.py --results results/local-robustness

Times ``analysis.verdicts`` (target: 3 s for a 210-run table on 2 cores) and the whole report,
in process and as the ``python -m analysis.report`` command with its imports (targets: 5 s at
~210 rows, 60 s at 100,000 rows, issue 14). Without ``--results`` the table is drawn from
tests/analysis/truth.py: the local preset's designs with 3 seeds (240 rows), or with ``--rows
N`` the same designs and schema with the two random designs scaled up (in the local preset's
12:10 ratio of configurations) until the table has about ``N`` rows.
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

TARGETS = {210: 5.0, 100_000: 60.0}  # rows -> seconds for the report command (issue 14)


def synthetic_table(rows: int | None):  # -> pd.DataFrame
    """The simulated study: the default 240-row one, or about ``rows`` rows."""
    from truth import World, make_table

    if rows is None:
        return make_table(World(random_divergences=3), seed=0)
    fixed = len(make_table(World(n_random=0, n_random_ssvi=0), seed=0))  # grid + sweeps
    seeds = World().n_seeds
    # a random configuration runs both methods, an SSVI-only one SSVI only; 12:10 as locally
    per_unit = seeds * (2 + 10 / 12)
    n_random = max(0, round((rows - fixed) / per_unit))
    n_ssvi = round(n_random * 10 / 12)
    return make_table(World(random_divergences=3, n_random=n_random, n_random_ssvi=n_ssvi), seed=0)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--results", help="a study folder or table (default: a simulated study)")
    p.add_argument(
        "--rows", type=int, help="simulate a study of about this many rows (default: 240)"
    )
    p.add_argument(
        "--repeats", type=int, help="timed runs of verdicts (default 5; 1 above 1,000 rows)"
    )
    p.add_argument(
        "--no-command", action="store_true", help="skip timing the report command (quicker)"
    )
    args = p.parse_args()
    if args.results and args.rows:
        p.error("--rows simulates a table: give it or --results, not both")

    from analysis import load_results, verdicts, write_report

    with tempfile.TemporaryDirectory() as tmp:
        if args.results:
            source = args.results
            table = load_results(source)
        else:
            start = time.perf_counter()
            table = synthetic_table(args.rows)
            source = str(Path(tmp) / "results.parquet")
            table.to_parquet(source, index=False)
            print(f"simulated {len(table)} rows in {time.perf_counter() - start:.1f} s")
        repeats = args.repeats or (5 if len(table) <= 1000 else 1)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            v = verdicts(table)
            times.append(time.perf_counter() - start)
        print(f"table: {len(table)} runs; verdicts: {len(v)} rows")
        print(f"verdicts: median {statistics.median(times):.2f} s over {repeats} runs")
        start = time.perf_counter()
        write_report(table, Path(tmp) / "report")
        in_process = time.perf_counter() - start
        print(f"write_report (in process, imports done): {in_process:.1f} s")
        command = "command not timed (--no-command)"
        if not args.no_command:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "analysis.report", source, "--out", str(Path(tmp) / "cli")],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            print(f"python -m analysis.report (with imports): {seconds:.1f} s")
            command = f"{seconds:.1f} s as a command"
    rows = min(TARGETS, key=lambda n: abs(n - len(table)) / n)  # the nearer size, relatively
    print(
        f"summary: verdicts {statistics.median(times):.2f} s on {len(table)} runs (target 3 s "
        f"at ~210); report {in_process:.1f} s in process, {command} (target "
        f"{TARGETS[rows]:.0f} s at ~{rows:,} rows)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
