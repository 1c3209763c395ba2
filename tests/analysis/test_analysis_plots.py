"""Every figure function draws a non-empty image of the expected size from a realistic table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

import analysis
from analysis import importance, prepare_results, save_figure


@pytest.fixture(scope="module")
def data(study_table: pd.DataFrame) -> pd.DataFrame:
    return prepare_results(study_table)


def check_image(fig: Figure, path: Path) -> None:
    files = save_figure(fig, path, ("png", "svg"))
    assert [f.suffix for f in files] == [".png", ".svg"]
    assert files[1].stat().st_size > 1000
    width, height = (fig.get_size_inches() * fig.dpi).round().astype(int)
    with Image.open(files[0]) as image:
        assert image.size == (width, height)
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 10  # something is drawn
    assert (pixels < 128).mean() > 0.005


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("plot_heatmaps", {"metric": "accuracy"}),
        ("plot_heatmaps", {"metric": "ece"}),
        ("plot_oat_curves", {"metric": "nll"}),
        ("plot_marginal_effects", {"metric": "accuracy"}),
        ("plot_ecdf", {"metric": "ood_auroc"}),
        ("plot_accuracy_vs_flops", {}),
    ],
)
def test_figure_functions(data: pd.DataFrame, tmp_path: Path, name: str, kwargs: dict) -> None:
    fig = getattr(analysis, name)(data, **kwargs)
    assert isinstance(fig, Figure)
    check_image(fig, tmp_path / name)


def test_importance_figure(data: pd.DataFrame, tmp_path: Path) -> None:
    table = importance(data, "accuracy", "fanova", n_boot=5)
    fig = analysis.plot_importance(table)
    assert len(fig.axes) == 2  # the shared knobs' random design, SSVI's own knobs' one
    titles = [ax.get_title() for ax in fig.axes]
    assert "random design" in titles[0] and "random_ssvi design" in titles[1]
    assert all("fANOVA" in t and "20 configurations" in t for t in titles)
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert "removal criterion" in labels and "KL weight" not in labels
    check_image(fig, tmp_path / "importance")


def test_tuning_curves_figure(data: pd.DataFrame, tmp_path: Path) -> None:
    fig = analysis.plot_tuning_curves(data, n_boot=100)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 4  # both methods: median (opda) and expected value
    check_image(fig, tmp_path / "tuning")


def test_heatmap_panels_share_colour_scale(data: pd.DataFrame) -> None:
    fig = analysis.plot_heatmaps(data)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    assert images[0].get_clim() == images[1].get_clim()
    assert any(p.get_edgecolor()[0] > 0.8 for ax in fig.axes for p in ax.patches)  # diverged


def test_figures_that_need_a_design_say_so(data: pd.DataFrame) -> None:
    random_only = data[data["design"] == "random"]
    with pytest.raises(ValueError, match="grid"):
        analysis.plot_heatmaps(random_only)
    with pytest.raises(ValueError, match="oat"):
        analysis.plot_oat_curves(random_only)
    with pytest.raises(ValueError, match="random"):
        analysis.plot_marginal_effects(data[data["design"] == "grid"], params=["lr"])
