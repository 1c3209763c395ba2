"""The report: statistics, figures and CSV tables of a study, led by the verdict."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis import _report_text as text
from analysis._compare import compare_methods
from analysis._curves import plot_marginal_effects, plot_oat_curves
from analysis._design import RANDOM_DESIGNS, analysed_params, grid_axes, oat_params, varied
from analysis._document import Document
from analysis._importance import EVALUATORS, NotEnoughTrialsError, importance
from analysis._load import prepare_results
from analysis._plots import plot_accuracy_vs_flops, plot_ecdf, plot_heatmaps, plot_importance
from analysis._schema import (
    ARM,
    DEFAULT_METRICS,
    SSVI_ONLY,
    Metric,
    arm_label,
    resolve_metric,
    sort_arms,
)
from analysis._stats import (
    marginal_effects,
    seed_vs_config_variance,
    sensitivity_summary,
    tunability,
)
from analysis._style import save_figure


@dataclass
class _Collected:
    tables: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    comparisons: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, frame: pd.DataFrame) -> None:
        self.tables.setdefault(name, []).append(frame)


def write_report(
    df: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    n_boot: int = 1000,
    seed: int = 0,
    num_classes: int | None = None,
    vector_format: str = "svg",
) -> Path:
    """Write the sensitivity report of a results table.

    Creates ``out_dir/report.md`` and a self-contained ``out_dir/report.html`` (figures
    embedded), ``out_dir/figures/*.png`` plus a vector copy (``svg`` or ``pdf``), and the
    statistics as ``out_dir/tables/*.csv``. The report leads with the verdict per metric and
    hyperparameter; which figures appear depends on the designs in the table (heatmaps need
    a grid, sensitivity curves a one-at-a-time sweep, importance enough random trials).

    Args:
        df: results table (``load_results``) or a prepared one.
        out_dir: output folder (created).
        metrics: metric keys; metrics without any value in the table are skipped (noted).
        n_boot: bootstrap resamples of ``compare_methods``.
        seed: seed of the bootstrap and of fANOVA's forest.
        num_classes: number of classes, for datasets the analysis does not know.
        vector_format: ``svg`` or ``pdf``.

    Returns:
        Path of ``report.md`` (``report.html`` is beside it).
    """
    if vector_format not in ("svg", "pdf"):
        raise ValueError(f"vector_format must be 'svg' or 'pdf', got {vector_format!r}")
    out = Path(out_dir)
    figures = out / "figures"
    data = prepare_results(df, num_classes)
    doc = Document(_title(data))
    got = _Collected()
    kept = [resolve_metric(k) for k in metrics]
    present = [m for m in kept if data[m.column].notna().any()]
    got.notes += [
        f"{m.label} has no values in the table: skipped." for m in kept if m not in present
    ]
    sections = Document("")
    for m in present:
        _metric_section(
            sections, got, data, m, n_boot, seed, figures, vector_format, first=m == present[0]
        )
    _cost_section(sections, data, figures, vector_format)
    _lead(doc, data, got, df)
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
        + [f"`figures/`: {n_figures} PNG figures, each also as {vector_format.upper()}"]
    )
    md = out / "report.md"
    md.write_text(doc.to_markdown(out), encoding="utf-8")
    (out / "report.html").write_text(doc.to_html(), encoding="utf-8")
    return md


def _title(data: pd.DataFrame) -> str:
    study = ", ".join(sorted(set(data["study"]) - {""})) if "study" in data else ""
    return "Hyperparameter sensitivity of SSVI vs dense VI" + (f": {study}" if study else "")


def _save(fig: Figure, path: Path, vector_format: str) -> Path:
    save_figure(fig, path, ("png", vector_format))
    return path.with_suffix(".png")


def _metric_section(
    doc: Document,
    got: _Collected,
    data: pd.DataFrame,
    m: Metric,
    n_boot: int,
    seed: int,
    figures: Path,
    fmt: str,
    first: bool,
) -> None:
    summary = sensitivity_summary(data, m)
    variance = seed_vs_config_variance(data, m)
    tun = tunability(data, m)
    comp = compare_methods(data, m, n_boot=n_boot, seed=seed)
    got.comparisons[m.key] = comp
    margins = [marginal_effects(data, m, p) for p in analysed_params(data)]
    for name, frame in (
        ("sensitivity_summary", summary),
        ("seed_vs_config_variance", variance),
        ("tunability", tun),
        ("comparison", comp),
    ):
        got.add(name, frame.assign(metric=m.key))
    if margins:
        got.add("marginal_effects", pd.concat(margins).assign(metric=m.key))
    doc.heading(m.title)
    doc.paragraph("Sensitivity across configurations (each configuration averaged over its seeds):")
    doc.table(text.summary_table(summary, m))
    doc.paragraph("Paired comparison, SSVI minus dense VI, with 95% bootstrap intervals:")
    doc.table(text.comparison_table(comp, m))
    if grid_axes(data) is not None:
        doc.figure(
            _save(plot_heatmaps(data, m), figures / f"heatmap_{m.key}", fmt),
            f"{m.title} over the grid design, one panel per method, one "
            "colour scale; red frames mark cells where seeds diverged.",
        )
    if oat_params(data):
        doc.figure(
            _save(plot_oat_curves(data, m), figures / f"oat_{m.key}", fmt),
            f"One-at-a-time sensitivity of {m.label}: mean over seeds with the min–max "
            "band over seeds; dotted line: base configuration.",
        )
    doc.figure(
        _save(plot_ecdf(data, m), figures / f"ecdf_{m.key}", fmt),
        f"ECDF of {m.label} over configurations: a robust method rises steeply near its "
        "best value.",
    )
    random_rows = data[data["design"].isin(RANDOM_DESIGNS)]
    if first and not random_rows.empty and varied(random_rows):  # others: marginal_effects.csv
        doc.figure(
            _save(plot_marginal_effects(data, m), figures / f"marginal_{m.key}", fmt),
            f"Marginal effect of each hyperparameter on {m.label} in the random design "
            "(mean with 95% interval over seeds and the other hyperparameters).",
        )
    doc.heading("Seed noise against configuration effect", 3)
    doc.table(text.variance_table(variance, m))
    if not tun.empty:
        doc.heading("Tunability (regret of the default configuration)", 3)
        doc.table(text.tunability_table(tun, m))
    _importance(doc, got, data, m, seed, figures, fmt)


def _importance(
    doc: Document,
    got: _Collected,
    data: pd.DataFrame,
    m: Metric,
    seed: int,
    figures: Path,
    fmt: str,
) -> None:
    doc.heading("Hyperparameter importance", 3)
    tables = []
    for evaluator in EVALUATORS:
        try:
            tables.append(importance(data, m, evaluator, seed=seed))
        except NotEnoughTrialsError as error:
            doc.paragraph(f"Importance skipped: {error}.")
            got.notes.append(f"Importance for {m.label} skipped: {error}.")
            return
    table = pd.concat(tables, ignore_index=True)
    got.add("importance", table)
    doc.paragraph(
        "Evaluators: " + "; ".join(EVALUATORS.values()) + ". Trials of the random "
        "designs, one optuna trial per run. Most important: "
        + text.importance_sentence(table[table["evaluator"] == "fanova"])
        + " (fANOVA)."
    )
    doc.figure(
        _save(plot_importance(table), figures / f"importance_{m.key}", fmt),
        f"Importance of each hyperparameter for {m.label}, per method (left: fANOVA, "
        "right: PED-ANOVA).",
    )


def _cost_section(doc: Document, data: pd.DataFrame, figures: Path, fmt: str) -> None:
    if "train_flops" not in data.columns or data["train_flops"].isna().all():
        return
    doc.heading("Accuracy against training cost")
    doc.figure(
        _save(plot_accuracy_vs_flops(data), figures / "accuracy_vs_flops", fmt),
        "Test accuracy against training FLOPs, one point per configuration and method.",
    )


def _lead(doc: Document, data: pd.DataFrame, got: _Collected, raw: pd.DataFrame) -> None:
    arms = [arm_label(a) for a in sort_arms(data[ARM])]
    seeds = data.groupby([ARM, "config_id"])["seed"].nunique()
    datasets = ", ".join(sorted(set(data["dataset"])))
    models = ", ".join(sorted(set(data["model"]))) if "model" in data else "?"
    designs = ", ".join(sorted(set(data["design"])))
    doc.paragraph(
        f"Dataset `{datasets}`, model `{models}`: {len(data)} trials of "
        f"{data['config_id'].nunique()} configurations ({text.seed_text(seeds)} each), designs "
        f"{designs}; methods {', '.join(arms)}. Generated {dt.date.today().isoformat()} by "
        "`python -m analysis.report`."
    )
    doc.heading("Verdict")
    doc.paragraph(
        "Is SSVI less sensitive to its hyperparameters than dense VI? Headline "
        "statistic: the standard deviation of the seed-averaged metric across "
        "configurations, SSVI minus dense VI, paired by configuration and seed; a "
        "verdict needs the 95% bootstrap interval to exclude zero."
    )
    bullets = text.verdict_bullets(got.comparisons)
    if not bullets:
        doc.paragraph(
            "**No verdict**: no SSVI and dense VI trials share a configuration and seed "
            f"(methods in the table: {', '.join(arms)}). The per-method statistics below "
            "still describe each method's sensitivity."
        )
    doc.bullets(bullets)
    table = text.hyperparameter_table(got.comparisons)
    if not table.empty:
        doc.paragraph(
            "Per hyperparameter: effect = range of the mean metric over the "
            "hyperparameter's values; cells give the verdict, SSVI minus dense VI "
            "(accuracy in points) and its 95% interval. † SSVI-only hyperparameters "
            f"({', '.join(sorted(SSVI_ONLY))}): dense VI's range there is noise."
        )
        doc.table(table)
    doc.heading("Caveats", 3)
    doc.bullets(text.caveats(data, raw) + got.notes)
