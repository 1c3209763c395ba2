"""Command line: ``python -m analysis.pool RESULTS... --out DIR`` pools studies across tasks.

Writes ``pooled.csv`` (one row per pooled comparison), ``pooled_studies.csv`` (the per-study
effects and weights), ``forest_<metric>.png`` (and ``forest_range_<knob>_<line>.png``) and a
short ``pooled.md``. An unusable input gives one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from analysis._forest import plot_forest
from analysis._load import ResultsTableError, load_results
from analysis._pool import MARGIN, RANGE_MARGIN, SENSITIVITY, Pooled, pool
from analysis._schema import DEFAULT_METRICS, METRICS, resolve_metric
from analysis._style import save_figure


def main(argv: list[str] | None = None) -> int:
    """Run the pool command; returns the exit status (2 for unusable input)."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.pool",
        description="Pool several studies' sensitivity verdicts (SSVI vs dense VI) with a "
        "random-effects model: one answer per metric, with its heterogeneity.",
    )
    parser.add_argument("results", nargs="+", help="study folders or results-table files")
    parser.add_argument("--out", default="pooled", help="output folder (default: pooled)")
    parser.add_argument(
        "--metrics",
        nargs="+",
        default=list(DEFAULT_METRICS),
        choices=sorted(METRICS),
        help="metrics to pool",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=MARGIN,
        help="practical margin on the SD ratio: [1/M, M] (default 1.25)",
    )
    parser.add_argument(
        "--range-margin",
        type=float,
        default=RANGE_MARGIN,
        help="practical margin on range widths, ± decades (default 0.3)",
    )
    parser.add_argument(
        "--density",
        type=float,
        default=None,
        help="the SSVI arm to pool, where a study has several",
    )
    parser.add_argument("--n-boot", type=int, default=10_000, help="bootstrap draws per verdict")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstraps")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"error: --out {args.out!r} is a file; give a folder", file=sys.stderr)
        return 2
    try:
        tables = {name: load_results(path) for name, path in _names(args.results).items()}
        pooled = pool(
            tables,
            metrics=tuple(args.metrics),
            margin=args.margin,
            range_margin=args.range_margin,
            density=args.density,
            seed=args.seed,
            n_boot=args.n_boot,
        )
    except ResultsTableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    md = write_pooled(pooled, out)
    print(
        f"Pooled {len(tables)} studies into {md.resolve()} in {time.perf_counter() - start:.1f} s"
    )
    return 0


def _names(paths: list[str]) -> dict[str, str]:
    """A study's name: its folder's (or file's) name, numbered where two are the same."""
    names: dict[str, str] = {}
    for path in paths:
        p = Path(path.rstrip("/"))
        base = p.name if p.suffix not in (".csv", ".parquet") else p.parent.name or p.stem
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names[name] = path
    return names


def write_pooled(pooled: Pooled, out: Path) -> Path:
    """Write the tables, forest plots and ``pooled.md`` into ``out``; returns ``pooled.md``."""
    out.mkdir(parents=True, exist_ok=True)
    pooled.summary.to_csv(out / "pooled.csv", index=False)
    pooled.studies.to_csv(out / "pooled_studies.csv", index=False)
    lines = [
        "# Pooled across studies",
        "",
        "Random-effects meta-analysis of each study's verdict (statsmodels `combine_effects`, "
        "Paule–Mandel τ², Hartung–Knapp 95% interval with t on k − 1 df, its scale floored at "
        "1); Holm's correction over the metrics of each family. Practical reading: the "
        f"interval at level 1 − α/m inside the margin [{1 / pooled.margin:.2f}, "
        f"{pooled.margin:.2f}] on the ratio of configuration SDs (±{pooled.range_margin:g} "
        "decades for working ranges): `equivalent`; entirely beyond it: `less`/`more`.",
        "",
        "| comparison | studies | pooled (95% CI) | prediction interval | τ² | I² | Q (p) "
        "| verdict | practical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in pooled.summary.iterrows():
        stem = _stem(row)
        if row["effect"] == row["effect"]:
            fig = plot_forest(pooled, str(row["metric"]), str(row["scope"]), str(row["line"]))
            save_figure(fig, out / stem, ("png",))
        lines.append(_line(row, stem))
    notes = [f"- {_label(r)}: {r['note']}" for _, r in pooled.summary.iterrows() if r["note"]]
    if notes:
        lines += ["", "Notes:", "", *notes]
    md = out / "pooled.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md


def _stem(row: pd.Series) -> str:
    if row["family"] == SENSITIVITY:
        return f"forest_{row['metric']}"
    return f"forest_range_{row['scope']}_{row['line']}"


def _label(row: pd.Series) -> str:
    label = resolve_metric(str(row["metric"])).label
    if row["family"] == SENSITIVITY:
        return f"{label}, SD ratio"
    return f"{label}, working range along {row['scope']} ({row['line']})"


def _line(row: pd.Series, stem: str) -> str:
    if row["effect"] != row["effect"]:
        return f"| {_label(row)} | {int(row['n_studies'])} | – | – | – | – | – | – | – |"
    ratio = row["family"] == SENSITIVITY
    c = (
        ("ratio", "ratio_low", "ratio_high", "ratio_pi_low", "ratio_pi_high")
        if ratio
        else ("effect", "ci_low", "ci_high", "pi_low", "pi_high")
    )
    f = "{:.2f}" if ratio else "{:+.2f}"
    est, lo, hi, plo, phi = (f.format(row[k]) for k in c)
    pi = "–" if row["pi_low"] != row["pi_low"] else f"{plo} to {phi}"
    return (
        f"| [{_label(row)}]({stem}.png) | {int(row['n_studies'])} | {est} ({lo} to {hi}) | {pi} "
        f"| {row['tau2']:.3g} | {100 * row['i2']:.0f}% | {row['q']:.2f} ({row['q_p_value']:.2g}) "
        f"| {row['verdict']} | {row['practical']} |"
    )


if __name__ == "__main__":
    sys.exit(main())
