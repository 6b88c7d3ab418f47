"""Turn an executed report notebook into Typst markup (the PDF's source).

Markdown (cells and ``text/markdown`` outputs) goes through mistune's AST; tables in
HTML outputs become Typst tables; images are written next to the markup. A plotly
output is drawn from the static ``image/png`` carried in the same bundle (the
reports display both, see ``reports/_common.py``); a plotly output without one is
drawn with matplotlib by :func:`customer_chunks.reporting.static.plotly_png`. Code is
shown only for cells without the ``remove_input`` tag. O(size of the outputs).
"""

from __future__ import annotations

import base64
import logging
import shutil
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from customer_chunks.reporting.kernel import strip_ansi
from customer_chunks.reporting.notebook import PLOTLY_MIME
from customer_chunks.reporting.static import plotly_png
from customer_chunks.reporting.typst_tables import (
    html_table_rows,
    raw_block,
    typst_escape,
    typst_string,
    typst_table,
)

__all__ = ["notebook_to_typst"]

logger = logging.getLogger(__name__)

# matplotlib's inline backend and the static figures render at 100 dpi.
PX_PER_MM = 100 / 25.4


class _TypstWriter:
    """Turns an executed notebook into Typst markup, writing images into ``work``."""

    def __init__(self, work: Path, source_dir: Path) -> None:
        self.work = work
        self.source_dir = source_dir
        self.n_images = 0
        self.missing: list[str] = []
        import mistune

        self.markdown = mistune.create_markdown(renderer="ast", plugins=["table", "strikethrough"])

    # -- markdown
    def md(self, text: str) -> str:
        text = text.replace("<!-- pagebreak -->", "\n\n@@PAGEBREAK@@\n\n")
        out = self.blocks(self.markdown(text))
        return out.replace("\\@\\@PAGEBREAK\\@\\@", "#pagebreak()")

    def blocks(self, tokens: Iterable[dict[str, Any]], indent: int = 0) -> str:
        return "".join(self.block(t, indent) for t in tokens)

    def block(self, tok: dict[str, Any], indent: int) -> str:
        kind = tok["type"]
        children = tok.get("children", [])
        attrs = tok.get("attrs", {})
        if kind == "heading":
            return "=" * attrs["level"] + " " + self.inline(children) + "\n\n"
        if kind == "paragraph":
            return self.inline(children) + "\n\n"
        if kind == "block_text":
            return self.inline(children)
        if kind == "block_code":
            return raw_block(tok.get("raw", ""), (attrs.get("info") or "").split(" ")[0])
        if kind == "block_quote":
            return "#quote(block: true)[\n" + self.blocks(children).strip() + "\n]\n\n"
        if kind == "thematic_break":
            return "#line(length: 100%, stroke: 0.5pt + gray)\n\n"
        if kind == "list":
            marker = "+" if attrs.get("ordered") else "-"
            pad = "  " * indent
            items = []
            for item in children:
                inner = item.get("children", [])
                first = self.block(inner[0], indent + 1).strip() if inner else ""
                text = f"{pad}{marker} {first}\n"
                for sub in inner[1:]:
                    if sub["type"] == "list":
                        text += self.block(sub, indent + 1)
                        continue
                    chunk = self.block(sub, indent + 1).strip()
                    text += "".join(f"{pad}  {line}\n" for line in chunk.splitlines())
                items.append(text)
            return "".join(items) + ("\n" if indent == 0 else "")
        if kind == "table":
            return self.md_table(tok)
        # blank_line, block_html, and anything unknown
        return ""

    def inline(self, tokens: Iterable[dict[str, Any]]) -> str:
        out = []
        for tok in tokens:
            kind = tok["type"]
            children = tok.get("children", [])
            if kind == "text":
                out.append(typst_escape(tok.get("raw", "")))
            elif kind == "emphasis":
                out.append(f"#emph[{self.inline(children)}];")
            elif kind == "strong":
                out.append(f"#strong[{self.inline(children)}];")
            elif kind == "strikethrough":
                out.append(f"#strike[{self.inline(children)}];")
            elif kind == "codespan":
                out.append(f"#raw({typst_string(tok.get('raw', ''))});")
            elif kind == "link":
                url = tok.get("attrs", {}).get("url", "")
                out.append(f"#link({typst_string(url)})[{self.inline(children)}];")
            elif kind == "image":
                out.append(self.md_image(tok))
            elif kind == "linebreak":
                out.append(" \\\n")
            elif kind == "softbreak":
                out.append(" ")
            else:  # inline_html and unknown
                out.append(self.inline(children) if children else "")
        return "".join(out)

    def md_image(self, tok: dict[str, Any]) -> str:
        url = tok.get("attrs", {}).get("url", "")
        alt = self.inline(tok.get("children", []))
        source = (self.source_dir / url).resolve()
        if url.startswith(("http:", "https:")) or not source.is_file():
            return f"#emph[{alt or typst_escape(url)}];"
        self.n_images += 1
        name = f"asset-{self.n_images}{source.suffix.lower()}"
        shutil.copyfile(source, self.work / name)
        return f"#box(image({typst_string(name)}, width: 100%));"

    def md_table(self, tok: dict[str, Any]) -> str:
        rows: list[list[str]] = []
        aligns: list[str] = []
        for part in tok.get("children", []):
            part_rows = [part] if part["type"] == "table_head" else part.get("children", [])
            for row in part_rows:
                cells = row.get("children", [])
                if not aligns:
                    aligns = [c.get("attrs", {}).get("align") or "left" for c in cells]
                rows.append([self.inline(c.get("children", [])) for c in cells])
        return typst_table(rows, header_rows=1, aligns=aligns)

    # -- outputs
    def image(self, data: bytes, suffix: str) -> str:
        self.n_images += 1
        name = f"figure-{self.n_images}{suffix}"
        (self.work / name).write_bytes(data)
        width = "100%"
        if suffix == ".png" and data[:8] == b"\x89PNG\r\n\x1a\n":
            px = struct.unpack(">I", data[16:20])[0]
            mm = px / PX_PER_MM
            width = "100%" if mm >= 170 else f"{mm:.0f}mm"
        return f"#align(center, image({typst_string(name)}, width: {width}))\n\n"

    def output(self, out: dict[str, Any]) -> str:
        kind = out.get("output_type")
        if kind == "stream":
            return raw_block(strip_ansi(out.get("text", "")))
        if kind == "error":
            return raw_block(f"{out.get('ename')}: {strip_ansi(out.get('evalue', ''))}")
        data = out.get("data", {})
        if "image/png" in data:  # also the static half of a plotly + PNG bundle
            return self.image(base64.b64decode(data["image/png"]), ".png")
        if "image/svg+xml" in data:
            svg = data["image/svg+xml"]
            return self.image(svg.encode() if isinstance(svg, str) else svg, ".svg")
        if "image/jpeg" in data:
            return self.image(base64.b64decode(data["image/jpeg"]), ".jpg")
        if PLOTLY_MIME in data:
            return self.plotly(data[PLOTLY_MIME])
        if "text/markdown" in data:
            return self.md(data["text/markdown"])
        if "text/html" in data and "<table" in data["text/html"]:
            rows, header_rows = html_table_rows(data["text/html"])
            if rows:
                return "#text(size: 8pt)[\n" + typst_table(rows, header_rows) + "]\n\n"
        if "text/plain" in data:
            return raw_block(strip_ansi(data["text/plain"]))
        return ""

    def plotly(self, fig: Any) -> str:
        """A plotly figure without a static twin: draw it with matplotlib."""
        png, skipped = plotly_png(fig)
        if skipped:
            self.missing.append(f"{self.n_images + 1}: trace type(s) {', '.join(skipped)}")
        return self.image(png, ".png")


