"""The report's verdict section: the verdict tables of every family, divergence, tuning curves,
the diverged-at-chance sensitivity analysis and the caveats."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import _report_notes as notes
from analysis import _report_text as text
from analysis import _tuning
from analysis._background import SHARED, Background, Task
from analysis._curves import plot_tuning_curves
from analysis._document import Document
from analysis._report_parts import Collected, Later, Output
from analysis._schema import arm_label
from analysis._stats import divergence_table
from analysis._style import fmt_setting
from analysis._verdicts import errors_note


def verdict_section(
    doc: Document,
    got: Collected,
    data: pd.DataFrame,
    v: pd.DataFrame,
    chance: pd.DataFrame,
    excluded: list[str],
    raw: pd.DataFrame,
    later: Later,
    figures: Path,
    fmt: Output,
) -> None:
    doc.heading("Verdict")
    doc.paragraph(
        "Sensitivity = the *configuration SD*: how much the seed-averaged metric varies from "
        "configuration to configuration once seed noise is removed. SSVI and dense VI are "
        "compared on the same configurations of the hyperparameters both have, with the same "
        "seeds; SSVI-only knobs are at their base values here and analysed further below. "
        "A verdict (less / more) needs the Holm-adjusted p-value below 0.05 in its family; "
        "for 'none', 'detectable' gives the smallest difference the study would have "
        "detected with 80% power. Whether a difference matters is the *practical* reading "
        f"(region of practical equivalence, margin {margin_text(v)} on the ratio of "
        "configuration SDs, SSVI / dense VI; two one-sided tests at Holm's level): "
        "'equivalent' when the interval lies inside the margin, 'less' / 'more' when it lies "
        "entirely beyond it, 'inconclusive' otherwise; in brackets, the narrowest margin "
        "within which this study could have shown equivalence."
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
    errored = data.attrs.get("errors_by_method", {})
    if any(e for e, _ in errored.values()):
        counts = ", ".join(
            f"{'dense VI' if m == 'dense_vi' else 'SSVI'} {e} of {n}"
            for m, (e, n) in sorted(errored.items())
        )
        doc.paragraph(
            f"Errored trials (status `error`: the trial failed, no result; excluded from every "
            f"statistic): {counts}."
            + (" They are unbalanced between the methods: see the verdicts' notes." if
               errors_note(errored) else "")
        )  # fmt: skip
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
    doc.bullets(notes.caveats(data, raw, v, excluded) + got.notes)


def _divergence_cells(div: pd.DataFrame) -> pd.DataFrame:
    out = div.assign(method=div["arm"].map(arm_label), value=div["level"].map(fmt_setting))
    out["diverged"] = [
        f"{d}/{n} ({d / n:.0%})" for d, n in zip(out["diverged"], out["runs"], strict=True)
    ]
    return out[["hyperparameter", "value", "method", "diverged", "source"]]


def _tuning_section(
    doc: Document,
    got: Collected,
    tasks: tuple[Task, Task],
    background: Background,
    figures: Path,
    fmt: Output,
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
        got.notes.append(notes.k_grid_sentence(n))
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


def margin_text(v: pd.DataFrame) -> str:
    """The margin the verdicts' practical reading used, e.g. [0.80, 1.25]."""
    margin = v.attrs.get("margin")
    return f"[{1 / margin:.2f}, {margin:.2f}]" if margin else "(none)"
