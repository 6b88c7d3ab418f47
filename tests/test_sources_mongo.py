"""MongoDB exports (issue 14 item 2): mongoexport JSON lines in relaxed and canonical
Extended JSON, mapped with the same source file, orders unnested into lines.

The files below are written as mongoexport writes them (``--jsonFormat=relaxed``, the
default, and ``--jsonFormat=canonical``): the same four documents per collection in
each mode. No MongoDB server runs here (see the README), so these files stand in for
the export of a real one.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from customer_chunks import sources
from customer_chunks.load import load_all

from support import staged_accounting

ORDERS = {
    "relaxed": [
        # $oid, $date as an ISO string, $numberDecimal, plain numbers, nested customer
        '{"_id":{"$oid":"65a0c0ffee0000000000a001"},"customer":{"id":"c1","email":"a@x.org"},'
        '"createdAt":{"$date":"2024-01-05T10:30:00.000Z"},"items":['
        '{"sku":"A-1","qty":2,"price":{"$numberDecimal":"9.95"}},'
        '{"sku":"B-2","qty":1,"price":{"$numberDecimal":"100.00"}}]}',
        # $date as $numberLong (relaxed mode writes it so outside 1970..9999, and
        # older exports always), a time-zone offset, a long quantity
        '{"_id":{"$oid":"65a0c0ffee0000000000a002"},"customer":{"id":"c2"},'
        '"createdAt":{"$date":{"$numberLong":"1704450600000"}},"items":['
        '{"sku":"A-1","qty":{"$numberLong":"3"},"price":{"$numberDecimal":"9.95"}}]}',
        # NaN price: quarantined as unparseable_price
        '{"_id":{"$oid":"65a0c0ffee0000000000a003"},"customer":{"id":"c3"},'
        '"createdAt":{"$date":"2024-01-06T08:00:00+02:00"},"items":['
        '{"sku":"C-3","qty":1,"price":{"$numberDouble":"NaN"}}]}',
        # an order with no line items: one row, quarantined (no amount), not dropped
        '{"_id":{"$oid":"65a0c0ffee0000000000a004"},"customer":{"id":"c1"},'
        '"createdAt":{"$date":"2024-01-07T00:00:00Z"},"items":[]}',
    ],
    "canonical": [
        '{"_id":{"$oid":"65a0c0ffee0000000000a001"},"customer":{"id":"c1","email":"a@x.org"},'
        '"createdAt":{"$date":{"$numberLong":"1704450600000"}},"items":['
        '{"sku":"A-1","qty":{"$numberInt":"2"},"price":{"$numberDecimal":"9.95"}},'
        '{"sku":"B-2","qty":{"$numberInt":"1"},"price":{"$numberDecimal":"100.00"}}]}',
        '{"_id":{"$oid":"65a0c0ffee0000000000a002"},"customer":{"id":"c2"},'
        '"createdAt":{"$date":{"$numberLong":"1704450600000"}},"items":['
        '{"sku":"A-1","qty":{"$numberLong":"3"},"price":{"$numberDecimal":"9.95"}}]}',
        '{"_id":{"$oid":"65a0c0ffee0000000000a003"},"customer":{"id":"c3"},'
        '"createdAt":{"$date":{"$numberLong":"1704520800000"}},"items":['
        '{"sku":"C-3","qty":{"$numberInt":"1"},"price":{"$numberDouble":"NaN"}}]}',
        '{"_id":{"$oid":"65a0c0ffee0000000000a004"},"customer":{"id":"c1"},'
        '"createdAt":{"$date":{"$numberLong":"1704585600000"}},"items":[]}',
    ],
}
CUSTOMERS = {
    "relaxed": [
        '{"_id":"c1","signup":{"$date":"2023-03-01T12:00:00Z"},"born":1980,"addr":{"country":"FR"}}',
        '{"_id":"c2","signup":{"$date":"2023-04-01T00:00:00Z"},"born":{"$numberLong":"1991"}}',
        '{"_id":"c3","signup":null,"born":1975.0,"addr":{"country":"DE"}}',
    ],
    "canonical": [
        '{"_id":"c1","signup":{"$date":{"$numberLong":"1677672000000"}},"born":{"$numberInt":"1980"},"addr":{"country":"FR"}}',
        '{"_id":"c2","signup":{"$date":{"$numberLong":"1680307200000"}},"born":{"$numberLong":"1991"}}',
        '{"_id":"c3","signup":null,"born":{"$numberDouble":"1975.0"},"addr":{"country":"DE"}}',
    ],
}
EVENTS = {
    "relaxed": [
        '{"_id":{"$oid":"65a0c0ffee0000000000e001"},"uid":"c1","type":"page_view",'
        '"at":{"$date":"2024-01-04T09:00:00Z"},"session":{"id":{"$numberLong":"77"}}}',
        '{"_id":{"$oid":"65a0c0ffee0000000000e002"},"uid":"c2","type":"add_to_cart",'
        '"at":{"$date":"2024-01-04T09:05:00.250Z"}}',
    ],
    "canonical": [
        '{"_id":{"$oid":"65a0c0ffee0000000000e001"},"uid":"c1","type":"page_view",'
        '"at":{"$date":{"$numberLong":"1704358800000"}},"session":{"id":{"$numberLong":"77"}}}',
        '{"_id":{"$oid":"65a0c0ffee0000000000e002"},"uid":"c2","type":"add_to_cart",'
        '"at":{"$date":{"$numberLong":"1704359100250"}}}',
    ],
}

SPEC = """
tables:
  transactions:
    path: orders.json
    format: mongodb
    options: {unnest: items}
    columns:
      order_id: _id
      customer_id: customer.id
      ordered_at: createdAt
      product_id: items.sku
      quantity: items.qty
      unit_price: items.price
  customers:
    path: customers.json
    format: mongodb
    columns: {customer_id: _id, signed_up_at: signup, birth_year: "cast(born as integer)", country: addr.country}
  web_events:
    path: events.json
    format: mongodb
    columns: {customer_id: uid, session_id: session.id, event_type: type, occurred_at: at}
