"""Open a published warehouse read-only, whatever its file is called.

DuckDB names a database file's catalog after the file: a warehouse saved as
``marts.duckdb`` has a catalog ``marts`` *and* a schema ``marts``, and every
``marts.<table>`` reference is then ambiguous ("Ambiguous reference to catalog or
schema marts"). :func:`open_read_only` avoids that by attaching the file under the
fixed alias :data:`CATALOG` on an in-memory connection and making it the default
catalog, so ``marts.dim_customers`` means the same thing for every file name.

Used by the reports (``reports/_common.py``, the report build) and the exports.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

__all__ = ["CATALOG", "MART_SCHEMA", "open_read_only"]

MART_SCHEMA = "marts"
# Not a schema name the project uses (raw, staging, intermediate, marts, ml, main).
CATALOG = "cc_warehouse"


def open_read_only(path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """Return a connection on which ``path`` is the read-only default catalog.

    Takes the DuckDB file of a warehouse (it must exist; raises ``duckdb.Error``
    when it cannot be opened, e.g. while a build holds its write lock). Nothing is
    read until queried: O(1) time and memory.
    """
    literal = "'" + str(Path(path)).replace("'", "''") + "'"
    con = duckdb.connect()
    try:
        con.execute(f"attach {literal} as {CATALOG} (read_only)")
        con.execute(f"use {CATALOG}")
    except BaseException:
        con.close()
        raise
    return con
