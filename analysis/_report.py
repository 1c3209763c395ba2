"""The report: statistics, figures and CSV tables of a study, led by the verdict."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from analysis import _importance, _variance
from analysis import _range_report as range_report
from analysis import _report_notes as notes
from analysis import _report_text as text
from analysis._background import SHARED, Background, Task
from analysis._design import shared_rows
from analysis._document import Document
from analysis._importance import EVALUATORS, NotEnoughTrialsError, importance
from analysis._load import prepare_results
from analysis._practical import RANGE_MARGIN, RATIO_MARGIN
from analysis._ranges import RANGE_METRICS, range_knobs, working_ranges
from analysis._report_metrics import cost_section, importance_section, metric_section
from analysis._report_parts import Collected, Later, Output
from analysis._report_verdicts import verdict_section
from analysis._schema import ARM, DEFAULT_METRICS, Metric, arm_label, resolve_metric, sort_arms
from analysis._tuning import near_best, tuning_curves
from analysis._verdicts import COLUMNS, verdicts


def write_report(
    df: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    n_boot: int = 10_000,
    seed: int = 0,
    num_classes: int | None = None,
    vector_format: str = "none",
    margin: float = RATIO_MARGIN,
    range_margin: float = RANGE_MARGIN,
) -> Path:
    """Write the sensitivity report of a results table.

    Creates ``out_dir/report.md`` and a self-contained ``out_dir/report.html`` (figures
    embedded), ``out_dir/figures/*.png`` (plus a vector copy, ``svg`` or ``pdf``, on request), the
    statistics as ``out_dir/tables/*.csv``. The report opens with the answer (``verdicts``), one
    sentence per metric; which figures appear depends on the designs in the table (heatmaps
    need a grid, sensitivity curves a one-at-a-time sweep, tuning curves the random design,
    importance enough random configurations).

    The statistics and figures are shared with a forked worker process (``_background``), so
    a report takes about half its CPU time on two cores. Its cost stays bounded on large
    studies, and the report's caveats say where: bootstraps over more than 1,000
    configurations draw the sums they need (``_variance``), importance uses a seeded subsample
    of 50 configurations per method and design (``importance(max_configs=...)``), tuning
    curves take at most 200 values of k (``_tuning.k_values``). None of these binds at the
    local preset's size (about 30 configurations).

    Args:
        df: results table (``load_results``) or a prepared one.
        out_dir: output folder (created).
        metrics: metric keys; metrics without any value in the table are skipped (noted).
        n_boot: bootstrap draws of the verdicts.
        seed: seed of the bootstraps and of fANOVA's forest.
        num_classes: number of classes, for tables without a ``num_classes`` column whose
            dataset the analysis does not know.
        vector_format: ``none`` (the default: writing SVGs doubles the time spent on
            figures), ``svg`` or ``pdf``.

    Returns:
        Path of ``report.md`` (``report.html`` is beside it).
    """
    if vector_format not in ("none", "svg", "pdf"):
        raise ValueError(f"vector_format must be 'none', 'svg' or 'pdf', got {vector_format!r}")
    out = Path(out_dir)
    figures = out / "figures"
    data = prepare_results(df, num_classes)
    background = Background(shared=data)  # a forked worker shares the work (_background)
    fmt = Output(vector_format, background)
    doc = Document(_title(data))
    got = Collected()
    kept = [resolve_metric(k) for k in metrics]
    present = [m for m in kept if data[m.column].notna().any()]
    got.notes += [
        f"{m.label} has no values in the table: skipped." for m in kept if m not in present
    ]
    keys = tuple(m.key for m in present)
    _, excluded = shared_rows(data)
    sections = Document("")
    try:
        # the statistics that need no figure are queued first: the worker starts on them
        # while the sections below are drawn
        later = Later(
            verdicts=background.submit(
                verdicts,
                SHARED,
                seed=seed,
                n_boot=n_boot,
                metrics=keys,
                margin=margin,
                range_margin=range_margin,
            )  # fmt: skip
            if keys
            else None,
            # the sensitivity analysis (secondary: fewer draws), when some run diverged
            chance=background.submit(
                verdicts,
                SHARED,
                seed=seed,
                n_boot=min(n_boot, 2000),
                metrics=keys,
                diverged="chance",
            )
            if keys and data["status"].eq("diverged").any()
            else None,
            tuning=_submit_tuning(background, data, seed),
            importance={
                m.key: [background.submit(_importance_of, SHARED, m, e, seed) for e in EVALUATORS]
                for m in present
            },
        )
        on_ranges = tuple(k for k in keys if k in RANGE_METRICS) if range_knobs(data) else ()
        range_task = (  # where each method breaks, along each knob with one-at-a-time rows
            background.submit(working_ranges, SHARED, metrics=on_ranges, seed=seed)
            if on_ranges
            else None
        )
        # the edge design's values are chosen adaptively to find where each method fails: they
        # belong to the working ranges, not to a method's spread over the configurations it ran
        rest = data[data["design"] != "edge"]
        for m in present:
            first = m == present[0]
            metric_section(sections, got, rest, m, seed, figures, fmt, first)
            tasks = later.importance[m.key]
            importance_section(sections, got, tasks, background, m, figures, fmt, first)
        cost_section(sections, rest, figures, fmt)
        v = background.result(later.verdicts) if later.verdicts else _no_verdicts()
        chance = background.result(later.chance) if later.chance else _no_verdicts()
        got.add("verdicts", v)
        got.add("verdicts_diverged_at_chance", chance)
        if (v["n_configs"] > _variance.EXACT_MAX_CONFIGS).any():
            got.notes.append(notes.large_bootstrap_sentence())
        ranges = background.result(range_task) if range_task else pd.DataFrame()
        _lead(doc, data, v, df, range_report.answer(v, ranges) if len(ranges) else [])
        verdict_section(doc, got, data, v, chance, excluded, df, later, figures, fmt)
        if len(ranges):
            got.add("ranges", ranges)
            png = figures / "ranges"
            drawn = (ranges["metric"] == "accuracy").any()
            plot = range_report.plot_working_ranges
            figure = fmt.draw(png, plot, SHARED, ranges=ranges) if drawn else None
            range_report.section(doc, v, ranges, figure)
    except BaseException:
        background.abort()  # no need to finish the queued work
        raise
    background.close()  # every figure is on disk before the HTML embeds them
    doc.blocks += sections.blocks
    doc.heading("Method")
    seeds = int(data.groupby([ARM, "config_id"])["seed"].nunique().min())
    doc.bullets(notes.method_notes(n_boot, seeds))
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for name, frames in got.tables.items():
        pd.concat(frames, ignore_index=True).to_csv(out / "tables" / f"{name}.csv", index=False)
    n_figures = sum(b.kind == "figure" for b in doc.blocks)
    doc.heading("Files")
    doc.bullets(
        [f"`tables/{name}.csv`" for name in sorted(got.tables)]
        + [
            f"`figures/`: {n_figures} PNG figures"
            + ("" if vector_format == "none" else f", each also as {vector_format.upper()}")
        ]
    )
    md = out / "report.md"
    md.write_text(doc.to_markdown(out), encoding="utf-8")
    (out / "report.html").write_text(doc.to_html(), encoding="utf-8")
    return md


def _no_verdicts() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def _title(data: pd.DataFrame) -> str:
    study = ", ".join(sorted(set(data["study"]) - {""})) if "study" in data else ""
    return "Hyperparameter sensitivity of SSVI vs dense VI" + (f": {study}" if study else "")


def _submit_tuning(
    background: Background, data: pd.DataFrame, seed: int
) -> tuple[Task, Task] | None:
    """Tuning curves (accuracy and NLL) and near-best shares, when both methods ran the random
    design."""
    random_rows = data[data["design"] == "random"]
    if random_rows.empty or random_rows[ARM].nunique() < 2:
        return None
    return (
        background.submit(_both_tuning_curves, SHARED, seed),
        background.submit(near_best, SHARED, seed=seed),
    )


def _both_tuning_curves(data: pd.DataFrame, seed: int) -> pd.DataFrame:
    return pd.concat([tuning_curves(data, k, seed=seed) for k in ("accuracy", "nll")])


def _importance_of(
    data: pd.DataFrame, m: Metric, evaluator: str, seed: int
) -> tuple[pd.DataFrame | None, str]:
    """``importance`` of one metric and evaluator, or why it is not identifiable."""
    try:
        return importance(data, m, evaluator, seed=seed, max_configs=_importance.MAX_CONFIGS), ""
    except NotEnoughTrialsError as error:
        return None, str(error)


def _lead(
    doc: Document, data: pd.DataFrame, v: pd.DataFrame, raw: pd.DataFrame, edges: list[str]
) -> None:
    """The answer first: one sentence per metric and per knob's edges, then what the study
    ran."""
    sentences = text.answer(v) + edges
    if sentences:
        doc.paragraph(
            "**Is SSVI less sensitive to its hyperparameters than dense VI?** "
            + " ".join(sentences)
        )
    else:
        arms = ", ".join(arm_label(a) for a in sort_arms(data[ARM]))
        doc.paragraph(
            "**No verdict**: no SSVI and dense VI runs share a configuration and seed "
            f"(methods in the table: {arms}). The per-method statistics below still describe "
            "each method's sensitivity."
        )
    seeds = data.groupby([ARM, "config_id"])["seed"].nunique()
    datasets = ", ".join(sorted(set(data["dataset"])))
    models = ", ".join(sorted(set(data["model"]))) if "model" in data else "?"
    designs = ", ".join(sorted(set(data["design"])))
    arms = ", ".join(arm_label(a) for a in sort_arms(data[ARM]))
    doc.paragraph(
        f"Dataset `{datasets}`, model `{models}`: {len(raw)} runs of "
        f"{data['config_id'].nunique()} configurations ({text.seed_text(seeds)} each), designs "
        f"{designs}; methods {arms}. Generated {dt.date.today().isoformat()} by "
        "`python -m analysis.report`."
    )
