"""Shared fixtures: paths and the shared datasets."""

from __future__ import annotations

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
