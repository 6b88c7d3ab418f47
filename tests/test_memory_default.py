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


def test_a_short_disk_is_warned_about_before_the_build(tmp_path, monkeypatch, caplog):
    from collections import namedtuple
    from types import SimpleNamespace

    data = tmp_path / "transactions.parquet"
    data.write_bytes(b"x" * 1000)
    sources = [SimpleNamespace(paths=[data])]
    assert run.build_disk_estimate(sources) == int(1000 * run.BUILD_DISK_PER_INPUT_BYTE)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(run.shutil, "disk_usage", lambda _: usage(10**6, 0, 500))
    with caplog.at_level("WARNING", logger="customer_chunks.run"):
        run.warn_if_disk_is_short(sources, tmp_path)
    assert "CUSTOMER_CHUNKS_MEMORY" in caplog.text and "may need about" in caplog.text
    caplog.clear()
    monkeypatch.setattr(run.shutil, "disk_usage", lambda _: usage(10**9, 0, 10**8))
    run.warn_if_disk_is_short(sources, tmp_path)
    assert caplog.text == ""
