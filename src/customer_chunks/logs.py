"""Logging for the package: stdlib ``logging``, one format, configured once by the CLI.

Every module logs through ``logging.getLogger(__name__)``; nothing is configured on
import, so a program that uses the package as a library decides where the lines go.
The CLI calls :func:`configure`: progress lines go to standard output as
``HH:MM:SS message`` (warnings add their level), beside the results (paths,
summaries), so that standard error carries only the one ``error: ...`` line of a failed
command and a script can tell the two apart.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator

ROOT = "customer_chunks"
FORMAT = "%(asctime)s %(levelprefix)s%(message)s"
DATEFMT = "%H:%M:%S"


class _Formatter(logging.Formatter):
    """``HH:MM:SS message``; ``HH:MM:SS WARNING: message`` from warning level up."""

    def format(self, record: logging.LogRecord) -> str:
        record.levelprefix = f"{record.levelname}: " if record.levelno >= logging.WARNING else ""
        return super().format(record)


class _StdoutHandler(logging.StreamHandler):
    """Writes to ``sys.stdout`` as it is when a record is emitted, not as it was when
    the handler was made (like logging's own last-resort handler with ``sys.stderr``):
    pytest, notebooks and other callers swap standard output and close the old one, and
    a handler holding the closed stream printed "--- Logging error --- ... I/O
    operation on closed file" for every later record."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass  # always the current sys.stdout


def configure(level: int = logging.INFO, stream=None) -> logging.Handler:
    """Send the package's log records to ``stream`` (default: standard output, the one
    current when each record is written) in the one format. Idempotent: a second call
    replaces the handler it added before."""
    logger = logging.getLogger(ROOT)
    for handler in list(logger.handlers):
        if getattr(handler, "_customer_chunks", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    handler.setFormatter(_Formatter(FORMAT, DATEFMT))
    handler._customer_chunks = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler


class _Forward(logging.Handler):
    def __init__(self, callback: Callable[[str], None]) -> None:
        super().__init__()
        self.callback = callback

    def emit(self, record: logging.LogRecord) -> None:
        self.callback(record.getMessage())


@contextlib.contextmanager
def forward_to(callback: Callable[[str], None] | None) -> Iterator[None]:
    """While the block runs, also pass every package log message to ``callback``.

    Only for callers written before the package used ``logging`` (``log=`` arguments);
    new code reads the records with a ``logging`` handler or pytest's ``caplog``.
    """
    if callback is None:
        yield
        return
    logger = logging.getLogger(ROOT)
    handler = _Forward(callback)
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
