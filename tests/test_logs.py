"""The package's log handler (customer_chunks.logs)."""

from __future__ import annotations

import io
import logging
import sys

from customer_chunks import logs


def test_default_handler_writes_to_the_current_stdout_not_a_closed_one(monkeypatch) -> None:
    """configure() once bound the handler to the sys.stdout of that moment; when the
    caller (pytest's capture, a notebook) swapped and closed it, every later record
    printed "--- Logging error --- ... I/O operation on closed file" instead."""
    first, second, errors = io.StringIO(), io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    monkeypatch.setattr(sys, "stderr", errors)
    handler = logs.configure()
    try:
        logging.getLogger("customer_chunks.test").info("to the first")
        assert "to the first" in first.getvalue()
        first.close()
        monkeypatch.setattr(sys, "stdout", second)
        logging.getLogger("customer_chunks.test").info("to the second")
    finally:
        logging.getLogger(logs.ROOT).removeHandler(handler)
    assert "to the second" in second.getvalue()
    assert "Logging error" not in errors.getvalue()


def test_an_explicit_stream_is_kept(monkeypatch) -> None:
    target = io.StringIO()
    handler = logs.configure(stream=target)
    try:
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        logging.getLogger("customer_chunks.test").warning("kept")
    finally:
        logging.getLogger(logs.ROOT).removeHandler(handler)
    assert target.getvalue().endswith("WARNING: kept\n")