"""


def write_export(folder: Path, mode: str, extra_order_lines: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.json").write_text("\n".join([*ORDERS[mode], *extra_order_lines]) + "\n")
    (folder / "customers.json").write_text("\n".join(CUSTOMERS[mode]) + "\n")
    (folder / "events.json").write_text("\n".join(EVENTS[mode]) + "\n")
    (folder / "s.yml").write_text(SPEC)
    return folder / "s.yml"


def load_mode(tmp_path: Path, mode: str) -> tuple[dict, duckdb.DuckDBPyConnection]:
    spec = write_export(tmp_path / mode, mode)
    summary = load_all(
        tmp_path / mode / "w.duckdb", sources.from_source_file(spec), log=lambda m: None
    )
    return summary, duckdb.connect(str(tmp_path / mode / "w.duckdb"), read_only=True)


@pytest.mark.parametrize("mode", ["relaxed", "canonical"])
def test_orders_are_unnested_into_lines(tmp_path, mode):
    summary, con = load_mode(tmp_path, mode)
    rows = con.sql(
        "select order_id, customer_id, ordered_at, product_id, quantity, unit_price "
        "from raw.transactions order by _row_id"
    ).fetchall()
    assert rows == [
        ("65a0c0ffee0000000000a001", "c1", "2024-01-05 10:30:00", "A-1", "2", "9.95"),
        ("65a0c0ffee0000000000a001", "c1", "2024-01-05 10:30:00", "B-2", "1", "100.00"),
        ("65a0c0ffee0000000000a002", "c2", "2024-01-05 10:30:00", "A-1", "3", "9.95"),
        ("65a0c0ffee0000000000a003", "c3", "2024-01-06 06:00:00", "C-3", "1", "NaN"),
        ("65a0c0ffee0000000000a004", "c1", "2024-01-07 00:00:00", None, None, None),
    ]
    assert summary["transactions"]["rows"] == 5
    assert summary["transactions"]["rejected"] == 0


@pytest.mark.parametrize("mode", ["relaxed", "canonical"])
def test_customers_and_events_from_exports(tmp_path, mode):
    _, con = load_mode(tmp_path, mode)
    customers = con.sql(
        "select customer_id, signed_up_at, birth_year, country from raw.customers order by _row_id"
    ).fetchall()
    assert customers == [
        ("c1", "2023-03-01 12:00:00", 1980, "FR"),
        ("c2", "2023-04-01 00:00:00", 1991, None),
        ("c3", None, 1975, "DE"),
    ]
    events = con.sql(
        "select customer_id, session_id, event_type, occurred_at from raw.web_events "
        "order by _row_id"
    ).fetchall()
    assert events == [
        ("c1", "77", "page_view", "2024-01-04 09:00:00"),
        ("c2", None, "add_to_cart", "2024-01-04 09:05:00.250"),
    ]


def test_relaxed_and_canonical_exports_load_the_same_rows(tmp_path):
    tables = ("transactions", "customers", "web_events")
    loaded = {}
    for mode in ("relaxed", "canonical"):
        _, con = load_mode(tmp_path, mode)
        loaded[mode] = {
            t: con.sql(f"select * from raw.{t} order by _row_id").fetchall() for t in tables
        }
        con.close()
    assert loaded["relaxed"] == loaded["canonical"]


def test_a_line_that_is_not_a_document_is_kept_as_malformed(tmp_path):
    spec = write_export(
        tmp_path, "relaxed", ('{"_id": {"$oid": "nothex"}, "customer": {"id": "c9"}}', "[1, 2]")
    )
    summary = load_all(tmp_path / "w.duckdb", sources.from_source_file(spec), log=lambda m: None)
    assert summary["transactions"]["rows"] == 5
    assert summary["transactions"]["rejected"] == 2
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    errors = con.sql("select line_number, error from raw.rejected_lines order by 1").fetchall()
    assert [n for n, _ in errors] == [5, 6]
    assert "not an Extended JSON document" in errors[0][1]
    assert "not a JSON object" in errors[1][1]


def test_a_mistyped_field_name_names_the_fields_found(tmp_path, capsys):
    from customer_chunks.cli import main

    spec = write_export(tmp_path, "relaxed")
    spec.write_text(SPEC.replace("customer_id: customer.id", "customer_id: customer.idd"))
    code = main(["load", "--source", str(spec), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "'customer.idd'" in err and "customer.id" in err and "Fix: correct the column map" in err


@pytest.mark.e2e
def test_rows_read_equal_staged_plus_quarantined_for_exports(tmp_path):
    spec = write_export(tmp_path, "canonical", ("not json at all",))
    acc, reasons = staged_accounting(tmp_path / "w.duckdb", spec)
    assert acc.loc["transactions", "rows_read"] == 6  # 5 lines from 4 orders + 1 bad line
    assert acc.loc["customers", "rows_read"] == 3
    assert acc.loc["web_events", "rows_read"] == 2
    assert (acc.rows_read == acc.rows_staged + acc.rows_quarantined).all()
    assert reasons == ["malformed_line", "missing_amount", "unparseable_price"]


def test_customers_from_the_orders_export(tmp_path):
    """`from:` reuses the export: one customer row per distinct mapped combination."""
    spec = write_export(tmp_path, "relaxed")
    spec.write_text(
        SPEC.split("  customers:")[0]
        + "  customers:\n    from: transactions\n    distinct: true\n"
        + "    columns: {customer_id: customer.id}\n"
    )
    summary = load_all(tmp_path / "w.duckdb", sources.from_source_file(spec), log=lambda m: None)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    ids = con.sql("select customer_id from raw.customers order by _row_id").fetchall()
    assert ids == [("c1",), ("c2",), ("c3",)]
    assert summary["transactions"]["rows"] == 5
