"""Progress lines for long steps: step name, rows and elapsed seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PREFIX = "[customer_chunks.ml]"


@contextmanager
def step(name: str, rows: int, log: Callable[[str], None]) -> Iterator[None]:
    """Log ``name`` with the row count when entered, and the elapsed seconds when done.

    Takes a step name, the number of rows it works on and a ``log`` callable (e.g.
    ``print``). Lines look like ``[customer_chunks.ml] kmeans: 1,000,000 rows, done in
    3.2 s``. O(1).
    """
    started = time.perf_counter()
    log(f"{PREFIX} {name}: {rows:,} rows ...")
    yield
    log(f"{PREFIX} {name}: {rows:,} rows, done in {time.perf_counter() - started:.1f} s")


def note(message: str, log: Callable[[str], None]) -> None:
    """Log a fallback or a data problem the caller should know about."""
    log(f"{PREFIX} NOTE: {message}")
