"""Turn a parsed ``.qmd`` into a notebook ready to execute.

Adds a hidden setup cell (PNG matplotlib output, plotly as its JSON mime type), the
parameters injected after the ``parameters`` cell (as Quarto's ``-P name:value``
does), a title cell, caption cells, and nbconvert tags derived from each cell's
options (``echo``, ``include``, ``output``, ``eval``, ``error``). O(cells).
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from customer_chunks.reporting.errors import ReportError
from customer_chunks.reporting.qmd import QmdDocument

__all__ = ["DEFAULT_OPTIONS", "PLOTLY_MIME", "build_notebook", "param_value"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"

# Quarto's cell-option defaults, except ``echo`` (reports hide their code by default).
DEFAULT_OPTIONS: dict[str, Any] = {
    "echo": False,
    "eval": True,
    "include": True,
    "output": True,
    "warning": True,
    "error": False,
}


_SETUP = """\
try:
    import matplotlib_inline.backend_inline as _cc_inline
    _cc_inline.set_matplotlib_formats("png")
except ImportError:
    pass
try:
    import plotly.io as _cc_pio
    _cc_pio.renderers.default = "plotly_mimetype"
except ImportError:
    pass
"""


def param_value(value: Any) -> Any:
    """A parameter as a plain Python/JSON value: paths absolute, dates ISO strings."""
    if isinstance(value, os.PathLike):
        return str(Path(value).resolve())
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): param_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [param_value(v) for v in value]
    return value


def _parameters_source(params: Mapping[str, Any]) -> str:
    lines = ["# Injected parameters"]
    for key, value in params.items():
        if not str(key).isidentifier():
            raise ReportError(f"parameter name {key!r} is not a Python identifier")
        lines.append(f"{key} = {param_value(value)!r}")
    return "\n".join(lines)


def build_notebook(doc: QmdDocument, params: Mapping[str, Any] | None = None) -> Any:
    """Return an nbformat notebook ready to execute: setup cell, the document's cells
    with tags derived from their options, the parameters injected after the
    ``parameters`` cell (or first), a title cell, and fig/tbl captions."""
    import nbformat

    execute = doc.front_matter.get("execute") or {}
    defaults = {**DEFAULT_OPTIONS, **{k: v for k, v in execute.items() if k in DEFAULT_OPTIONS}}

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    if doc.title:
        nb.metadata["title"] = doc.title
        title_cell = nbformat.v4.new_markdown_cell(_title_markdown(doc.front_matter))
        title_cell.metadata["cc_title"] = _title_parts(doc.front_matter)
        nb.cells.append(title_cell)
    setup = nbformat.v4.new_code_cell(_SETUP)
    setup.metadata["tags"] = ["remove_cell"]
    setup.metadata["quarto"] = {"options": {"label": "setup (injected)"}, "line": 0}
    nb.cells.append(setup)

    injected = nbformat.v4.new_code_cell(_parameters_source(params or {}))
    injected.metadata["tags"] = ["remove_cell", "injected-parameters"]
    injected.metadata["quarto"] = {"options": {"label": "parameters (injected)"}, "line": 0}

    placed = False
    for cell in doc.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            options = {**defaults, **cell.metadata["quarto"]["options"]}
            cell.metadata["quarto"]["options"] = options
            tags = list(cell.metadata.get("tags", []))
            if cell.metadata.get("cc_inline"):
                tags += ["remove_input"]
            else:
                if options.get("echo") in (False, None):
                    tags.append("remove_input")
                if not options.get("include", True):
                    tags.append("remove_cell")
                if options.get("output") is False:
                    tags.append("remove_output")
                if not options.get("eval", True):
                    tags.append("skip-execution")
                if options.get("error"):
                    tags.append("raises-exception")
            cell.metadata["tags"] = sorted(set(tags))
        nb.cells.append(cell)
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            nb.cells.append(injected)
            placed = True
        caption = cell.cell_type == "code" and (
            cell.metadata["quarto"]["options"].get("fig-cap")
            or cell.metadata["quarto"]["options"].get("tbl-cap")
        )
        if caption and "remove_cell" not in cell.metadata["tags"]:
            cap = nbformat.v4.new_markdown_cell(f"*{caption}*")
            cap.metadata["cc_caption"] = True
            nb.cells.append(cap)
    if not placed:
        nb.cells.insert(nb.cells.index(setup) + 1, injected)
    return nb


def _title_parts(front: Mapping[str, Any]) -> dict[str, str]:
    byline = []
    author = front.get("author")
    if author:
        authors = author if isinstance(author, list) else [author]
        names = (a.get("name", "") if isinstance(a, dict) else str(a) for a in authors)
        byline.append(", ".join(names))
    date = front.get("date")
    if date:
        today = str(date) in ("today", "now", "last-modified")
        byline.append(_dt.date.today().isoformat() if today else str(date))
    return {
        "title": str(front.get("title") or ""),
        "subtitle": str(front.get("subtitle") or ""),
        "byline": " · ".join(byline),
    }


def _title_markdown(front: Mapping[str, Any]) -> str:
    parts = _title_parts(front)
    lines = [f"# {parts['title']}"]
    if parts["subtitle"]:
        lines.append(f"*{parts['subtitle']}*")
    if parts["byline"]:
        lines.append(parts["byline"])
    return "\n\n".join(lines)
