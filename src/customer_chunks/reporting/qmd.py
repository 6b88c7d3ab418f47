"""Parse Quarto markdown (``.qmd``) into front matter and notebook cells.

Covers the subset of Quarto the project's reports use: YAML front matter,
```` ```{python} ```` cells with ``#|`` options, a ``tags: [parameters]`` cell, inline
```` `{python} expr` ```` values, callout blocks (kept as quotes) and the ``pagebreak``
shortcode; other shortcodes and cross-reference labels are dropped. Other languages
raise :class:`ReportError` (they need Quarto). O(lines) time and memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from customer_chunks.reporting.errors import ReportError

__all__ = ["QmdDocument", "parse_qmd"]


@dataclass
class QmdDocument:
    """A parsed ``.qmd``: front matter and notebook cells (nbformat v4 nodes)."""

    front_matter: dict[str, Any]
    cells: list[Any] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.front_matter.get("title") or "")


_CHUNK_START = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<lang>[A-Za-z0-9_-]+)(?P<rest>[^}]*)\}\s*$")
_FENCE = re.compile(r"^\s{0,3}(?P<fence>`{3,}|~{3,})")
_OPTION = re.compile(r"^#\|\s?(?P<option>.*)$")
_INLINE = re.compile(r"`\{python\}\s+(?P<expr>[^`]+?)`")
_DIV_FENCE = re.compile(r"^\s*(:{3,})\s*(?P<attrs>\{[^}]*\}|[\w.-]+)?\s*$")
_HEADING_ATTRS = re.compile(r"^(?P<head>#{1,6}\s.*?)\s*\{[#.][^}]*\}\s*$")
_SHORTCODE = re.compile(r"\{\{<\s*(?P<name>[\w-]+)[^>]*>\}\}")


def parse_qmd(text: str, name: str = "<qmd>") -> QmdDocument:
    """Parse Quarto markdown into front matter and notebook cells.

    Code cells carry ``metadata["quarto"] = {"options": {...}, "line": N}``; markdown
    with inline ```` `{python} expr` ```` becomes a hidden code cell that displays
    the markdown with the values filled in.
    """
    import nbformat

    lines = text.splitlines()
    front: dict[str, Any] = {}
    start = 0
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                try:
                    front = yaml.safe_load("\n".join(lines[1:i])) or {}
                except yaml.YAMLError as exc:
                    raise ReportError(f"{name}: front matter is not valid YAML ({exc})") from None
                start = i + 1
                break
    doc = QmdDocument(front_matter=front if isinstance(front, dict) else {})

    markdown: list[str] = []
    markdown_line = start + 1

    def flush_markdown() -> None:
        body = _clean_markdown("\n".join(markdown)).strip("\n")
        markdown.clear()
        if body.strip():
            doc.cells.extend(_markdown_cells(body, markdown_line, nbformat))

    i = start
    open_fence: str | None = None
    while i < len(lines):
        line = lines[i]
        if open_fence is not None:  # inside a non-executable fenced block
            markdown.append(line)
            stripped = line.strip()
            if stripped and set(stripped) == {open_fence[0]} and len(stripped) >= len(open_fence):
                open_fence = None
            i += 1
            continue
        chunk = _CHUNK_START.match(line)
        if chunk:
            fence, lang = chunk.group("fence"), chunk.group("lang").lower()
            end = i + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            if end >= len(lines):
                raise ReportError(f"{name}: line {i + 1}: unclosed ```{{{lang}}} cell")
            if lang != "python":
                raise ReportError(
                    f"{name}: line {i + 1}: ```{{{lang}}} cells need Quarto; the built-in "
                    "renderer runs python cells only"
                )
            flush_markdown()
            body = lines[i + 1 : end]
            option_lines: list[str] = []
            while body and _OPTION.match(body[0]):
                option_lines.append(_OPTION.match(body[0]).group("option"))  # type: ignore[union-attr]
                body = body[1:]
            try:
                options = yaml.safe_load("\n".join(option_lines)) or {} if option_lines else {}
            except yaml.YAMLError as exc:
                raise ReportError(
                    f"{name}: line {i + 2}: cell options are not valid YAML ({exc})"
                ) from None
            cell = nbformat.v4.new_code_cell("\n".join(body).strip("\n"))
            cell.metadata["quarto"] = {"options": options, "line": i + 1}
            tags = options.get("tags") or []
            if isinstance(tags, str):
                tags = [tags]
            if tags:
                cell.metadata["tags"] = list(tags)
            doc.cells.append(cell)
            i = end + 1
            markdown_line = i + 1
            continue
        fence_match = _FENCE.match(line)
        if fence_match:
            open_fence = fence_match.group("fence")
        markdown.append(line)
        i += 1
    flush_markdown()
    return doc


def _clean_markdown(text: str) -> str:
    """Drop Quarto-only syntax that plain Markdown would print literally."""
    out: list[str] = []
    callout_depth: list[bool] = []
    in_fence = None
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if in_fence is None and fence:
            in_fence = fence.group("fence")[0]
        elif in_fence is not None and line.strip().startswith(in_fence * 3):
            in_fence = None
            out.append(("> " if any(callout_depth) else "") + line)
            continue
        if in_fence is None:
            div = _DIV_FENCE.match(line)
            if div:
                attrs = div.group("attrs")
                if attrs is None and callout_depth:
                    callout_depth.pop()
                else:
                    callout_depth.append(bool(attrs and "callout" in attrs))
                continue
            heading = _HEADING_ATTRS.match(line)
            if heading:
                line = heading.group("head")
            line = _SHORTCODE.sub(
                lambda m: "\n<!-- pagebreak -->\n" if m.group("name") == "pagebreak" else "", line
            )
        out.append(("> " if any(callout_depth) else "") + line)
    return "\n".join(out)


def _markdown_cells(body: str, line: int, nbformat: Any) -> list[Any]:
    if not _INLINE.search(body):
        return [nbformat.v4.new_markdown_cell(body)]
    pieces: list[str] = []
    last = 0
    for match in _INLINE.finditer(body):
        pieces.append(repr(body[last : match.start()]))
        pieces.append(f"str({match.group('expr').strip()})")
        last = match.end()
    pieces.append(repr(body[last:]))
    source = (
        "from IPython.display import Markdown as _cc_Markdown, display as _cc_display\n"
        f"_cc_display(_cc_Markdown(''.join([{', '.join(pieces)}])))"
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["quarto"] = {"options": {"label": "inline-markdown"}, "line": line}
    cell.metadata["cc_inline"] = True
    return [cell]
