"""Typeset an executed report notebook as a PDF with Typst, under a timeout.

The markup comes from :func:`customer_chunks.reporting.typst_markup.notebook_to_typst`;
the ``typst`` package (bundled compiler and fonts, no browser, no network) compiles
it in a child process of this interpreter, so a compile that does not finish is
killed after ``timeout`` seconds instead of holding the caller forever. Every figure
is a static image: matplotlib PNGs, and for plotly figures the PNG displayed beside
them (or one drawn by :mod:`customer_chunks.reporting.static`). Time is dominated by
Typst (about 2 s for the project's report); memory by the images.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from customer_chunks.reporting.errors import ReportError
from customer_chunks.reporting.typst_markup import notebook_to_typst

__all__ = ["compile_typst", "write_pdf"]

logger = logging.getLogger(__name__)

_COMPILE = "import sys, typst\ntypst.compile(sys.argv[1], output=sys.argv[2], root=sys.argv[3])\n"


def compile_typst(typ: Path, pdf: Path, *, root: Path, timeout: float) -> None:
    """Compile the Typst file ``typ`` to ``pdf`` in a child process.

    ``root`` is the folder Typst may read (images); ``timeout`` is in seconds. Raises
    :class:`ReportError` with one line when Typst reports an error, is missing or runs
    past the timeout (the child is killed).
    """
    argv = [sys.executable, "-c", _COMPILE, str(typ), str(pdf), str(root)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ReportError(
            f"typst did not finish compiling {pdf.name} within {timeout:g} s and was stopped. "
            "Fix: raise the PDF timeout, or render with --formats html"
        ) from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        if any("No module named 'typst'" in line for line in lines):
            raise ReportError("the PDF needs the typst package. Fix: pip install typst")
        # the child's last line is "typst.TypstError: <first line of Typst's message>"
        errors = [line.split(":", 1)[1].strip() for line in lines if "TypstError:" in line]
        reason = (errors or lines[-1:] or [f"exit code {done.returncode}"])[0]
        raise ReportError(f"typst could not compile {pdf.name}: {reason}")


def write_pdf(
    nb: Any,
    pdf_path: Path,
    source_dir: Path,
    *,
    timeout: float = 300,
    keep_typ: bool = False,
) -> Path:
    """Write the executed notebook ``nb`` as the PDF ``pdf_path`` and return the path.

    ``source_dir`` resolves relative image paths in Markdown; ``timeout`` (seconds)
    limits the Typst compile; ``keep_typ`` also writes the markup beside the PDF
    (``<stem>.typ``) for debugging. The PDF is written under a temporary name and
    renamed, so a failed compile leaves no half file. Logs the size and time.
    """
    start = time.perf_counter()
    pdf_path = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="customer-chunks-typst-") as tmp:
        work = Path(tmp)
        markup = notebook_to_typst(nb, work, source_dir)
        typ = work / "report.typ"
        typ.write_text(markup, encoding="utf-8")
        if keep_typ:
            shutil.copyfile(typ, pdf_path.with_suffix(".typ"))
        partial = work / pdf_path.name
        compile_typst(typ, partial, root=work, timeout=timeout)
        shutil.move(partial, pdf_path)
    size = pdf_path.stat().st_size
    logger.info(
        "report: PDF %s %.0f kB in %.1f s", pdf_path.name, size / 1e3, time.perf_counter() - start
    )
    return pdf_path
