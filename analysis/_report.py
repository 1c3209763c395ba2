"""The report: statistics, figures and CSV tables of a study, led by the verdict."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from analysis import _importance, _tuning, _variance
from analysis import _range_report as range_report
from analysis import _report_text as text
from analysis._background import SHARED, Background, Task, draw_figure
from analysis._curves import plot_marginal_effects, plot_oat_curves, plot_tuning_curves
from analysis._design import (
    RANDOM_DESIGNS,
    analysed_params,
    grid_axes,
    oat_params,
    shared_rows,
    varied,
)
from analysis._document import Document
from analysis._importance import EVALUATORS, NotEnoughTrialsError, importance
from analysis._load import prepare_results
from analysis._plots import plot_accuracy_vs_flops, plot_ecdf, plot_heatmaps, plot_importance
from analysis._ranges import RANGE_METRICS, range_knobs, working_ranges
from analysis._schema import ARM, DEFAULT_METRICS, Metric, arm_label, resolve_metric, sort_arms
from analysis._stats import (
    divergence_table,
    marginal_effects,
    seed_vs_config_variance,
    sensitivity_summary,
    tunability,
)
from analysis._style import fmt_setting
from analysis._tuning import near_best, tuning_curves
from analysis._verdicts import COLUMNS, verdicts


@dataclass
class _Collected:
    tables: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, frame: pd.DataFrame) -> None:
        self.tables.setdefault(name, []).append(frame)


def write_report(
    df: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    n_boot: int = 10_000,
    seed: int = 0,
    num_classes: int | None = None,
    vector_format: str = "none",
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
    fmt = _Output(vector_format, background)
    doc = Document(_title(data))
    got = _Collected()
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
        later = _Later(
            verdicts=background.submit(verdicts, SHARED, seed=seed, n_boot=n_boot, metrics=keys)
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
        for m in present:
            first = m == present[0]
            _metric_section(sections, got, data, m, seed, figures, fmt, first)
            tasks = later.importance[m.key]
            _importance_section(sections, got, tasks, background, m, figures, fmt, first)
        _cost_section(sections, data, figures, fmt)
        v = background.result(later.verdicts) if later.verdicts else _no_verdicts()
        chance = background.result(later.chance) if later.chance else _no_verdicts()
        got.add("verdicts", v)
        got.add("verdicts_diverged_at_chance", chance)
        if (v["n_configs"] > _variance.EXACT_MAX_CONFIGS).any():
            got.notes.append(text.large_bootstrap_sentence())
        ranges = background.result(range_task) if range_task else pd.DataFrame()
        _lead(doc, data, v, df, range_report.answer(v, ranges) if len(ranges) else [])
        _verdict_section(doc, got, data, v, chance, excluded, df, later, figures, fmt)
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
    doc.bullets(text.method_notes(n_boot))
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


@dataclass
class _Output:
    """Where figures go and in which formats; saved by a ``Background`` (in parallel)."""

    vector_format: str
    writer: Background

    def draw(self, path: Path, plot: Callable[..., Figure], *args: Any, **kwargs: Any) -> Path:
        """Queue ``plot(*args, **kwargs)`` to be drawn and saved as ``path``; returns the PNG's
        path."""
        formats = ("png",) if self.vector_format == "none" else ("png", self.vector_format)
        self.writer.submit(draw_figure, path, formats, plot, *args, **kwargs)
        return path.with_suffix(".png")


@dataclass
class _Later:
    """Statistics queued on the ``Background`` at the start, collected where the report needs
    them."""

    verdicts: Task | None
    chance: Task | None
    tuning: tuple[Task, Task] | None
    importance: dict[str, list[Task]]


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


def _verdict_section(
    doc: Document,
    got: _Collected,
    data: pd.DataFrame,
    v: pd.DataFrame,
    chance: pd.DataFrame,
    excluded: list[str],
    raw: pd.DataFrame,
    later: _Later,
    figures: Path,
    fmt: _Output,
) -> None:
    doc.heading("Verdict")
    doc.paragraph(
        "Sensitivity = the *configuration SD*: how much the seed-averaged metric varies from "
        "configuration to configuration once seed noise is removed. SSVI and dense VI are "
        "compared on the same configurations of the hyperparameters both have, with the same "
        "seeds; SSVI-only knobs are at their base values here and analysed further below. "
        "A verdict (less / more) needs the Holm-adjusted p-value below 0.05 in its family; "
        "for 'none', the last column gives the smallest difference the study would have "
        "detected with 80% power."
    )
    doc.table(text.verdict_table(v, "sensitivity"))
    doc.bullets(text.family_sentences(v, "sensitivity"))
    doc.heading("Seed noise and divergence", 3)
    doc.paragraph(
        "Noisier runs or more divergence are different findings from more sensitivity: "
        "they are compared here, in their own Holm family."
    )
    doc.table(text.verdict_table(v, "noise"))
    doc.bullets(text.family_sentences(v, "noise"))
    div = divergence_table(data)
    got.add("divergence", div)
    if (div["diverged"] > 0).any():
        shown = div[div["diverged"] > 0]
        doc.paragraph("Where runs diverged (per value of each hyperparameter a design varies):")
        doc.table(_divergence_cells(shown))
    own = v[v["family"] == "ssvi_only"]
    if not own.empty:
        doc.heading("SSVI's own knobs", 3)
        doc.paragraph(
            "Dense VI has no removal or addition criterion, update interval or drop fraction: "
            "its sensitivity to them is zero by construction. SSVI's configuration SD along "
            "each of its own one-at-a-time sweeps (only seeds vary) and across its SSVI-only "
            "random sample, in their own Holm family; 'more' means SSVI is detectably "
            "sensitive to the knob."
        )
        doc.table(text.verdict_table(v, "ssvi_only"))
        doc.bullets(text.family_sentences(v, "ssvi_only"))
    if later.tuning is not None:
        _tuning_section(doc, got, later.tuning, fmt.writer, figures, fmt)
    rows = chance[(chance["family"] == "sensitivity") & (chance["scope"] == "overall")]
    if not rows.empty:
        doc.heading("Sensitivity analysis: diverged runs scored as chance", 3)
        doc.paragraph(
            "The same headline with every diverged run kept and scored as the uniform "
            "predictor (accuracy 1/K, NLL log K, OOD AUROC 0.5; ECE still drops them): "
            "divergence then counts as sensitivity."
        )
        doc.table(text.verdict_table(rows, "sensitivity"))
    doc.heading("Caveats", 3)
    doc.bullets(text.caveats(data, raw, v, excluded) + got.notes)


def _divergence_cells(div: pd.DataFrame) -> pd.DataFrame:
    out = div.assign(method=div["arm"].map(arm_label), value=div["level"].map(fmt_setting))
    out["diverged"] = [
        f"{d}/{n} ({d / n:.0%})" for d, n in zip(out["diverged"], out["runs"], strict=True)
    ]
    return out[["hyperparameter", "value", "method", "diverged", "source"]]


def _tuning_section(
    doc: Document,
    got: _Collected,
    tasks: tuple[Task, Task],
    background: Background,
    figures: Path,
    fmt: _Output,
) -> None:
    doc.heading("How much tuning does each method need?", 3)
    curves = background.result(tasks[0])
    got.add("tuning_curves", curves)
    near = background.result(tasks[1])
    got.add("near_best", near)
    if curves.empty:
        doc.paragraph("No configuration of the random design was run by both methods.")
        return
    n = int(curves["n_configs"].max())
    if n > _tuning.MAX_KS:
        got.notes.append(text.k_grid_sentence(n))
    doc.figure(
        fmt.draw(figures / "tuning_curves", plot_tuning_curves, SHARED, curves=curves),
        "Expected test accuracy and NLL of the configuration chosen on validation accuracy "
        "among k configurations drawn at random from the random design (Dodge et al., 2019), "
        "with 95% bootstrap bands over configurations; diverged runs at chance.",
    )
    doc.paragraph(
        "Probability that a configuration drawn at random is within 1 accuracy point of the "
        "best one of the random design (seed-averaged test accuracy, 95% bootstrap interval):"
    )
    doc.table(text.near_best_table(near))


def _metric_section(
    doc: Document,
    got: _Collected,
    data: pd.DataFrame,
    m: Metric,
    seed: int,
    figures: Path,
    fmt: _Output,
    first: bool,
) -> None:
    summary = sensitivity_summary(data, m)
    variance = seed_vs_config_variance(data, m)
    tun = tunability(data, m)
    analysed = analysed_params(data)
    margins = [marginal_effects(data, m, p) for p in analysed]
    swept = oat_params(data)  # their one-at-a-time curves are these tables
    oat_effects = {p: t for p, t in zip(analysed, margins, strict=True) if p in swept}
    for name, frame in (
        ("sensitivity_summary", summary),
        ("seed_vs_config_variance", variance),
        ("tunability", tun),
    ):
        got.add(name, frame.assign(metric=m.key))
    if margins:
        got.add("marginal_effects", pd.concat(margins).assign(metric=m.key))
    doc.heading(m.title)
    doc.paragraph(
        "Each method's spread across configurations (seed-averaged, converged runs). "
        "'Paired' rows are the headline's configurations and seeds, the same for both "
        "methods; 'all' rows count every configuration the method ran."
    )
    doc.table(text.summary_table(summary, m))
    if grid_axes(data) is not None:
        doc.figure(
            fmt.draw(figures / f"heatmap_{m.key}", plot_heatmaps, SHARED, m),
            f"{m.title} over the grid design, one panel per method, one colour scale; red "
            "frames mark cells where seeds diverged (excluded from the mean).",
        )
    if oat_params(data):
        doc.figure(
            fmt.draw(figures / f"oat_{m.key}", plot_oat_curves, SHARED, m, effects=oat_effects),
            f"One-at-a-time sensitivity of {m.label}: mean over seeds with the min–max "
            "band over seeds; dotted line: base configuration.",
        )
    doc.figure(
        fmt.draw(figures / f"ecdf_{m.key}", plot_ecdf, SHARED, m),
        f"ECDF of {m.label} over configurations: a robust method rises steeply near its "
        "best value.",
    )
    random_rows = data[data["design"].isin(RANDOM_DESIGNS)]
    if first and not random_rows.empty and varied(random_rows):  # others: marginal_effects.csv
        doc.figure(
            fmt.draw(figures / f"marginal_{m.key}", plot_marginal_effects, SHARED, m),
            f"Marginal effect of each hyperparameter on {m.label} in the random designs "
            "(mean with 95% interval over seeds and the other hyperparameters; no dense VI "
            "curve for SSVI-only knobs).",
        )
    doc.heading("Seed noise against configuration effect", 3)
    doc.table(text.variance_table(variance, m))
    if not tun.empty:
        doc.heading("Tunability (regret of the default configuration)", 3)
        doc.table(text.tunability_table(tun, m))


def _importance_section(
    doc: Document,
    got: _Collected,
    tasks: list[Task],
    background: Background,
    m: Metric,
    figures: Path,
    fmt: _Output,
    first: bool,
) -> None:
    tables, skipped = [], []
    for task in tasks:
        table, reason = background.result(task)
        if table is None:
            skipped.append(reason)
        else:
            tables.append(table)
    if not tables:
        if first:
            got.notes.append(f"Hyperparameter importance is not drawn: {skipped[0]}.")
        return
    doc.heading("Hyperparameter importance", 3)
    for reason in skipped:
        doc.paragraph(f"Not drawn: {reason}.")
    table = pd.concat(tables, ignore_index=True)
    got.add("importance", table)
    doc.paragraph(
        "Evaluators: " + "; ".join(EVALUATORS.values()) + ". One optuna trial per "
        "configuration of a random design. Most important (fANOVA, 95% bootstrap interval): "
        + text.importance_sentence(table[table["evaluator"] == table["evaluator"].iloc[0]])
        + "."
    )
    subsampled = {  # the same subsample for both evaluators
        (s["arm"], s["design"]): s for t in tables for s in t.attrs.get("subsampled", [])
    }
    if subsampled:
        sentence = text.subsample_sentence(list(subsampled.values()))
        doc.paragraph(sentence)
        if not any(n.startswith(text.SUBSAMPLED) for n in got.notes):
            got.notes.append(sentence)
    doc.figure(
        fmt.draw(figures / f"importance_{m.key}", plot_importance, table),
        f"Importance of each hyperparameter for {m.label}, per method and design, with 95% "
        "bootstrap intervals over configurations.",
    )


def _cost_section(doc: Document, data: pd.DataFrame, figures: Path, fmt: _Output) -> None:
    m = resolve_metric("accuracy")
    if "train_flops" not in data.columns or data["train_flops"].isna().all():
        return
    if data[m.column].isna().all():
        return
    doc.heading("Accuracy against training cost")
    doc.figure(
        fmt.draw(figures / "accuracy_vs_flops", plot_accuracy_vs_flops, SHARED),
        "Test accuracy against training FLOPs, one point per configuration and method.",
    )
