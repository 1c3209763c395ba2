"""The report's per-metric sections (spread, figures, seed against configuration variance,
tunability), hyperparameter importance and cost."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import _report_notes as notes
from analysis import _report_text as text
from analysis._background import SHARED, Background, Task
from analysis._curves import plot_marginal_effects, plot_oat_curves
from analysis._design import RANDOM_DESIGNS, analysed_params, grid_axes, oat_params, varied
from analysis._document import Document
from analysis._importance import EVALUATORS
from analysis._plots import plot_accuracy_vs_flops, plot_ecdf, plot_heatmaps, plot_importance
from analysis._report_parts import Collected, Output
from analysis._schema import Metric, resolve_metric
from analysis._stats import (
    marginal_effects,
    seed_vs_config_variance,
    sensitivity_summary,
    tunability,
)


def metric_section(
    doc: Document,
    got: Collected,
    data: pd.DataFrame,
    m: Metric,
    seed: int,
    figures: Path,
    fmt: Output,
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


def importance_section(
    doc: Document,
    got: Collected,
    tasks: list[Task],
    background: Background,
    m: Metric,
    figures: Path,
    fmt: Output,
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
        sentence = notes.subsample_sentence(list(subsampled.values()))
        doc.paragraph(sentence)
        if not any(n.startswith(notes.SUBSAMPLED) for n in got.notes):
            got.notes.append(sentence)
    doc.figure(
        fmt.draw(figures / f"importance_{m.key}", plot_importance, table),
        f"Importance of each hyperparameter for {m.label}, per method and design, with 95% "
        "bootstrap intervals over configurations.",
    )


def cost_section(doc: Document, data: pd.DataFrame, figures: Path, fmt: Output) -> None:
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
