"""Render the Quarto reports (``reports/*.qmd``) to self-contained HTML and PDF.

:func:`render` uses ``quarto render`` when Quarto is on ``PATH``. Otherwise (Quarto
cannot be installed on the project's machines) it uses a built-in renderer that covers
the subset of Quarto the project's reports use:

- YAML front matter (``title``, ``subtitle``, ``author``, ``date``, ``execute:``
  defaults), ```` ```{python} ```` cells with ``#|`` options (``echo``, ``eval``,
  ``include``, ``output``, ``warning``, ``error``, ``label``, ``fig-cap``/``tbl-cap``),
  a ``tags: [parameters]`` cell after which the parameters are injected (as Quarto's
  ``-P name:value`` does), inline ```` `{python} expr` ```` values, callout blocks
  (shown as quotes); other Quarto shortcodes and cross-reference labels are dropped.
- Code is hidden unless a cell (or ``execute:``) says ``echo: true``.
- Cells run in a ``python3`` ipykernel of this interpreter (nbclient), in the
  document's folder, with a per-cell timeout. A failing cell raises
  :class:`ReportError` naming the document, the cell label/number and its line.
- HTML: one file (nbconvert's lab template without its CDN scripts), matplotlib
  figures as inline PNG, plotly figures as interactive divs with plotly.js inlined
  once; nothing is fetched from the network when the page is opened.
- PDF: the executed notebook is turned into Typst markup and compiled with the
  ``typst`` package (bundled compiler and fonts). Static images only: plotly figures
  are exported with kaleido when it is installed and works, otherwise replaced by a
  note pointing to the HTML version (listed under ``"notes"`` in the log).

:func:`check_in_browser` opens a rendered page in headless Chromium (Debian package,
driven by Playwright) and reports console errors, empty plotly figures and broken
images, optionally saving a screenshot; tests use it for every HTML the project makes.

Scaling: the notebook and its outputs are held in memory (a report with a few dozen
figures is a few MB; plotly.js adds ~4.6 MB to the HTML once).
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import html as _html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from customer_chunks.errors import CustomerChunksError

__all__ = [
    "CHROMIUM_ARGS",
    "QmdDocument",
    "ReportError",
    "build_notebook",
    "check_in_browser",
    "execute_notebook",
    "notebook_to_html",
    "notebook_to_typst",
    "parse_qmd",
    "render",
    "render_fallback",
]

Log = Callable[[str], None] | None

_DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

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


class ReportError(CustomerChunksError):
    """A report could not be rendered; the message names the document and the cell."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback


def _emit(log: Log, message: str) -> None:
    if log is not None:
        log(message)


# --------------------------------------------------------------------------- parsing


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


# --------------------------------------------------------------------------- notebook

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


def _param_value(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return str(Path(value).resolve())
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _param_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_param_value(v) for v in value]
    return value


def _parameters_source(params: Mapping[str, Any]) -> str:
    lines = ["# Injected parameters"]
    for key, value in params.items():
        if not str(key).isidentifier():
            raise ReportError(f"parameter name {key!r} is not a Python identifier")
        lines.append(f"{key} = {_param_value(value)!r}")
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


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _cell_name(cell: Any, index: int) -> str:
    meta = cell.metadata.get("quarto", {})
    label = meta.get("options", {}).get("label")
    line = meta.get("line")
    where = f" (line {line})" if line else ""
    return f"cell {index}" + (f" '{label}'" if label else "") + where


