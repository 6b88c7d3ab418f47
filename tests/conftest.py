"""Shared fixtures: paths and the shared datasets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import ONLINE_RETAIL, ROOT

pytest_plugins = ["conftest_services"]


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


@pytest.fixture(scope="session", autouse=True)
def dbt_state_dir(tmp_path_factory) -> Iterator[Path]:
    """dbt's target/ and logs/ for this test session (this xdist worker's under
    `make test`), never the checkout's: parallel workers would otherwise overwrite each
    other's run_results.json (src/customer_chunks/run.py, _state_dir)."""
    state = tmp_path_factory.mktemp("dbt-state")
    previous = os.environ.get("CUSTOMER_CHUNKS_STATE_DIR")
    os.environ["CUSTOMER_CHUNKS_STATE_DIR"] = str(state)
    yield state
    if previous is None:
        os.environ.pop("CUSTOMER_CHUNKS_STATE_DIR", None)
    else:
        os.environ["CUSTOMER_CHUNKS_STATE_DIR"] = previous
