"""Run a report notebook in a Jupyter kernel, with a timeout on everything that waits.

:func:`execute_notebook` starts a ``python3`` ipykernel of THIS interpreter (never a
kernel spec installed elsewhere) in the document's folder, waits at most
``startup_timeout`` seconds for it to answer and at most ``timeout`` seconds for each
cell, and logs one progress line per cell (``report: cell 7/23 fig-pca-scatter``).
Every failure raises :class:`ReportError` with one line naming the document, what
failed and the fix; the kernel process is always shut down (nbclient kills it when it
does not stop within a few seconds). Time is the cells' own; memory is the notebook
and its outputs (a few MB for the project's report).
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import re
import sys
from pathlib import Path
from typing import Any

from customer_chunks.reporting.errors import ReportError

__all__ = ["execute_notebook", "strip_ansi"]

logger = logging.getLogger(__name__)


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks from the kernel carry them)."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _kernel_argv() -> list[str]:
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _kernel_manager_class() -> type:
    """A KernelManager whose only kernel is ipykernel on this interpreter."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPythonKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                argv=_kernel_argv(),
                display_name="Python 3 (customer-chunks)",
                language="python",
                metadata={"supported_encryption": ["curve"]},
                resource_dir="",
            )

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _default_kernel_spec_manager(self) -> KernelSpecManager:
            return ThisPythonKernelSpecs(parent=self)

    return ThisPythonKernelManager


def _label(cell: Any) -> str:
    meta = cell.metadata.get("quarto", {})
    label = meta.get("options", {}).get("label")
    return str(label) if label else f"line {meta.get('line', '?')}"


def _cell_name(cell: Any, number: int) -> str:
    meta = cell.metadata.get("quarto", {})
    label = meta.get("options", {}).get("label")
    line = meta.get("line")
    where = f" (line {line})" if line else ""
    return f"cell {number}" + (f" '{label}'" if label else "") + where


def _postprocess(nb: Any) -> None:
    """Apply options that act on outputs (``warning: false``) after execution."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("quarto", {}).get("options", {}).get("warning") is False:
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]


def execute_notebook(
    nb: Any, cwd: Path, *, timeout: int, name: str, startup_timeout: int = 60
) -> Any:
    """Run every cell of ``nb`` (in place) and return it.

    ``cwd`` is the kernel's working directory, ``timeout`` the limit per cell and
    ``startup_timeout`` the limit for the kernel to start, both in seconds; ``name``
    (the document) starts every error message. Raises :class:`ReportError` when the
    kernel cannot start, a cell raises, a cell runs past ``timeout`` or the kernel dies.
    """
    if importlib.util.find_spec("ipykernel") is None:
        raise ReportError(
            f"{name}: the Python kernel needs the ipykernel package. Fix: pip install ipykernel"
        )
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from traitlets.config import Config

    numbers: dict[int, int] = {}
    for idx, cell in enumerate(nb.cells):
        label = str(cell.metadata.get("quarto", {}).get("options", {}).get("label", ""))
        if cell.cell_type == "code" and "(injected)" not in label:
            numbers[idx] = len(numbers) + 1
    current = {"index": -1}

    def on_start(cell: Any, cell_index: int) -> None:
        current["index"] = cell_index
        if cell_index in numbers:
            logger.info("report: cell %d/%d %s", numbers[cell_index], len(numbers), _label(cell))

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
        startup_timeout=startup_timeout,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
        on_cell_start=on_start,
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError) as exc:
        idx = current["index"]
        if idx < 0:  # no cell started: the kernel did not come up
            first = strip_ansi(str(exc)).strip().splitlines()
            raise ReportError(
                f"{name}: the Python kernel ({sys.executable} -m ipykernel_launcher) did not "
                f"start within {startup_timeout} s ({first[0] if first else type(exc).__name__})."
                " Fix: check that ipykernel imports in this environment "
                "(python -m ipykernel_launcher --help)"
            ) from None
        where = _cell_name(nb.cells[idx], numbers.get(idx, 0))
        trace = ""
        if isinstance(exc, CellExecutionError):
            first = strip_ansi(exc.evalue).strip().splitlines()
            reason = f"raised {exc.ename}: {first[0] if first else ''}".rstrip(": ")
            trace = strip_ansi(exc.traceback)
        elif isinstance(exc, CellTimeoutError):
            reason = f"timed out after {timeout} s. Fix: raise the cell timeout"
        elif isinstance(exc, DeadKernelError):
            reason = "killed the kernel (out of memory?)"
        else:
            lines = strip_ansi(str(exc)).strip().splitlines() or [type(exc).__name__]
            reason = f"stopped the kernel ({lines[0]})"
        raise ReportError(f"{name}: {where} {reason}", trace) from None
    finally:
        if client.km is None:  # nbclient cleaned up already; its atexit hook would assert
            atexit.unregister(client._cleanup_kernel)
    _postprocess(nb)
    return nb
