"""The loader keeps every row: typed reading for expressions, formats, malformed lines."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from customer_chunks import sources
from customer_chunks.load import load_all


def load(
    tmp_path: Path, spec_text: str, files: dict[str, str]
) -> tuple[dict, duckdb.DuckDBPyConnection]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    spec = tmp_path / "source.yml"
    spec.write_text(spec_text)
    summary = load_all(tmp_path / "w.duckdb", sources.from_source_file(spec), log=lambda m: None)
    return summary, duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)


def test_expression_sees_numbers_and_plain_columns_keep_text(tmp_path):
    summary, con = load(
        tmp_path,
        """
tables:
  transactions:
    path: sales.csv
    columns:
      customer_id: "cast(client as bigint)"
      ordered_at: day
      order_id: ticket
      amount: "dollar_value / number_of_cds"
""",
        {
            "sales.csv": "client,day,ticket,dollar_value,number_of_cds\n17850.0,2024-01-02,007,30,4\n12.0,2024-01-03,008,9,3\n"
        },
    )
    rows = con.sql(
        "select customer_id, order_id, amount from raw.transactions order by _row_id"
    ).fetchall()
    assert rows == [("17850", "007", 7.5), ("12", "008", 3.0)] or rows == [
        (17850, "007", 7.5),
        (12, "008", 3.0),
    ]
    assert summary["transactions"]["rows"] == 2


def test_timestamp_format_is_applied_and_failures_keep_their_text(tmp_path):
    _, con = load(
        tmp_path,
        """
tables:
  transactions:
    path: t.csv
    options: {delimiter: ";", timestamp_format: "%d/%m/%Y %H:%M"}
    columns: {customer_id: c, ordered_at: t, amount: a}
""",
        {
            "t.csv": "c;t;a\nx;31/12/2024 10:30;5\ny;31/12/2024 11:00;6\nz;31/12/2024 12:00;7\nw;garbage;1\n"
        },
    )
    got = [
        r[0] for r in con.sql("select ordered_at from raw.transactions order by _row_id").fetchall()
    ]
    assert got[:3] == ["2024-12-31 10:30:00", "2024-12-31 11:00:00", "2024-12-31 12:00:00"]
    assert got[3] == "garbage"  # left as written so staging quarantines it with its value


def test_malformed_csv_lines_are_kept_not_dropped(tmp_path):
    summary, con = load(
        tmp_path,
        "tables:\n  transactions:\n    path: t.csv\n    columns: {customer_id: c, ordered_at: t, amount: a}\n",
        {"t.csv": "c,t,a\nx,2024-01-01,5\ny,2024-01-02,6,EXTRA,FIELDS\nz,2024-01-03,7\n"},
    )
    assert summary["transactions"]["rows"] == 2
    assert summary["transactions"]["rejected"] == 1
    (line,) = con.sql("select line from raw.rejected_lines").fetchone()
    assert "EXTRA" in line


def test_derived_distinct_table_and_missing_optional_tables(tmp_path):
    summary, con = load(
        tmp_path,
        """
tables:
  transactions:
    path: t.csv
    columns: {customer_id: c, ordered_at: t, amount: a}
  customers:
    from: transactions
    distinct: true
    columns: {customer_id: c, country: k}