def _kernel_manager_class() -> type:
    """A KernelManager whose only kernel is ipykernel on THIS interpreter, so a
    ``python3`` kernel spec installed elsewhere (another venv) is never picked up."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager
    from traitlets import default

    class ThisPythonKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (customer-chunks)",
                language="python",
                metadata={"supported_encryption": ["curve"]},
                resource_dir="",
            )

    class ThisPythonKernelManager(KernelManager):
        @default("kernel_spec_manager")
        def _default_kernel_spec_manager(self) -> KernelSpecManager:
            return ThisPythonKernelSpecs(parent=self)

    return ThisPythonKernelManager


def execute_notebook(nb: Any, cwd: Path, *, timeout: int, name: str) -> Any:
    """Run every cell in a fresh python3 kernel with ``cwd`` as working directory.

    Raises :class:`ReportError` naming the failing cell.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from traitlets.config import Config

    current: dict[str, int] = {"index": -1}

    def on_start(cell: Any, cell_index: int) -> None:
        current["index"] = cell_index

    code_numbers = {}
    n = 0
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "injected" not in str(
            cell.metadata.get("quarto", {}).get("options", {}).get("label", "")
        ):
            n += 1
            code_numbers[idx] = n

    config = Config()
    try:
        import zmq

        if zmq.has("curve"):  # encrypt kernel traffic (and silence ipykernel's warning)
            config.KernelManager.transport_encryption = "auto"
    except ImportError:  # pragma: no cover
        pass
    client = NotebookClient(
        nb,
        config=config,
        kernel_manager_class=_kernel_manager_class(),
        timeout=timeout,
        startup_timeout=120,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
        on_cell_start=on_start,
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        idx = current["index"]
        cell = nb.cells[idx] if 0 <= idx < len(nb.cells) else None
        where = _cell_name(cell, code_numbers.get(idx, 0)) if cell is not None else "a cell"
        if isinstance(exc, CellExecutionError):
            reason = f"{exc.ename}: {_strip_ansi(exc.evalue)}"
            trace = _strip_ansi(exc.traceback)
        elif isinstance(exc, CellTimeoutError):
            reason, trace = f"timed out after {timeout} s (raise the timeout)", ""
        else:
            reason, trace = "the kernel died (out of memory?)", ""
        raise ReportError(f"{name}: {where} raised {reason}", trace) from None
    return nb


def _postprocess(nb: Any) -> None:
    """Apply options that act on outputs (``warning: false``) after execution."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        options = cell.metadata.get("quarto", {}).get("options", {})
        if options.get("warning") is False:
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]


# --------------------------------------------------------------------------- HTML

_HTML_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
.jp-Cell { padding: 0; }
.jp-InputPrompt, .jp-OutputPrompt { display: none; }
.jp-RenderedHTMLCommon h1:first-child { margin-top: 0.5rem; }
.jp-RenderedHTMLCommon .cc-title { text-align: center; margin-bottom: 0.2rem; }
.jp-RenderedHTMLCommon p.cc-subtitle { text-align: center; font-style: italic; font-size: 1.15em; }
.jp-RenderedHTMLCommon p.cc-byline { text-align: center; color: #555; }
.jp-RenderedHTMLCommon p.cc-caption { text-align: center; font-style: italic; color: #555; }
.jp-RenderedImage { text-align: center; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
.plotly-graph-div { max-width: 100%; }
</style>
{%- endblock extra_css -%}
"""


def notebook_to_html(nb: Any) -> str:
    """Self-contained HTML for an executed notebook (no external script or stylesheet)."""
    import jinja2
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = copy.deepcopy(nb)
    _plotly_outputs_to_html(nb)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if "cc_title" in cell.metadata:
            parts = cell.metadata["cc_title"]
            cell.source = "\n".join(
                f'<{tag} class="cc-{cls}">{_html.escape(parts[cls])}</{tag}>'
                for tag, cls in (("h1", "title"), ("p", "subtitle"), ("p", "byline"))
                if parts.get(cls)
            )
        elif cell.metadata.get("cc_caption"):
            text = cell.source.strip().strip("*")
            cell.source = f'<p class="cc-caption">{_html.escape(text)}</p>'
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove_cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove_output"}
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"cc_report.html.j2": _HTML_TEMPLATE})],
        template_file="cc_report.html.j2",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    external = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=[\"']https?://[^\"']*", body)
    if external:
        raise ReportError(f"HTML would load external resources: {external[:3]}")
    return body


