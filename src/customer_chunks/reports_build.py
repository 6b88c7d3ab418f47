"""Build the reports that read a published warehouse: ``customer-chunks report``.

:func:`build_reports` renders

- ``reports/segmentation_report.qmd`` to ``segmentation_report.html`` and ``.pdf``
  (through :func:`customer_chunks.report.render`: Quarto when installed, else the
  built-in nbclient + nbconvert + typst renderer), and
- the interactive dashboard ``dashboard.html`` (``reports/dashboard.py``, a Jinja2
  page with plotly.js inlined), run in a subprocess of this interpreter like the
  report's kernel, so neither holds a DuckDB connection in the caller's process.

Both read only the public marts and open the warehouse read-only. Sizes do not grow
with the number of customers beyond a few MB: scatter plots are samples of about 5,000
customers and lists are capped (see the two documents). Time is dominated by starting
the kernel and drawing figures (about 20 s for the report, 2 s for the dashboard at
3,000 customers); DuckDB aggregates add about a second per million customers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from customer_chunks.errors import CustomerChunksError, InputError

__all__ = ["REPORTS_DIR", "ReportBuildError", "build_reports"]

REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"
REPORT = "segmentation_report.qmd"
DASHBOARD = "dashboard.py"
FORMATS = ("html", "pdf")


class ReportBuildError(CustomerChunksError):
    """A report could not be rendered; the message names the document and the cell."""


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _check_warehouse(warehouse: Path) -> None:
    import duckdb

    if not warehouse.is_file():
        raise InputError(
            f"warehouse {warehouse} not found. Fix: build it with `customer-chunks run`, "
            "or pass --warehouse PATH."
        )
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise InputError(f"cannot open warehouse {warehouse}: {exc}") from None
    try:
        found = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'dim_customers'"
        ).fetchone()[0]
    finally:
        con.close()
    if not found:
        raise InputError(
            f"warehouse {warehouse} has no marts.dim_customers. Fix: run "
            "`customer-chunks run` to build and publish it."
        )


def build_reports(
    warehouse: Path,
    out_dir: Path,
    *,
    formats: Iterable[str] = FORMATS,
    log: Callable[[str], None] | None = print,
    reports_dir: Path | None = None,
    timeout: int = 900,
) -> dict[str, Path]:
    """Render the segmentation report and the dashboard for ``warehouse`` into ``out_dir``.

    ``formats`` picks the report's formats (``html``, ``pdf``); the dashboard is HTML
    and is built when ``html`` is asked for. ``log`` gets one line per document (name,
    sizes, seconds). ``timeout`` is per report cell, in seconds. Returns
    ``{"segmentation_report_html": ..., "segmentation_report_pdf": ...,
    "dashboard_html": ...}`` for the files written. Raises :class:`InputError` for a
    missing warehouse or unknown format and :class:`ReportBuildError` when a document
    fails (naming the cell).
    """
    from customer_chunks.report import ReportError, render

    formats = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InputError(
            f"unknown report format(s) {unknown or formats}. Fix: use html, pdf or html,pdf."
        )
    warehouse = Path(warehouse).resolve()
    out_dir = Path(out_dir)
    source = Path(reports_dir) if reports_dir is not None else REPORTS_DIR
    if not (source / REPORT).is_file():
        raise InputError(f"{source / REPORT} not found: run from a checkout of the project.")
    _check_warehouse(warehouse)
    out_dir.mkdir(parents=True, exist_ok=True)

    def emit(message: str) -> None:
        if log is not None:
            log(message)

    written: dict[str, Path] = {}
    start = time.perf_counter()
    notes: list[str] = []
    try:
        paths = render(
            source / REPORT,
            out_dir,
            {"WAREHOUSE": warehouse},
            formats=formats,
            timeout=timeout,
            log=lambda m: notes.append(m) if ": note: " in m else None,
        )
    except ReportError as exc:
        raise ReportBuildError(f"segmentation report failed: {exc}") from None
    for fmt, path in paths.items():
        written[f"segmentation_report_{fmt}"] = Path(path)
    sizes = ", ".join(f"{fmt} {_size(Path(p))}" for fmt, p in paths.items())
    emit(f"segmentation_report: {sizes} in {time.perf_counter() - start:.1f} s")
    for note in notes:
        emit(note)

    if "html" in formats:
        start = time.perf_counter()
        target = out_dir / "dashboard.html"
        done = subprocess.run(
            [sys.executable, str(source / DASHBOARD), "--warehouse", str(warehouse)]
            + ["--out", str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not target.is_file():
            tail = "\n".join(done.stderr.strip().splitlines()[-12:])
            raise ReportBuildError(f"dashboard failed:\n{tail}")
        written["dashboard_html"] = target
        emit(f"dashboard: html {_size(target)} in {time.perf_counter() - start:.1f} s")
    return written
