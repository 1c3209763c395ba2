"""The report command on a realistic study table, and what it must never import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import _importance, _tuning, _variance, write_report
from analysis.report import main


@pytest.fixture(scope="module")
def report_dir(study_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    args = [str(study_dir), "--out", str(out), "--n-boot", "500", "--vector-format", "svg"]
    assert main(args) == 0
    return out


def test_report_files(report_dir: Path) -> None:
    for name in ("report.md", "report.html"):
        assert (report_dir / name).stat().st_size > 1000
    tables = {p.name for p in (report_dir / "tables").glob("*.csv")}
    assert tables == {
        "verdicts.csv",
        "verdicts_diverged_at_chance.csv",
        "ranges.csv",
        "divergence.csv",
        "tuning_curves.csv",
        "near_best.csv",
        "importance.csv",
        "marginal_effects.csv",
        "seed_vs_config_variance.csv",
        "sensitivity_summary.csv",
        "tunability.csv",
    }
    pngs = sorted((report_dir / "figures").glob("*.png"))
    kinds = {p.stem.split("_")[0] for p in pngs}
    assert kinds >= {
        "heatmap",
        "oat",
        "ecdf",
        "marginal",
        "importance",
        "accuracy",
        "tuning",
        "ranges",
    }
    assert all(p.with_suffix(".svg").is_file() for p in pngs)
    v = pd.read_csv(report_dir / "tables" / "verdicts.csv")
    assert set(v["metric"]) == {"accuracy", "nll", "ece", "ood_auroc", "divergence"}
    assert set(v["family"]) == {"sensitivity", "noise", "ssvi_only", "range"}


def test_report_opens_with_the_answer(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text()
    first = md.split("\n\n")[1]  # after the title: the answer, one sentence per metric
    assert first.startswith("**Is SSVI less sensitive to its hyperparameters than dense VI?**")
    for label in ("Test accuracy:", "Test NLL:", "Test ECE:", "OOD AUROC:"):
        assert f"**{label}" in first
    spread, *edges = first.split("where each method breaks")
    assert spread.count("95% CI") == 4
    assert len(edges) == 2  # one sentence per knob with one-at-a-time rows
    assert "## Working ranges: where each method breaks" in md
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Verdict"
    verdict = md.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    assert "| kl_weight (oat) |" in verdict and "| removal (oat) |" in verdict
    assert "Holm" in verdict and "detectable (80% power)" in verdict
    assert "runs diverged" in verdict and "dropped from both" in verdict
    assert "2 runs with status `error` are excluded" in verdict
    # 9 grid + 4 new one-at-a-time + 20 random, less 2 where every SSVI seed diverged
    assert "Counts: the headline compares 31 configurations" in verdict
    assert "### How much tuning does each method need?" in verdict
    for image in (report_dir / "figures").glob("*.png"):
        assert f"](figures/{image.name})" in md


def test_html_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(
        list((report_dir / "figures").glob("*.png"))
    )
    assert 'src="figures/' not in html
    assert html.index("<h2>Verdict</h2>") < html.index("<h2>Test accuracy</h2>")


def test_cli_prints_where_the_report_is(report_dir: Path, capsys: pytest.CaptureFixture) -> None:
    # The fixture ran main(); run the argument error path here (cheap).
    assert main([str(report_dir / "nothing-here"), "--out", str(report_dir / "x")]) == 2
    assert "no results table" in capsys.readouterr().err


def test_cli_names_missing_columns(
    tmp_path: Path, study_table: pd.DataFrame, capsys: pytest.CaptureFixture
) -> None:
    study_table.drop(columns=["seed", "status"]).to_csv(tmp_path / "results.csv", index=False)
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "missing required column(s): seed, status" in err


def test_report_without_random_design_skips_importance(
    study_table: pd.DataFrame, tmp_path: Path
) -> None:
    table = study_table[study_table["design"] == "grid"]
    md = write_report(table, tmp_path, metrics=("accuracy",), n_boot=50)
    text = md.read_text()
    assert "importance is not drawn: importance is not identifiable" in text
    assert not list((tmp_path / "figures").glob("oat_*.png"))
    assert list((tmp_path / "figures").glob("heatmap_accuracy.png"))


def test_analysis_never_imports_torch_ray_or_ssvi() -> None:
    code = (
        "import sys, analysis, analysis.report, optuna.importance\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray', 'ssvi'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_report_without_pairs_says_there_is_no_verdict(
    study_table: pd.DataFrame, tmp_path: Path
) -> None:
    table = study_table[(study_table["method"] == "ssvi") & (study_table["design"] == "grid")]
    text = write_report(table, tmp_path, metrics=("accuracy",), n_boot=20).read_text()
    assert "**No verdict**" in text.split("## Test accuracy")[0]


def test_cli_out_naming_a_file_and_a_table_without_values(
    study_table: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "report").write_text("x")
    assert main([str(tmp_path), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and len(err.strip().splitlines()) == 1
    # every test metric missing (runs that never reached testing): a report that says so
    empty = study_table.copy()
    empty.loc[:, [c for c in empty.columns if c.startswith("test_")]] = float("nan")
    text = write_report(empty, tmp_path / "empty", n_boot=50).read_text()
    for label in ("test accuracy", "test NLL", "test ECE", "OOD AUROC"):
        assert f"{label} has no values in the table: skipped" in text
    assert "Completed runs without a value, left out of that metric only: test accuracy" in text


def test_report_states_what_a_large_study_caps(
    study_table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the limits that bind at 100,000 rows, lowered to this table's size (the code is the same)
    monkeypatch.setattr(_importance, "MAX_CONFIGS", 10)
    monkeypatch.setitem(_importance.MIN_CONFIGS, "fanova", 5)
    monkeypatch.setitem(_importance.MIN_CONFIGS, "ped_anova", 5)
    monkeypatch.setattr(_variance, "EXACT_MAX_CONFIGS", 10)
    monkeypatch.setattr(_tuning, "MAX_KS", 5)
    md = write_report(study_table, tmp_path, metrics=("accuracy",), n_boot=200).read_text()
    caveats = md.split("### Caveats", 1)[1].split("\n## ", 1)[0]
    assert "importance is evaluated on a seeded random subsample of 10 configurations" in caveats
    assert "SSVI (density 0.1), random design: 10 of 20" in caveats
    assert "draw, in each bootstrap replicate, the sums" in caveats
    assert "k takes at most 5 values evenly spaced on a log scale from 1 to 20" in caveats
    importance = pd.read_csv(tmp_path / "tables" / "importance.csv")
    assert (importance["n_configs"] == 10).all()
    curves = pd.read_csv(tmp_path / "tables" / "tuning_curves.csv")
    assert set(curves["k"]) == {1, 2, 4, 9, 20}
    verdicts = pd.read_csv(tmp_path / "tables" / "verdicts.csv")
    assert verdicts["ci_low"].notna().all() and (verdicts["ci_low"] <= verdicts["ci_high"]).all()


def test_the_calibration_sentence_says_what_was_shown_for_the_design() -> None:
    from analysis._report_notes import calibration_sentence

    three = calibration_sentence(3)
    assert "local design with 3 seeds" in three and "at least 80%" in three
    two = calibration_sentence(2)
    assert "not for this design's 2" in two and "90%" in two and "about half" in two
