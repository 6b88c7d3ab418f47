"""Helpers shared by the end-to-end tests (a module, not conftest, so that
tests/ml/conftest.py cannot shadow it)."""

from __future__ import annotations

from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ONLINE_RETAIL = SHARED_DATA / "online_retail" / "online_retail.csv.gz"


def query(db_path: Path, sql: str):
    """Run a query on a published warehouse (read-only) and return a pandas frame."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()
