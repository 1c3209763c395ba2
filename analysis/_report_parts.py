"""What a report is made of while it is written: collected tables and notes, the statistics
queued on the background worker, and where figures go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from analysis._background import Background, Task, draw_figure


@dataclass
class Collected:
    """The report's CSV tables (frames per name) and its caveats' extra notes."""

    tables: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, frame: pd.DataFrame) -> None:
        self.tables.setdefault(name, []).append(frame)


@dataclass
class Output:
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
class Later:
    """Statistics queued on the ``Background`` at the start, collected where the report needs
    them."""

    verdicts: Task | None
    chance: Task | None
    tuning: tuple[Task, Task] | None
    importance: dict[str, list[Task]]