""",
        {"t.csv": "c,t,a,k\nx,2024-01-01,5,UK\nx,2024-01-02,6,UK\ny,2024-01-03,7,FR\n"},
    )
    assert summary["customers"]["rows"] == 2
    assert summary["web_events"] == {"provided": False, "rows": 0, "rejected": 0, "notes": []}
    provided = dict(con.sql("select table_name, is_provided from raw.load_manifest").fetchall())
    assert provided == {
        "transactions": True,
        "customers": True,
        "web_events": False,
        "engagement_events": False,
        "customer_features": False,
    }
    assert con.sql("select count(*) from raw.web_events").fetchone()[0] == 0


def test_parquet_files_become_a_view_numbered_across_files(tmp_path):
    con = duckdb.connect()
    for i, (a, b) in enumerate([(0, 3), (3, 5)]):
        con.execute(
            f"copy (select 'c' || x as cust, timestamp '2024-01-01' + to_days(cast(x as integer)) as ts, x * 1.5 as amt "
            f"from range({a}, {b}) as r(x)) to '{tmp_path}/part{i}.parquet' (format parquet)"
        )
    spec = tmp_path / "s.yml"
    spec.write_text(
        "tables:\n  transactions:\n    path: part*.parquet\n    columns: {customer_id: cust, ordered_at: ts, amount: amt}\n"
    )
    summary = load_all(tmp_path / "w.duckdb", sources.from_source_file(spec), log=lambda m: None)
    assert summary["transactions"]["rows"] == 5
    wh = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    kind = wh.sql(
        "select table_type from information_schema.tables where table_schema = 'raw' and table_name = 'transactions'"
    ).fetchone()[0]
    assert kind == "VIEW"
    rows = wh.sql(
        "select _row_id, customer_id, amount from raw.transactions order by _row_id"
    ).fetchall()
    assert rows == [(i + 1, f"c{i}", i * 1.5) for i in range(5)]


def _typed_and_text_parquet(tmp_path: Path, ordered_at_sql: str) -> Path:
    """transactions.parquet with typed quantity/unit_price, a text amount column and an
    ordered_at column built by ``ordered_at_sql`` (over x = 0..9)."""
    duckdb.connect().execute(
        f"copy (select 'c' || x as customer_id, {ordered_at_sql} as ordered_at, "
        "cast(x as bigint) as quantity, x * 1.5 as unit_price, "
        "case when x = 9 then 'n/a' else cast(x * 2 as varchar) end as amount "
        f"from range(10) as r(x)) to '{tmp_path}/transactions.parquet' (format parquet)"
    )
    return tmp_path


def test_typed_parquet_columns_are_not_scanned_text_columns_are(tmp_path):
    from customer_chunks.load import columns_to_check

    data = _typed_and_text_parquet(tmp_path, "timestamp '2024-01-01' + to_days(cast(x as integer))")
    summary = load_all(tmp_path / "w.duckdb", sources.from_data_dir(data), log=lambda m: None)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    mapping = {c: c for c in ("customer_id", "ordered_at", "quantity", "unit_price", "amount")}
    # TIMESTAMP, BIGINT and DOUBLE cannot fail to cast; the text amount column can
    assert [c.name for c in columns_to_check(con, "transactions", mapping)] == ["amount"]
    assert summary["transactions"]["notes"] == [
        "transactions.amount: 1 of 10 values are not numbers (e.g. 'n/a'); "
        "those rows are quarantined"
    ]


def test_text_timestamps_in_parquet_are_still_checked(tmp_path):
    from customer_chunks.errors import InputError

    data = _typed_and_text_parquet(tmp_path, "'31/12/2024 10:0' || x")
    with pytest.raises(InputError) as caught:
        load_all(tmp_path / "w.duckdb", sources.from_data_dir(data), log=lambda m: None)
    message = str(caught.value)
    assert "ordered_at" in message and "31/12/2024 10:0" in message
    assert "timestamp_format" in message


def test_text_timestamps_with_offsets_are_converted_to_utc_in_parquet_too(tmp_path):
    data = _typed_and_text_parquet(
        tmp_path, "'2025-06-01 23:30:00+0' || (x % 6) || ':00'"
    )  # +00:00 .. +05:00
    load_all(tmp_path / "w.duckdb", sources.from_data_dir(data), log=lambda m: None)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    got = con.sql("select ordered_at from raw.transactions order by _row_id").fetchall()
    assert got[0] == ("2025-06-01 23:30:00.000000",)
    assert got[5] == ("2025-06-01 18:30:00.000000",)


def test_a_source_file_timezone_is_where_offsets_are_converted_to(tmp_path):
    _, con = load(
        tmp_path,
        """
tables:
  transactions:
    path: t.csv
    options: {timezone: America/New_York}
    columns: {customer_id: c, ordered_at: t, amount: a}
""",
        {"t.csv": "c,t,a\nx,2025-06-01T12:00:00Z,5\ny,2025-06-01 12:00:00,6\n"},
    )
    got = [
        r[0] for r in con.sql("select ordered_at from raw.transactions order by _row_id").fetchall()
    ]
    # UTC noon is 08:00 in New York (EDT); a time without a zone is left as written
    assert got == ["2025-06-01 08:00:00.000000", "2025-06-01 12:00:00"]
