"""The DuckDB memory_limit the CLI gives dbt when CUSTOMER_CHUNKS_MEMORY is not set:
half of the machine's memory in whole GB, never below 1GB (customer_chunks.run)."""

from __future__ import annotations

import pytest

from customer_chunks import run


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (int(23.5 * 1024**3), "12GB"),  # this machine: 25.2 GB, half 12.6
        (64 * 1024**3, "34GB"),
        (int(1.5 * 1024**3), "1GB"),  # half is 0.8 GB: the floor
    ],
)
def test_default_is_half_the_machines_memory_never_below_1gb(monkeypatch, total, expected):
    monkeypatch.delenv("CUSTOMER_CHUNKS_MEMORY", raising=False)
    monkeypatch.setattr(run, "physical_memory", lambda: total)
    value, why = run.duckdb_memory_limit()
    assert value == expected
    assert "half of this machine's" in why


def test_the_users_setting_wins(monkeypatch):
    monkeypatch.setenv("CUSTOMER_CHUNKS_MEMORY", "700MB")
    monkeypatch.setattr(run, "physical_memory", lambda: 64 * 1024**3)
    assert run.duckdb_memory_limit() == ("700MB", "CUSTOMER_CHUNKS_MEMORY")


def test_unreadable_memory_falls_back_to_the_floor(monkeypatch):
    monkeypatch.delenv("CUSTOMER_CHUNKS_MEMORY", raising=False)
    monkeypatch.setattr(run, "physical_memory", lambda: None)
    assert run.duckdb_memory_limit()[0] == f"{run.MEMORY_FLOOR_GB}GB"


def test_physical_memory_is_this_machines():
    total = run.physical_memory()
    assert total is not None and total > 256 * 1024**2
