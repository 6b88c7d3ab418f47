"""Typst building blocks: escaping, raw blocks and tables (from Markdown or HTML).

:func:`typst_table` lays out rows of already-escaped cells (numbers right-aligned);
:func:`html_table_rows` reads the first ``<table>`` of an HTML output (pandas frames
and Stylers) into such rows. O(cells).
"""

from __future__ import annotations

import html as _html
import json
import re
from html.parser import HTMLParser

__all__ = ["html_table_rows", "raw_block", "typst_escape", "typst_string", "typst_table"]


_TYPST_SPECIAL = re.compile(r"([\\#$*_`<>@\[\]~/=\-+])")


def typst_escape(text: str) -> str:
    """``text`` as literal Typst markup (markup characters backslash-escaped)."""
    return _TYPST_SPECIAL.sub(r"\\\1", text)


def typst_string(text: str) -> str:
    """``text`` as a Typst string literal."""
    return json.dumps(text, ensure_ascii=False)


def raw_block(text: str, lang: str = "") -> str:
    """A fenced raw (code) block whose fence is longer than any backtick run inside."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}\n\n"


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.header_rows = 0
        self.in_head = False
        self.cell: list[str] | None = None
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "thead":
            self.in_head = True
        elif tag == "tr":
            self.rows.append([])
            if self.in_head:
                self.header_rows += 1
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self.in_head = False
        elif tag in ("td", "th") and self.cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "table":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_table_rows(text: str) -> tuple[list[list[str]], int]:
    """Rows (escaped cell texts) of the first ``<table>`` in ``text``, and how many
    of them are header rows."""
    parser = _TableParser()
    parser.feed(text)
    rows = [r for r in parser.rows if r]
    return [[typst_escape(_html.unescape(c)) for c in r] for r in rows], parser.header_rows


_NUMBER = re.compile(r"[-+]?[\d,_ ]*\.?\d+(?:[eE][-+]?\d+)?%?|nan|NaN|<NA>|None|inf|-inf")


def typst_table(
    rows: list[list[str]], header_rows: int = 1, aligns: list[str] | None = None
) -> str:
    """A Typst ``#table`` of ``rows`` (already escaped); short rows are padded, and
    without ``aligns`` columns whose body cells are all numbers are right-aligned."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    rows = [r + [""] * (ncols - len(r)) for r in rows]
    if aligns is None:
        body_rows = rows[header_rows:] or rows
        aligns = [
            "right"
            if all(_NUMBER.fullmatch(r[c].replace("\\", "")) or not r[c] for r in body_rows)
            else "left"
            for c in range(ncols)
        ]
    align = ", ".join(aligns[:ncols] + ["auto"] * (ncols - len(aligns)))
    header = rows[:header_rows]
    body = rows[header_rows:]
    parts = [f"#table(columns: {ncols}, align: ({align},), stroke: 0.4pt + gray, inset: 4pt,"]
    for row in header:
        parts.append("  table.header(" + ", ".join(f"[*{c}*]" if c else "[]" for c in row) + "),")
    for row in body:
        parts.append("  " + ", ".join(f"[{c}]" for c in row) + ",")
    parts.append(")\n\n")
    return "\n".join(parts)
