"""Build the report and the dashboard from a warehouse: ``customer-chunks report``.

:func:`build_reports` renders

- ``reports/segmentation_report.qmd`` to ``segmentation_report.html`` and ``.pdf``
  (through :func:`customer_chunks.reporting.render.render`: Quarto when installed,
  else the built-in nbclient + nbconvert + Typst renderer), and
- the interactive dashboard ``dashboard.html`` (``reports/dashboard.py``, a Jinja2
  page with plotly.js inlined), run in a child process of this interpreter under a
  timeout, so neither holds a DuckDB connection in the caller's process.

Both read only the public marts and open the warehouse read-only under a fixed
catalog alias (any file name works). ``reports/`` is found through
:func:`reports_dir`. Sizes do not grow with the number of customers beyond a few MB:
scatter plots are samples of about 5,000 customers and lists are capped. Time is
dominated by starting the kernel and drawing figures (about 20 s for the report,
2 s for the dashboard at 3,000 customers); DuckDB adds about a second per million
customers.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from customer_chunks.errors import InputError
from customer_chunks.marts import MART_SCHEMA, open_read_only
from customer_chunks.reporting.errors import ReportError
from customer_chunks.reporting.render import FORMATS, render

__all__ = ["build_reports", "reports_dir"]

logger = logging.getLogger(__name__)

REPORT = "segmentation_report.qmd"
DASHBOARD = "dashboard.py"


def reports_dir() -> Path:
    """The project's ``reports/`` folder (beside ``dbt_project.yml``)."""
    from customer_chunks.run import project_dir

    return project_dir() / "reports"


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
        con = open_read_only(warehouse)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot open warehouse {warehouse}: {first}") from None
    try:
        found = con.execute(
            "select count(*) from information_schema.tables where table_catalog = "
            "current_database() and table_schema = ? and table_name = 'dim_customers'",
            [MART_SCHEMA],
        ).fetchone()[0]
    finally:
        con.close()
    if not found:
        raise InputError(
            f"warehouse {warehouse} has no {MART_SCHEMA}.dim_customers. Fix: run "
            "`customer-chunks run` to build and publish it."
        )


def _dashboard(source: Path, warehouse: Path, target: Path, timeout: float) -> None:
    argv = [sys.executable, str(source / DASHBOARD), "--warehouse", str(warehouse)]
    argv += ["--out", str(target)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ReportError(
            f"dashboard: {DASHBOARD} did not finish within {timeout:g} s and was stopped. "
            f"Fix: run `python {source / DASHBOARD} --warehouse {warehouse} --out x.html` "
            "to see where it stops"
        ) from None
    if done.returncode != 0 or not target.is_file():
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        for line in lines[-12:]:
            logger.debug("dashboard: %s", line)
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise ReportError(f"dashboard: {DASHBOARD} failed: {reason}")


def build_reports(
    warehouse: Path,
    out: Path,
    formats: Iterable[str] = FORMATS,
    *,
    timeout: int = 900,
) -> dict[str, Path]:
    """Render the segmentation report and the dashboard for ``warehouse`` into ``out``.

    ``formats`` picks the report's formats (``html``, ``pdf``); the dashboard is HTML
    and is built when ``html`` is asked for. ``timeout`` is per report cell and for
    the dashboard, in seconds. Logs progress (each cell, each file with its size and
    time). Returns ``{"segmentation_report_html": ..., "segmentation_report_pdf": ...,
    "dashboard_html": ...}`` for the files written. Raises :class:`InputError` for a
    missing warehouse or unknown format and :class:`ReportError` (one line naming
    the document and the cell) when a document fails.
    """
    formats = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InputError(
            f"unknown report format(s) {unknown or formats}. Fix: use html, pdf or html,pdf."
        )
    warehouse = Path(warehouse).resolve()
    out = Path(out)
    source = reports_dir()
    if not (source / REPORT).is_file():
        raise InputError(f"{source / REPORT} not found: run from a checkout of the project.")
    _check_warehouse(warehouse)
    out.mkdir(parents=True, exist_ok=True)

    written: dict[str, Path] = {}
    start = time.perf_counter()
    try:
        paths = render(
            source / REPORT, out, {"WAREHOUSE": warehouse}, formats=formats, timeout=timeout
        )
    except ReportError as exc:
        raise ReportError(f"segmentation report failed: {exc}", exc.traceback) from None
    for fmt, path in paths.items():
        written[f"segmentation_report_{fmt}"] = Path(path)
    sizes = ", ".join(f"{fmt} {_size(Path(p))}" for fmt, p in paths.items())
    logger.info("report: segmentation_report %s in %.1f s", sizes, time.perf_counter() - start)

    if "html" in formats:
        start = time.perf_counter()
        target = out / "dashboard.html"
        logger.info("report: dashboard")
        _dashboard(source, warehouse, target, timeout)
        written["dashboard_html"] = target
        logger.info(
            "report: dashboard html %s in %.1f s", _size(target), time.perf_counter() - start
        )
    return written
