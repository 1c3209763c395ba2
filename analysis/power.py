"""Command line: ``python -m analysis.power PLANNED --seed-sd S --config-sd C`` simulates the
headline verdict's power for a planned study (``analysis._plan_power``).

``PLANNED`` is a results table of the planned trials (CSV or Parquet, the contract of
docs/results-table.md; metrics are drawn, so they may be empty), as ``studies/robustness.py
--dry-run`` writes it. Prints one line: the share of simulated studies that find SSVI's accuracy
less sensitive at the ratio, with its exact 95% interval. An unusable input gives one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd
from scipy import stats

from analysis._plan_power import PLANNING_RATIO, Assumption, simulated_power


def main(argv: list[str] | None = None) -> int:
    """Run the power command; returns the exit status (2 for unusable input)."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.power",
        description="Simulate the power of a planned study's headline verdict.",
    )
    parser.add_argument("planned", help="results table of the planned trials (.csv or .parquet)")
    parser.add_argument("--seed-sd", type=float, required=True, help="seed SD of accuracy")
    parser.add_argument("--config-sd", type=float, required=True, help="dense VI's config SD")
    parser.add_argument("--config-corr", type=float, default=0.98)
    parser.add_argument("--ratio", type=float, default=PLANNING_RATIO)
    parser.add_argument("--sims", type=int, default=200, help="simulated studies")
    args = parser.parse_args(argv)
    bad = [
        f"{flag} {value!r} ({allowed})"
        for flag, value, ok, allowed in [
            ("--seed-sd", args.seed_sd, args.seed_sd > 0, "> 0"),
            ("--config-sd", args.config_sd, args.config_sd > 0, "> 0"),
            ("--config-corr", args.config_corr, -1 <= args.config_corr <= 1, "in [-1, 1]"),
            ("--ratio", args.ratio, args.ratio > 0, "> 0"),
            ("--sims", args.sims, args.sims >= 1, ">= 1"),
        ]
        if not ok
    ]
    if bad:
        print(f"analysis.power: out of range: {'; '.join(bad)}", file=sys.stderr)
        return 2
    try:
        read = pd.read_parquet if args.planned.endswith(".parquet") else pd.read_csv
        rows = read(args.planned)
    except (OSError, ValueError) as err:
        print(f"analysis.power: cannot read {args.planned}: {err}", file=sys.stderr)
        return 2
    assumption = Assumption(args.seed_sd, args.config_sd, args.config_corr)
    workers = min(2, os.cpu_count() or 1)
    hits, n = simulated_power(rows, assumption, args.ratio, args.sims, workers=workers)
    ci = stats.binomtest(hits, n).proportion_ci(method="exact")
    side = "less" if args.ratio < 1 else "more"
    print(
        f"simulated: {n} studies of this plan, configuration effects Gaussian and correlated "
        f"{args.config_corr:g} between the methods, analysed by the real verdicts: SSVI's "
        f"accuracy is found {side} sensitive at {args.ratio:g}x dense VI's configuration SD in "
        f"{hits / n:.0%} of them (95% CI {ci.low:.0%}-{ci.high:.0%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
