"""Shared fixtures: paths, the shared datasets, and a helper that runs the pipeline."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

pytest_plugins = ["conftest_services"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ONLINE_RETAIL = SHARED_DATA / "online_retail" / "online_retail.csv.gz"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    if not ONLINE_RETAIL.exists():
        pytest.skip(
            f"Online Retail data not found at {ONLINE_RETAIL}: these tests need ../shared/data "
            "beside the checkout (see README, Tests)."
        )
    return ONLINE_RETAIL


def query(db_path: Path, sql: str):
    """Run a query on a published warehouse (read-only) and return a pandas frame."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()
