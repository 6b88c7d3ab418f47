"""The DuckDB memory_limit the CLI gives dbt when CUSTOMER_CHUNKS_MEMORY is not set:
half of the machine's memory in whole GB, never below 1GB (customer_chunks.run); and the
lower limit the dbt Python models run with (macros/python_model_memory.sql)."""

from __future__ import annotations

import os
import subprocess

import duckdb
import pytest
import yaml

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


# The dbt Python models run with a lower DuckDB memory_limit (pre-hook
# python_model_memory_limit, post-hook python_model_memory_restore; dbt_project.yml).


def _compile_inline(tmp_path, memory: str, sql: str) -> subprocess.CompletedProcess:
    """`dbt compile --inline` of this project with CUSTOMER_CHUNKS_MEMORY=memory."""
    from customer_chunks import engines

    env = {
        **os.environ,
        "CUSTOMER_CHUNKS_MEMORY": memory,
        "CUSTOMER_CHUNKS_DB": str(tmp_path / "compile.duckdb"),
    }
    command = engines.dbt_command(
        "compile",
        "--inline",
        sql,
        "--target-path",
        str(tmp_path / "target"),
        "--log-path",
        str(tmp_path / "logs"),
    )
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_python_models_get_a_share_of_duckdbs_memory_and_it_is_restored(tmp_path):
    hooks = (
        "<{{ customer_chunks.python_model_memory_limit() }}>"
        "<{{ customer_chunks.python_model_memory_restore() }}>"
        "<{{ customer_chunks.memory_bytes('1.5GiB') }}>"
        "<{{ customer_chunks.memory_bytes('500 MB') }}>"
    )
    share = yaml.safe_load((run.project_dir() / "dbt_project.yml").read_text())["vars"][
        "ml_duckdb_memory_share"
    ]
    done = _compile_inline(tmp_path, "12GB", hooks)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = f"<set memory_limit = '{int(12e9 * share)}B'><set memory_limit = '12GB'>"
    assert expected + "<1610612736><500000000>" in done.stdout
    # DuckDB reads the lowered value as the same size
    with duckdb.connect() as con:
        con.execute(f"set memory_limit = '{int(12e9 * share)}B'")
        lowered = con.sql("select current_setting('memory_limit')").fetchone()[0]
        con.execute(f"set memory_limit = '{12e9 * share / 1e9}GB'")
        assert con.sql("select current_setting('memory_limit')").fetchone()[0] == lowered
    # never below 1GB, never above the profile's own limit
    done = _compile_inline(tmp_path, "700MB", hooks)
    assert "<set memory_limit = '700000000B'><set memory_limit = '700MB'>" in done.stdout
    done = _compile_inline(tmp_path, "2GB", hooks)
    assert "<set memory_limit = '1000000000B'><set memory_limit = '2GB'>" in done.stdout


def test_a_memory_limit_duckdb_cannot_read_names_the_setting(tmp_path):
    done = _compile_inline(tmp_path, "lots", "{{ customer_chunks.python_model_memory_limit() }}")
    assert done.returncode != 0
    assert 'memory_limit "lots" is not a DuckDB memory size' in done.stdout
    assert "CUSTOMER_CHUNKS_MEMORY" in done.stdout