def _plotly_outputs_to_html(nb: Any) -> None:
    """Replace plotly JSON outputs by divs; plotly.js is inlined with the first one."""
    try:
        import plotly.io as pio
    except ImportError:
        return
    first = True
    for cell in nb.cells:
        for output in getattr(cell, "outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME not in data:
                continue
            fig = data[PLOTLY_MIME]
            if isinstance(fig, str):
                fig = json.loads(fig)
            div = pio.to_html(
                fig,
                include_plotlyjs=first,
                full_html=False,
                validate=False,
                config={"responsive": True, "displaylogo": False},
                default_width="100%",
            )
            first = False
            output["data"] = {"text/html": div}


# --------------------------------------------------------------------------- PDF (Typst)

_TYPST_SPECIAL = re.compile(r"([\\#$*_`<>@\[\]~/=\-+])")


def _typst_escape(text: str) -> str:
    return _TYPST_SPECIAL.sub(r"\\\1", text)


def _typst_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _raw_block(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}\n\n"


class _TypstWriter:
    """Turns an executed notebook into Typst markup, writing images into ``work``."""

    def __init__(self, work: Path, source_dir: Path, static: _StaticPlotly | None = None) -> None:
        self.static = static
        self.work = work
        self.source_dir = source_dir
        self.n_images = 0
        self.notes: list[str] = []
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
            return _raw_block(tok.get("raw", ""), (attrs.get("info") or "").split(" ")[0])
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
                out.append(_typst_escape(tok.get("raw", "")))
            elif kind == "emphasis":
                out.append(f"#emph[{self.inline(children)}];")
            elif kind == "strong":
                out.append(f"#strong[{self.inline(children)}];")
            elif kind == "strikethrough":
                out.append(f"#strike[{self.inline(children)}];")
            elif kind == "codespan":
                out.append(f"#raw({_typst_string(tok.get('raw', ''))});")
            elif kind == "link":
                url = tok.get("attrs", {}).get("url", "")
                out.append(f"#link({_typst_string(url)})[{self.inline(children)}];")
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
            return f"#emph[{alt or _typst_escape(url)}];"
        self.n_images += 1
        name = f"asset-{self.n_images}{source.suffix.lower()}"
        shutil.copyfile(source, self.work / name)
        return f"#box(image({_typst_string(name)}, width: 100%));"

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
        return _typst_table(rows, header_rows=1, aligns=aligns)

    # -- outputs
    def image(self, data: bytes, suffix: str, px_per_mm: float = 100 / 25.4) -> str:
        self.n_images += 1
        name = f"figure-{self.n_images}{suffix}"
        (self.work / name).write_bytes(data)
        width = "100%"
        if suffix == ".png" and data[:8] == b"\x89PNG\r\n\x1a\n":
            px = struct.unpack(">I", data[16:20])[0]
            mm = px / px_per_mm  # matplotlib's inline backend renders at 100 dpi
            width = "100%" if mm >= 170 else f"{mm:.0f}mm"
        return f"#align(center, image({_typst_string(name)}, width: {width}))\n\n"

    def output(self, out: dict[str, Any]) -> str:
        kind = out.get("output_type")
        if kind == "stream":
            return _raw_block(_strip_ansi(out.get("text", "")))
        if kind == "error":
            return _raw_block(f"{out.get('ename')}: {_strip_ansi(out.get('evalue', ''))}")
        data = out.get("data", {})
        if PLOTLY_MIME in data:
            return self.plotly(data[PLOTLY_MIME])
        if "image/png" in data:
            return self.image(base64.b64decode(data["image/png"]), ".png")
        if "image/svg+xml" in data:
            svg = data["image/svg+xml"]
            return self.image(svg.encode() if isinstance(svg, str) else svg, ".svg")
        if "image/jpeg" in data:
            return self.image(base64.b64decode(data["image/jpeg"]), ".jpg")
        if "text/markdown" in data:
            return self.md(data["text/markdown"])
        if "text/html" in data and "<table" in data["text/html"]:
            rows, header_rows = _html_table_rows(data["text/html"])
            if rows:
                return "#text(size: 8pt)[\n" + _typst_table(rows, header_rows) + "]\n\n"
        if "text/plain" in data:
            return _raw_block(_strip_ansi(data["text/plain"]))
        return ""

    def plotly(self, fig: Any) -> str:
        png = self.static.png(fig) if self.static is not None else None
        if png is not None:
            return self.image(png, ".png", px_per_mm=1800 / 170)
        note = "interactive plotly figure left out of the PDF (see the HTML report)"
        if note not in self.notes:
            self.notes.append(note)
        shown = _typst_escape("Interactive figure left out of the PDF: see the HTML report.")
        return f"#align(center, box(stroke: 0.5pt + gray, inset: 8pt)[#emph[{shown}];])\n\n"


def _has_plotly_outputs(nb: Any) -> bool:
    return any(
        PLOTLY_MIME in output.get("data", {})
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )


class _StaticPlotly:
    """Exports plotly figures to PNG with kaleido (it drives the local Chromium).

    Used as a context manager around a whole document so one browser serves every
    figure; ``png()`` returns None when kaleido or a browser is missing or fails.
    """

    def __init__(self, wanted: bool) -> None:
        self.available = False
        self.wanted = wanted
        self.set_browser_path = False

    def __enter__(self) -> _StaticPlotly:
        import importlib.util

        if not self.wanted or importlib.util.find_spec("kaleido") is None:
            return self
        try:
            import kaleido

            if not os.environ.get("BROWSER_PATH") and Path(_DEFAULT_CHROMIUM).is_file():
                os.environ["BROWSER_PATH"] = _DEFAULT_CHROMIUM  # where kaleido looks
                self.set_browser_path = True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kaleido.start_sync_server(silence_warnings=True)
            self.available = True
        except Exception:  # noqa: BLE001 - no browser or kaleido error: no static image
            self.available = False
        return self

    def png(self, fig: Any) -> bytes | None:
        if not self.available:
            return None
        try:
            import plotly.io as pio

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pio.to_image(
                    fig, format="png", width=900, height=500, scale=2, validate=False
                )
        except Exception:  # noqa: BLE001
            return None

    def __exit__(self, *exc: object) -> None:
        if self.available:
            import kaleido

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kaleido.stop_sync_server(silence_warnings=True)
        if self.set_browser_path:
            os.environ.pop("BROWSER_PATH", None)


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


def _html_table_rows(text: str) -> tuple[list[list[str]], int]:
    parser = _TableParser()
    parser.feed(text)
    rows = [r for r in parser.rows if r]
    return [[_typst_escape(_html.unescape(c)) for c in r] for r in rows], parser.header_rows


_NUMBER = re.compile(r"[-+]?[\d,_ ]*\.?\d+(?:[eE][-+]?\d+)?%?|nan|NaN|<NA>|None|inf|-inf")


def _typst_table(
    rows: list[list[str]], header_rows: int = 1, aligns: list[str] | None = None
) -> str:
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


def notebook_to_typst(
    nb: Any, work: Path, source_dir: Path, static: _StaticPlotly | None = None
) -> tuple[str, list[str]]:
    """Typst markup for an executed notebook, images written into ``work``.

    Returns (markup, notes), notes listing what the PDF leaves out.
    """
    writer = _TypstWriter(work, source_dir, static)
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
        parts.append(f"#set document(title: {_typst_string(str(title))})\n")
    parts.append("\n")
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if "remove_cell" in tags:
            continue
        if cell.cell_type == "markdown":
            if "cc_title" in cell.metadata:
                parts.append(_typst_title(cell.metadata["cc_title"]))
            elif cell.metadata.get("cc_caption"):
                text = _typst_escape(cell.source.strip().strip("*"))
                parts.append(f"#align(center, emph[{text}])\n\n")
            else:
                parts.append(writer.md(cell.source))
            continue
        if cell.cell_type != "code":
            continue
        if "remove_input" not in tags and cell.source.strip():
            parts.append(_raw_block(cell.source, "python"))
        if "remove_output" in tags:
            continue
        for output in cell.get("outputs", []):
            parts.append(writer.output(output))
    return "".join(parts), writer.notes


def _typst_title(parts: Mapping[str, str]) -> str:
    out = f'#align(center, text(size: 20pt, weight: "bold")[{_typst_escape(parts["title"])}])\n'
    if parts.get("subtitle"):
        subtitle = _typst_escape(parts["subtitle"])
        out += f'#align(center, text(size: 12pt, style: "italic")[{subtitle}])\n'
    if parts.get("byline"):
        out += f"#align(center, text(fill: luma(90))[{_typst_escape(parts['byline'])}])\n"
    return out + "#v(1em)\n\n"


def _compile_pdf(nb: Any, pdf_path: Path, source_dir: Path, keep_typ: bool) -> list[str]:
    import typst

    with tempfile.TemporaryDirectory(prefix="customer-chunks-typst-") as tmp:
        work = Path(tmp)
        with _StaticPlotly(_has_plotly_outputs(nb)) as static:
            markup, notes = notebook_to_typst(nb, work, source_dir, static)
        typ = work / "report.typ"
        typ.write_text(markup, encoding="utf-8")
        if keep_typ:
            shutil.copyfile(typ, pdf_path.with_suffix(".typ"))
        try:
            typst.compile(str(typ), output=str(pdf_path), root=str(work))
        except Exception as exc:  # typst.TypstError and friends
            raise ReportError(f"typst could not compile the PDF: {exc}") from None
    return notes


# --------------------------------------------------------------------------- render


def render(
    qmd_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    formats: Iterable[str] = ("html", "pdf"),
    engine: str = "auto",
    timeout: int = 600,
    log: Log = print,
) -> dict[str, Path]:
    """Render a ``.qmd`` report into ``out_dir`` as ``<stem>.html`` and/or ``<stem>.pdf``.

    ``params`` become Python variables in the report (``Path`` values made absolute:
    cells run in the document's folder, as with Quarto). ``engine`` is ``"auto"``
    (Quarto when on PATH, else built-in), ``"quarto"`` or ``"builtin"``. ``timeout``
    is per cell, in seconds. Returns ``{"html": path, "pdf": path}`` for the formats
    written. Raises :class:`ReportError` (naming the cell) when a cell fails.
    """
    qmd = Path(qmd_path)
    if not qmd.is_file():
        raise ReportError(f"report {qmd} not found")
    formats = tuple(formats)
    unknown = set(formats) - {"html", "pdf"}
    if unknown:
        raise ReportError(f"unknown report format(s) {sorted(unknown)}; use html and/or pdf")
    if engine not in ("auto", "quarto", "builtin"):
        raise ReportError(f"unknown engine {engine!r}; use auto, quarto or builtin")
    quarto = shutil.which("quarto")
    if engine == "quarto" and quarto is None:
        raise ReportError("engine 'quarto' asked for, but quarto is not on PATH")
    if engine != "builtin" and quarto is not None:
        return render_quarto(quarto, qmd, out_dir, params or {}, formats=formats, log=log)
    return render_fallback(qmd, out_dir, params or {}, formats=formats, timeout=timeout, log=log)


def render_quarto(
    quarto: str,
    qmd: Path,
    out_dir: str | os.PathLike[str],
    params: Mapping[str, Any],
    *,
    formats: tuple[str, ...] = ("html", "pdf"),
    log: Log = print,
) -> dict[str, Path]:
    """Render with the Quarto CLI (self-contained HTML, PDF through Typst)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in formats:
        to = "html" if fmt == "html" else "typst"
        argv = [quarto, "render", str(qmd), "--to", to, "--output-dir", str(out)]
        if fmt == "html":
            argv += ["-M", "embed-resources:true"]
        for key, value in params.items():
            argv += ["-P", f"{key}:{json.dumps(_param_value(value))}"]
        _emit(log, f"quarto render {qmd.name} --to {to}")
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise ReportError(f"{qmd}: quarto render --to {to} failed:\n{tail}")
        written[fmt] = out / f"{qmd.stem}.{fmt}"
    return written


def render_fallback(
    qmd_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    formats: Iterable[str] = ("html", "pdf"),
    timeout: int = 600,
    log: Log = print,
    keep_typ: bool = False,
) -> dict[str, Path]:
    """The built-in renderer (see the module docstring); same contract as :func:`render`."""
    import time

    qmd = Path(qmd_path).resolve()
    out = Path(out_dir)
    formats = tuple(formats)
    start = time.perf_counter()
    doc = parse_qmd(qmd.read_text(encoding="utf-8"), name=str(qmd_path))
    nb = build_notebook(doc, params)
    execute_notebook(nb, qmd.parent, timeout=timeout, name=str(qmd_path))
    _postprocess(nb)
    _emit(log, f"{qmd.name}: executed {len(nb.cells)} cells in {time.perf_counter() - start:.1f} s")
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "html" in formats:
        html_path = out / f"{qmd.stem}.html"
        html_path.write_text(notebook_to_html(nb), encoding="utf-8")
        written["html"] = html_path
        _emit(log, f"{qmd.name} -> {html_path} ({html_path.stat().st_size / 1e6:.1f} MB)")
    if "pdf" in formats:
        pdf_path = out / f"{qmd.stem}.pdf"
        notes = _compile_pdf(nb, pdf_path, qmd.parent, keep_typ)
        written["pdf"] = pdf_path
        _emit(log, f"{qmd.name} -> {pdf_path} ({pdf_path.stat().st_size / 1e3:.0f} kB)")
        for note in notes:
            _emit(log, f"{qmd.name}: note: {note}")
    return written


# --------------------------------------------------------------------------- browser check

_PAGE_STATS_JS = """() => {
  const plots = Array.from(document.querySelectorAll('.plotly-graph-div')).map((d) => ({
    id: d.id,
    svgs: d.querySelectorAll('svg.main-svg').length,
    traces: d.querySelectorAll('g.trace, g.hm, .imagelayer image').length,
    width: d.clientWidth,
    height: d.clientHeight,
  }));
  const images = Array.from(document.images).map((i) => ({
    src: i.src.slice(0, 60),
    naturalWidth: i.naturalWidth,
    complete: i.complete,
  }));
  return { plots, images, title: document.title };
}"""

_PLOTS_READY_JS = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
  .every((d) => d.querySelector('svg.main-svg'))"""


def check_in_browser(
    html_path: str | os.PathLike[str],
    screenshot_path: str | os.PathLike[str] | None = None,
    *,
    executable_path: str = _DEFAULT_CHROMIUM,
    timeout_ms: int = 30_000,
    viewport: tuple[int, int] = (1280, 900),
    full_page: bool = True,
) -> dict[str, Any]:
    """Open ``html_path`` in headless Chromium and report what a reader would see.

    Every request other than ``file:``/``data:``/``blob:`` is blocked and listed, so a
    page that is not self-contained shows up. Waits until every plotly div has drawn
    its SVG. Returns ``{"ok", "problems", "console_errors", "page_errors",
    "blocked_requests", "plots", "images", "title", "screenshot"}`` where ``ok`` is
    true when ``problems`` is empty: no console or page error, no blocked request,
    every plotly div with an SVG and at least one trace, every image decoded
    (``naturalWidth > 0``). Uses Debian's Chromium (never ``playwright install``).
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    page_path = Path(html_path).resolve()
    if not page_path.is_file():
        raise ReportError(f"{page_path} not found")
    if not Path(executable_path).is_file():
        raise ReportError(f"{executable_path} not found: apt-get install chromium")
    console_errors: list[str] = []
    page_errors: list[str] = []
    blocked: list[str] = []
    problems: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.route("**/*", route)
            page.goto(page_path.as_uri(), wait_until="load", timeout=timeout_ms)
            try:
                page.wait_for_function(_PLOTS_READY_JS, timeout=timeout_ms)
            except PlaywrightError:
                problems.append(f"plotly figures not drawn within {timeout_ms} ms")
            page.wait_for_timeout(300)  # let plotly finish its resize pass
            stats = page.evaluate(_PAGE_STATS_JS)
            shot = None
            if screenshot_path is not None:
                shot = Path(screenshot_path)
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=full_page)
        finally:
            browser.close()

    problems += [f"console error: {m}" for m in console_errors]
    problems += [f"page error: {m}" for m in page_errors]
    problems += [f"blocked network request: {u}" for u in blocked]
    problems += [
        f"empty plotly figure #{p['id']}" for p in stats["plots"] if not (p["svgs"] and p["traces"])
    ]
    problems += [f"broken image {i['src']}..." for i in stats["images"] if not i["naturalWidth"]]
    return {
        "ok": not problems,
        "problems": problems,
        "console_errors": console_errors,
        "page_errors": page_errors,
        "blocked_requests": blocked,
        "plots": stats["plots"],
        "images": stats["images"],
        "title": stats["title"],
        "screenshot": shot,
    }
