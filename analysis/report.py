"""Command line: ``python -m analysis.report RESULTS --out DIR`` writes the sensitivity report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from analysis._load import ResultsTableError, load_results
from analysis._practical import RANGE_MARGIN, RATIO_MARGIN
from analysis._report import write_report
from analysis._schema import DEFAULT_METRICS, METRICS


def main(argv: list[str] | None = None) -> int:
    """Run the report command; returns the exit status (2 for an unusable results table)."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.report",
        description="Write figures, CSV tables and report.md/report.html that say how "
        "sensitive SSVI is to its hyperparameters compared with dense VI.",
    )
    parser.add_argument(
        "results",
        help="study folder with results.parquet/results.csv, or a "
        "table file; a local path or a URI pandas can read (s3://...)",
    )
    parser.add_argument("--out", default="report", help="output folder (default: report)")
    parser.add_argument(
        "--metrics",
        nargs="+",
        default=list(DEFAULT_METRICS),
        choices=sorted(METRICS),
        help="metrics to analyse",
    )
    parser.add_argument(
        "--n-boot", type=int, default=10_000, help="bootstrap draws per verdict (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument(
        "--num-classes",
        type=int,
        default=None,
        help="number of classes, for datasets the analysis does not know",
    )
    parser.add_argument(
        "--vector-format",
        choices=("none", "svg", "pdf"),
        default="none",
        help="also write each figure as SVG or PDF (default: PNG only)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=RATIO_MARGIN,
        help="practical equivalence: SSVI/dense VI ratio of configuration SDs within "
        f"[1/MARGIN, MARGIN] (default {RATIO_MARGIN})",
    )
    parser.add_argument(
        "--range-margin",
        type=float,
        default=RANGE_MARGIN,
        help=f"practical equivalence of working-range widths, in decades (default {RANGE_MARGIN})",
    )
    args = parser.parse_args(argv)
    if not args.margin > 1 or not args.range_margin > 0:
        print(
            f"error: --margin must be > 1 (got {args.margin}) and --range-margin > 0 "
            f"(got {args.range_margin})",
            file=sys.stderr,
        )
        return 2
    start = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"error: --out {args.out!r} is a file; give a folder for the report", file=sys.stderr)
        return 2
    try:
        table = load_results(args.results)
        md = write_report(
            table,
            args.out,
            metrics=tuple(args.metrics),
            n_boot=args.n_boot,
            seed=args.seed,
            num_classes=args.num_classes,
            vector_format=args.vector_format,
            margin=args.margin,
            range_margin=args.range_margin,
        )
    except ResultsTableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    html = md.with_name("report.html")
    print(
        f"Report written to {html.resolve()} (Markdown: {md.resolve()}; figures and CSV "
        f"tables beside it) in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
