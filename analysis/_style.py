"""Shared look of the figures: one colour per method, value formatting, saving."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

from analysis._schema import DENSE, LOG_SCALED, arm_density

DENSE_COLOR = "#3b6fb6"  # blue
DPI = 100
PARAM_LABELS = {
    "kl_weight": "KL weight",
    "init_sigma": "initial σ (mean)",
    "prior_std": "prior std σ_p",
    "lr": "learning rate",
    "update_interval": "update interval ΔT (steps)",
    "alpha": "initial drop fraction α",
    "removal": "removal criterion",
    "addition": "addition criterion",
    "density": "density",
}


# SSVI colours by round(-log2(density)): 0.5 brown, 0.25/0.2 purple, 0.1 orange, 0.05 red, ...
SSVI_COLORS = (
    "#8c510a",
    "#8c510a",
    "#7b3294",
    "#e66100",
    "#c0392b",
    "#1b9e77",
    "#d01c8b",
    "#555555",
)


def arm_color(arm: str) -> str:
    """Colour of an arm: blue for dense VI, a warm or distinct colour per SSVI density.

    Depends on the arm's density only, so a method keeps its colour in every figure.
    """
    if arm == DENSE:
        return DENSE_COLOR
    index = round(-math.log2(max(arm_density(arm), 1e-6)))
    return SSVI_COLORS[min(max(index, 0), len(SSVI_COLORS) - 1)]


def param_label(param: str) -> str:
    """Axis label of a hyperparameter, with a note when it is drawn on a log axis."""
    label = PARAM_LABELS.get(param, param)
    return f"{label}, log scale" if param in LOG_SCALED else label


def fmt_setting(value: Any) -> str:
    """Short text for a hyperparameter value (``1e-03``, ``0.3``, ``snr_abs``)."""
    if isinstance(value, str):
        return value
    x = float(value)
    if x.is_integer() and abs(x) >= 1:
        return str(int(x))
    return f"{x:.0e}".replace("e-0", "e-") if abs(x) < 1e-2 else f"{x:g}"


def log_ticks(axis: Axis, values: list[float], levels: bool = True) -> None:
    """Readable ticks on a log axis: the values themselves when they are a few round
    settings (``levels``), else 1-2-5 steps within short ranges and decades otherwise."""
    values = [v for v in values if v > 0 and v == v]
    if not values:
        return
    if (
        levels
        and len(values) <= 6
        and all(math.isclose(float(fmt_setting(v)), v, rel_tol=1e-6) for v in values)
    ):
        axis.set_ticks(values, [fmt_setting(v) for v in values])
        axis.set_minor_locator(NullLocator())
        return
    span = math.log10(max(values) / min(values))
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if span < 1.5 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(_tick_label))  # a module function: picklable
    axis.set_minor_formatter(NullFormatter())


def _tick_label(x: float, _position: object = None) -> str:
    return _short_number(x)


def _short_number(x: float) -> str:
    if 1e-2 <= abs(x) < 1e4:
        return f"{x:g}"
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def new_figure(width: float, height: float) -> Figure:
    """A figure not managed by pyplot (no global state), with constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def note(ax: Axes, text: str) -> None:
    """Write a message in an empty axes (for panels without data)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def save_figure(
    fig: Figure, path: str | os.PathLike[str], formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Save a figure as PNG (for reports) and a vector format (SVG or PDF).

    Args:
        fig: the figure.
        path: file path without extension (an extension, if given, is replaced).
        formats: extensions to write.

    Returns:
        The written files.
    """
    stem = Path(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    engine = fig.get_layout_engine()
    try:
        for ext in formats:
            target = stem.with_suffix(f".{ext}")
            # SVG text stays text (searchable, smaller) instead of glyph outlines.
            with rc_context({"svg.fonttype": "none"}):
                fig.savefig(target, dpi=DPI, metadata={"Date": None} if ext == "svg" else None)
            written.append(target)
            fig.set_layout_engine("none")  # laid out once: every format gets the same layout
    finally:
        fig.set_layout_engine(engine)
    return written
