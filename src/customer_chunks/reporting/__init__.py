"""Reports: render ``reports/*.qmd`` to HTML and PDF, and build the dashboard.

One module per job, each with one public function:

========================  ===============================================================
module                    job
========================  ===============================================================
``build``                 :func:`build_reports`: report + dashboard from a warehouse
``render``                :func:`render`: Quarto when on PATH (one branch), else built-in
``quarto``                :func:`render_quarto`: the Quarto CLI, under a timeout
``qmd``                   :func:`parse_qmd`: ``.qmd`` -> front matter and cells
``notebook``              :func:`build_notebook`: cells -> executable notebook
``kernel``                :func:`execute_notebook`: run it (timeouts on start and cells)
``html``                  :func:`notebook_to_html`: one self-contained HTML file
``typst_markup``          :func:`notebook_to_typst`: Markdown/outputs -> Typst markup
``typst_tables``          :func:`typst_table`: tables and escaping for Typst
``static``                :func:`plotly_png`: a plotly figure drawn with matplotlib
``pdf``                   :func:`write_pdf`: compile the PDF with Typst, under a timeout
========================  ===============================================================

Nothing here needs a browser; progress goes to ``logging`` (logger names under
``customer_chunks.reporting``). Every failure is a :class:`ReportError` with one line
naming the document, the step and the fix.
"""

from __future__ import annotations

from customer_chunks.reporting.build import build_reports, reports_dir
from customer_chunks.reporting.errors import ReportError
from customer_chunks.reporting.notebook import build_notebook
from customer_chunks.reporting.qmd import QmdDocument, parse_qmd
from customer_chunks.reporting.render import render, render_fallback

__all__ = [
    "QmdDocument",
    "ReportError",
    "build_notebook",
    "build_reports",
    "parse_qmd",
    "render",
    "render_fallback",
    "reports_dir",
]
