"""Render a ``.qmd`` with the Quarto CLI, when a ``quarto`` binary is on PATH.

Self-contained HTML (``embed-resources``) and PDF through Quarto's Typst format,
parameters passed as ``-P name:value``. Each ``quarto render`` runs under a timeout
and its failure is one line (the last lines of Quarto's output are logged at debug
level). Quarto is not installable on the project's machines, so this path is only
used where a person installed it; :func:`customer_chunks.reporting.render.render`
picks it in one branch.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from customer_chunks.reporting.errors import ReportError
from customer_chunks.reporting.notebook import param_value

__all__ = ["render_quarto"]

logger = logging.getLogger(__name__)


def render_quarto(
    quarto: str,
    qmd: Path,
    out_dir: str | os.PathLike[str],
    params: Mapping[str, Any],
    *,
    formats: Iterable[str] = ("html", "pdf"),
    timeout: float = 1800,
) -> dict[str, Path]:
    """Run ``quarto render`` once per format; returns ``{format: path}``.

    ``timeout`` is in seconds for each ``quarto render`` (Quarto runs all cells in
    one go, so there is no per-cell limit here).
    """
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in formats:
        to = "html" if fmt == "html" else "typst"
        argv = [quarto, "render", str(qmd), "--to", to, "--output-dir", str(out)]
        if fmt == "html":
            argv += ["-M", "embed-resources:true"]
        for key, value in params.items():
            argv += ["-P", f"{key}:{json.dumps(param_value(value))}"]
        logger.info("report: quarto render %s --to %s", qmd.name, to)
        start = time.perf_counter()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ReportError(
                f"{qmd}: quarto render --to {to} did not finish within {timeout:g} s and was "
                "stopped. Fix: raise the timeout, or use the built-in renderer (engine='builtin')"
            ) from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            for line in lines[-15:]:
                logger.debug("quarto: %s", line)
            reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
            raise ReportError(f"{qmd}: quarto render --to {to} failed: {reason}")
        written[fmt] = out / f"{qmd.stem}.{fmt}"
        logger.info("report: %s in %.1f s", written[fmt].name, time.perf_counter() - start)
    return written
