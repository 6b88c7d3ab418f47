"""Render a ``.qmd`` report to self-contained HTML and/or PDF.

:func:`render` uses Quarto when a ``quarto`` binary is on PATH (one branch, see
:mod:`customer_chunks.reporting.quarto`) and otherwise the built-in renderer
:func:`render_fallback`, which chains the other modules of this package:

parse (:mod:`.qmd`) -> build the notebook (:mod:`.notebook`) -> run it in a kernel
(:mod:`.kernel`) -> HTML (:mod:`.html`) and PDF (:mod:`.pdf`, Typst markup from
:mod:`.typst_markup`, static figures from matplotlib).

Nothing here needs a browser. Scaling: the notebook and its outputs are held in
memory (a few MB for a report with a few dozen figures).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from customer_chunks.reporting.errors import ReportError
from customer_chunks.reporting.html import notebook_to_html
from customer_chunks.reporting.kernel import execute_notebook
from customer_chunks.reporting.notebook import build_notebook
from customer_chunks.reporting.pdf import write_pdf
from customer_chunks.reporting.qmd import parse_qmd
from customer_chunks.reporting.quarto import render_quarto

__all__ = ["FORMATS", "render", "render_fallback"]

logger = logging.getLogger(__name__)

FORMATS = ("html", "pdf")


def render(
    qmd_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    formats: Iterable[str] = FORMATS,
    engine: str = "auto",
    timeout: int = 600,
) -> dict[str, Path]:
    """Render a ``.qmd`` report into ``out_dir`` as ``<stem>.html`` and/or ``<stem>.pdf``.

    ``params`` become Python variables in the report (``Path`` values made absolute:
    cells run in the document's folder, as with Quarto). ``engine`` is ``"auto"``
    (Quarto when on PATH, else built-in), ``"quarto"`` or ``"builtin"``. ``timeout``
    is per cell, in seconds. Returns ``{"html": path, "pdf": path}`` for the formats
    written. Raises :class:`ReportError` (one line, naming the cell) on failure.
    """
    qmd = Path(qmd_path)
    if not qmd.is_file():
        raise ReportError(f"report {qmd} not found")
    formats = tuple(formats)
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ReportError(f"unknown report format(s) {sorted(unknown)}; use html and/or pdf")
    if engine not in ("auto", "quarto", "builtin"):
        raise ReportError(f"unknown engine {engine!r}; use auto, quarto or builtin")
    quarto = shutil.which("quarto") if engine != "builtin" else None
    if engine == "quarto" and quarto is None:
        raise ReportError("engine 'quarto' asked for, but quarto is not on PATH")
    if quarto is not None:
        return render_quarto(quarto, qmd, out_dir, params or {}, formats=formats)
    return render_fallback(qmd, out_dir, params or {}, formats=formats, timeout=timeout)


def render_fallback(
    qmd_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    formats: Iterable[str] = FORMATS,
    timeout: int = 600,
    startup_timeout: int = 60,
    pdf_timeout: float = 300,
    keep_typ: bool = False,
) -> dict[str, Path]:
    """The built-in renderer; same contract as :func:`render`.

    ``timeout`` limits each cell, ``startup_timeout`` the kernel start and
    ``pdf_timeout`` the Typst compile (seconds). ``keep_typ`` keeps the Typst markup
    beside the PDF. Logs a line per cell and per file written.
    """
    qmd = Path(qmd_path).resolve()
    out = Path(out_dir)
    formats = tuple(formats)
    start = time.perf_counter()
    doc = parse_qmd(qmd.read_text(encoding="utf-8"), name=str(qmd_path))
    nb = build_notebook(doc, params)
    execute_notebook(
        nb, qmd.parent, timeout=timeout, startup_timeout=startup_timeout, name=str(qmd_path)
    )
    logger.info("report: %s executed in %.1f s", qmd.name, time.perf_counter() - start)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "html" in formats:
        start = time.perf_counter()
        html_path = out / f"{qmd.stem}.html"
        html_path.write_text(notebook_to_html(nb), encoding="utf-8")
        written["html"] = html_path
        logger.info(
            "report: HTML %s %.1f MB in %.1f s",
            html_path.name,
            html_path.stat().st_size / 1e6,
            time.perf_counter() - start,
        )
    if "pdf" in formats:
        pdf_path = out / f"{qmd.stem}.pdf"
        written["pdf"] = write_pdf(nb, pdf_path, qmd.parent, timeout=pdf_timeout, keep_typ=keep_typ)
    return written