def notebook_to_typst(nb: Any, work: Path, source_dir: Path) -> str:
    """Typst markup for an executed notebook, images written into ``work``.

    ``source_dir`` resolves relative Markdown image paths. Logs a warning for every
    plotly trace the static drawing could not show.
    """
    writer = _TypstWriter(work, source_dir)
    title = nb.metadata.get("title", "")
    parts = [
        '#set page(paper: "a4", margin: (x: 2cm, y: 2cm), numbering: "1")\n',
        "#set text(size: 10pt)\n",
        "#set par(justify: false)\n",
        "#show heading: set block(above: 1.2em, below: 0.6em)\n",
        "#show raw.where(block: true): block.with(fill: luma(245), inset: 6pt, radius: 3pt, "
        "width: 100%)\n",
    ]
    if title:
        parts.append(f"#set document(title: {typst_string(str(title))})\n")
    parts.append("\n")
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if "remove_cell" in tags:
            continue
        if cell.cell_type == "markdown":
            if "cc_title" in cell.metadata:
                parts.append(_typst_title(cell.metadata["cc_title"]))
            elif cell.metadata.get("cc_caption"):
                text = typst_escape(cell.source.strip().strip("*"))
                parts.append(f"#align(center, emph[{text}])\n\n")
            else:
                parts.append(writer.md(cell.source))
            continue
        if cell.cell_type != "code":
            continue
        if "remove_input" not in tags and cell.source.strip():
            parts.append(raw_block(cell.source, "python"))
        if "remove_output" in tags:
            continue
        for output in cell.get("outputs", []):
            parts.append(writer.output(output))
    for what in writer.missing:
        logger.warning("report: PDF figure %s not drawn (no static version)", what)
    return "".join(parts)


def _typst_title(parts: Mapping[str, str]) -> str:
    out = f'#align(center, text(size: 20pt, weight: "bold")[{typst_escape(parts["title"])}])\n'
    if parts.get("subtitle"):
        subtitle = typst_escape(parts["subtitle"])
        out += f'#align(center, text(size: 12pt, style: "italic")[{subtitle}])\n'
    if parts.get("byline"):
        out += f"#align(center, text(fill: luma(90))[{typst_escape(parts['byline'])}])\n"
    return out + "#v(1em)\n\n"
