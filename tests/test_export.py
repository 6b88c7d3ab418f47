"""Exports of the marts to Parquet, Tableau Hyper and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import logging
import math
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from customer_chunks.export import (
    ExportError,
    export_all,
    export_hyper,
    export_parquet,
    export_postgres,
    redact_url,
)

import conftest_services

pg_url = conftest_services.pg_url
pg_schema = conftest_services.pg_schema

SECRET = "s3cr3t-Pw_9"

MARTS_SQL = """
create schema marts;
create table marts.dim_customers (
    customer_id bigint,
    customer_name varchar,
    lifetime_value double,
    is_active boolean,
    first_order_date date,
    last_order_at timestamp,
    avg_basket decimal(10, 2),
    order_count integer
);
insert into marts.dim_customers values
    (1, 'Ada', 1234.5, true, '2023-01-02', '2024-03-04 05:06:07.123456', 12.34, 3),
    (2, 'Zoë "Z", Ünal', 0.1, false, '2020-02-29', '2024-12-31 23:59:59', 0.00, 1),
    (3, '', -7.25e10, null, null, null, null, null),
    (4, null, null, true, '1999-12-31', '2000-01-01 00:00:00', -5.5, 0),
    (5, 'line
break, and ''quotes''', 1e-9, false, '2024-07-01', '2024-07-01 12:00:00.5', 99999999.99, 7);
create table marts.segment_profiles as
    select
        range::integer as segment_id,
        'segment ' || range as segment_name,
        range / 7.0 as share_of_customers,
        (range * 1000)::bigint as n_customers,
        range % 2 = 0 as is_core
    from range(50);
create view marts.v_active_customers as
    select customer_id, customer_name from marts.dim_customers where is_active;
create table main.raw_orders as select 1 as order_id;
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(MARTS_SQL)
    con.close()
    return path


def _expected(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            name: con.execute(f"select * from marts.{name} order by 1").fetchall()
            for name in ("dim_customers", "segment_profiles", "v_active_customers")
        }
    finally:
        con.close()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float | Decimal):
        return math.isclose(a, float(b), rel_tol=1e-15, abs_tol=0.0)
    if isinstance(a, Decimal) and isinstance(b, float):
        return math.isclose(float(a), b, rel_tol=1e-15)
    return a == b


def _assert_rows_equal(expected: list[tuple], actual: list[tuple]) -> None:
    assert len(actual) == len(expected)
    for exp_row, act_row in zip(expected, actual, strict=True):
        assert len(exp_row) == len(act_row)
        for e, a in zip(exp_row, act_row, strict=True):
            assert _same(e, a), f"{e!r} != {a!r} in row {exp_row!r}"


# --------------------------------------------------------------------------- Parquet


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "customer_chunks.export"]


def test_parquet_round_trip(warehouse: Path, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="customer_chunks.export")
    out = tmp_path / "parquet"
    files = export_parquet(warehouse, out)
    lines = _lines(caplog)

    assert [f.name for f in files] == [
        "dim_customers.parquet",
        "segment_profiles.parquet",
        "v_active_customers.parquet",
    ]
    assert sorted(p.name for p in out.iterdir()) == [f.name for f in files]  # no partials
    expected = _expected(warehouse)
    con = duckdb.connect()
    for name, rows in expected.items():
        back = con.execute(f"select * from read_parquet('{out / name}.parquet') order by 1")
        _assert_rows_equal(rows, back.fetchall())
    types = dict(
        con.execute(
            f"select column_name, column_type from (describe select * from "
            f"read_parquet('{out}/dim_customers.parquet'))"
        ).fetchall()
    )
    assert types["last_order_at"] == "TIMESTAMP"
    assert types["avg_basket"] == "DECIMAL(10,2)"
    assert len(lines) == 3
    assert lines[0].startswith("marts.dim_customers -> parquet: 5 rows in ")


def test_missing_warehouse_and_missing_marts(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"warehouse .*nope.duckdb not found"):
        export_parquet(tmp_path / "nope.duckdb", tmp_path / "out")

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).execute("create table main.t as select 1 as x").close()
    with pytest.raises(ExportError, match="no tables in schema 'marts'"):
        export_hyper(empty, tmp_path / "x.hyper")
    assert not (tmp_path / "out").exists()


def test_warehouse_file_named_after_a_schema(warehouse: Path, tmp_path: Path) -> None:
    # DuckDB names the catalog after the file: marts.duckdb used to make every
    # "marts.<table>" reference ambiguous.
    named = warehouse.rename(tmp_path / "marts.duckdb")
    files = export_all(named, "parquet", out=tmp_path / "out")
    assert [f.name for f in files] == [
        "dim_customers.parquet",
        "segment_profiles.parquet",
        "v_active_customers.parquet",
    ]
    rows = duckdb.connect().execute(f"select count(*) from '{tmp_path}/out/dim_customers.parquet'")
    assert rows.fetchone()[0] == 5


def test_export_all_rejects_unknown_target(warehouse: Path) -> None:
    with pytest.raises(ExportError, match="unknown target 'excel'"):
        export_all(warehouse, "excel")


# --------------------------------------------------------------------------- Hyper


def _hyper_value(value: object) -> object:
    for attr in ("to_datetime", "to_date"):
        if hasattr(value, attr):
            return getattr(value, attr)()
    return value


def test_hyper_round_trip(warehouse: Path, tmp_path: Path, monkeypatch, caplog) -> None:
    hyperapi = pytest.importorskip("tableauhyperapi")
    caplog.set_level(logging.INFO, logger="customer_chunks.export")
    monkeypatch.chdir(tmp_path)  # hyperd.log must not land in the working directory
    target = tmp_path / "extract" / "customer_chunks.hyper"
    counts = export_hyper(warehouse, target)
    lines = _lines(caplog)

    expected = _expected(warehouse)
    assert counts == {name: len(rows) for name, rows in expected.items()}
    assert len(lines) == 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["customer_chunks.hyper"]
    assert not list(tmp_path.glob("hyperd*.log"))

    with (
        hyperapi.HyperProcess(
            hyperapi.Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
            parameters={"log_dir": str(tmp_path)},
        ) as hyper,
        hyperapi.Connection(hyper.endpoint, str(target)) as con,
    ):
        tables = sorted(t.name.unescaped for t in con.catalog.get_table_names("Extract"))
        assert tables == sorted(expected)
        definition = con.catalog.get_table_definition(
            hyperapi.TableName("Extract", "dim_customers")
        )
        types = {str(c.name.unescaped): str(c.type) for c in definition.columns}
        assert types == {
            "customer_id": "BIG_INT",
            "customer_name": "TEXT",
            "lifetime_value": "DOUBLE",
            "is_active": "BOOL",
            "first_order_date": "DATE",
            "last_order_at": "TIMESTAMP",
            "avg_basket": "NUMERIC(10, 2)",
            "order_count": "INT",
        }
        for name, rows in expected.items():
            back = con.execute_list_query(f'select * from "Extract"."{name}" order by 1')
            _assert_rows_equal(rows, [tuple(_hyper_value(v) for v in row) for row in back])


def test_hyperd_that_never_starts_is_stopped(warehouse: Path, tmp_path: Path) -> None:
    pytest.importorskip("tableauhyperapi")
    pytest.importorskip("psutil")
    fake = tmp_path / "fake-hyper"
    fake.mkdir()
    # a "hyperd" that never calls back: without a timeout HyperProcess waits for ever
    (fake / "hyperd").write_text(f"#!{sys.executable}\nimport time\ntime.sleep(120)\n")
    (fake / "hyperd").chmod(0o755)
    target = tmp_path / "x.hyper"
    with pytest.raises(ExportError) as failure:
        export_hyper(warehouse, target, start_timeout=3, hyperd_dir=fake, log_dir=tmp_path / "l")
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("export to hyper: hyperd did not start within 3 s and was stopped")
    assert "Fix: " in message
    assert not target.exists()
    import psutil

    stuck = [p for p in psutil.Process().children(recursive=True) if "hyperd" in p.name()]
    assert stuck == []


# --------------------------------------------------------------------------- PostgreSQL


def _pg_rows(url: str, schema: str) -> dict[str, list[tuple]]:
    import psycopg

    with psycopg.connect(url) as con:
        return {
            name: con.execute(f'select * from "{schema}"."{name}" order by 1').fetchall()
            for name in ("dim_customers", "segment_profiles", "v_active_customers")
        }


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user.split(':')[0]}:{password}@{host}"


def test_postgres_publish_replace_and_rollback(
    warehouse: Path, pg_url: str, pg_schema: str, caplog
) -> None:
    import psycopg

    caplog.set_level(logging.INFO, logger="customer_chunks.export")
    url = _with_password(pg_url, SECRET)  # trust auth ignores it; it must never be shown
    counts = export_postgres(warehouse, url, pg_schema)
    expected = _expected(warehouse)
    assert counts == {name: len(rows) for name, rows in expected.items()}
    for name, rows in _pg_rows(pg_url, pg_schema).items():
        _assert_rows_equal(expected[name], rows)

    # Second publish replaces the tables (fewer rows now), no duplicates, no staging left.
    con = duckdb.connect(str(warehouse))
    con.execute("delete from marts.segment_profiles where segment_id >= 10")
    con.close()
    counts = export_postgres(warehouse, url, pg_schema)
    assert counts["segment_profiles"] == 10
    published = _pg_rows(pg_url, pg_schema)
    _assert_rows_equal(_expected(warehouse)["segment_profiles"], published["segment_profiles"])

    # A failing publish (PostgreSQL rejects NUL in text) changes nothing at all.
    con = duckdb.connect(str(warehouse))
    con.execute("create table marts.zz_bad as select 'a' || chr(0) || 'b' as txt")
    con.execute("delete from marts.dim_customers where customer_id > 1")
    con.close()
    with pytest.raises(ExportError, match="rolled back at marts.zz_bad") as failure:
        export_postgres(warehouse, url, pg_schema)
    assert _pg_rows(pg_url, pg_schema) == published
    with psycopg.connect(pg_url) as pg:
        tables = pg.execute(
            "select table_name from information_schema.tables where table_schema = %s order by 1",
            [pg_schema],
        ).fetchall()
    assert [t[0] for t in tables] == sorted(expected)

    logged = "\n".join(_lines(caplog)) + str(failure.value)
    assert "marts.dim_customers -> postgres" in logged
    assert "***" in logged
    assert SECRET not in logged


def test_postgres_unreachable_error_is_redacted(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    pytest.importorskip("psycopg")
    caplog.set_level(logging.INFO, logger="customer_chunks.export")
    monkeypatch.setenv("PGPASSWORD", SECRET)
    url = f"postgresql://bob:{SECRET}@127.0.0.1:1/db?sslmode=disable"
    with pytest.raises(ExportError) as failure:
        export_postgres(warehouse, url)
    lines = _lines(caplog)
    message = str(failure.value)
    assert "cannot connect to postgresql://bob:***@127.0.0.1:1/db" in message
    assert SECRET not in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert lines == []

    # Credentials only from the environment: the message names them without values.
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "1")
    with pytest.raises(ExportError, match="PG\\* environment variables") as failure:
        export_postgres(warehouse, None)
    assert SECRET not in str(failure.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgres://u@h/db?password=pw&sslmode=require",
            "postgres://u@h/db?password=***&sslmode=require",
        ),
        ("host=h password='p w' user=u", "host=h password=*** user=u"),
        ("host=h user=u", "host=h user=u"),
    ],
)
def test_redact_url(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_timestamp_values_are_naive(warehouse: Path, tmp_path: Path) -> None:
    # Guards the DuckDB -> Parquet -> reader path against a silent time-zone shift.
    export_parquet(warehouse, tmp_path)
    value = (
        duckdb.connect()
        .execute(
            f"select last_order_at from read_parquet('{tmp_path}/dim_customers.parquet') "
            "where customer_id = 1"
        )
        .fetchone()[0]
    )
    assert value == dt.datetime(2024, 3, 4, 5, 6, 7, 123456)
