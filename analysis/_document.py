"""A minimal document model rendered both as Markdown and as self-contained HTML."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 70rem;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f2f2f2; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.88rem; color: #555; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""


@dataclass(frozen=True)
class Block:
    """One block: ``kind`` is heading, paragraph, bullets, table or figure."""

    kind: str
    text: str = ""
    level: int = 2
    items: tuple[str, ...] = ()
    frame: pd.DataFrame | None = None
    png: Path | None = None


@dataclass
class Document:
    """Blocks of a report: headings, paragraphs, bullet lists, tables and figures."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        """Add a heading (level 2 = section)."""
        self.blocks.append(Block("heading", text, level))

    def paragraph(self, text: str) -> None:
        """Add a paragraph; ``**bold**`` and ``code`` spans are rendered in both formats."""
        self.blocks.append(Block("paragraph", text))

    def bullets(self, items: list[str]) -> None:
        """Add a bullet list (nothing when ``items`` is empty)."""
        if items:
            self.blocks.append(Block("bullets", items=tuple(items)))

    def table(self, frame: pd.DataFrame) -> None:
        """Add a table; cells are shown with ``str`` (format numbers beforehand)."""
        if not frame.empty:
            self.blocks.append(Block("table", frame=frame.astype(str)))

    def figure(self, png: Path, caption: str) -> None:
        """Add a figure from a PNG file (linked in Markdown, embedded in HTML)."""
        self.blocks.append(Block("figure", caption, png=png))

    def to_markdown(self, base: Path) -> str:
        """Render as Markdown; figure paths are written relative to ``base``."""
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b.kind == "heading":
                out.append("#" * b.level + " " + b.text)
            elif b.kind == "paragraph":
                out.append(b.text)
            elif b.kind == "bullets":
                out += [f"- {item}" for item in b.items]
            elif b.kind == "table" and b.frame is not None:
                out += _markdown_table(b.frame)
            elif b.kind == "figure" and b.png is not None:
                link = Path(b.png).relative_to(base).as_posix()
                out += [f"![{b.text}]({link})", "", f"*{b.text}*"]
            out.append("")
        return "\n".join(out)

    def to_html(self) -> str:
        """Render as one self-contained HTML page (figures embedded as base64 PNG)."""
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{_inline(self.title)}</h1>",
        ]
        for b in self.blocks:
            if b.kind == "heading":
                out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
            elif b.kind == "paragraph":
                out.append(f"<p>{_inline(b.text)}</p>")
            elif b.kind == "bullets":
                out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
            elif b.kind == "table" and b.frame is not None:
                out.append(_html_table(b.frame))
            elif b.kind == "figure" and b.png is not None:
                data = base64.b64encode(Path(b.png).read_bytes()).decode("ascii")
                out.append(
                    f'<figure><img src="data:image/png;base64,{data}" '
                    f'alt="{html.escape(b.text)}"><figcaption>{_inline(b.text)}'
                    "</figcaption></figure>"
                )
        out.append("</body></html>")
        return "\n".join(out)


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [row([str(c) for c in frame.columns]), row(["---"] * len(frame.columns))]
    return lines + [row([str(c) for c in r]) for r in frame.itertuples(index=False)]


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_inline(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in r) + "</tr>"
        for r in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
