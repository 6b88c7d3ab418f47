"""Rows read = staged + quarantined for every kind of source (issue 14 item 7).

One warehouse whose four tables come from four different kinds of file, each with
rows that must be quarantined (and, for the text layouts, a malformed line): Parquet
transactions, JSON-lines customers, whitespace-aligned web events and fixed-width
engagement events. The database and mongoexport kinds are checked the same way in
test_sources_postgres.py and test_sources_mongo.py.
"""

from __future__ import annotations

import duckdb
import pytest

from customer_chunks import sources
from customer_chunks.load import load_all
from customer_chunks.run import dbt_build

from support import query

pytestmark = pytest.mark.e2e

SPEC = """
tables:
  transactions:
    path: orders.parquet
    columns: {order_id: id, customer_id: who, ordered_at: placed, amount: eur}
  customers:
    path: people.jsonl
    columns: {customer_id: id, birth_year: born, country: land}
  web_events:
    path: clicks.txt
    options: {delimiter: whitespace, header: false, names: [who, what, day],
              timestamp_format: "%Y%m%d"}
    columns: {customer_id: who, event_type: what, occurred_at: day}
  engagement_events:
    path: mails.dat
    options: {widths: [4, 8, 10], header: false, names: [who, what, day],
              timestamp_format: "%Y%m%d"}
    columns: {customer_id: who, event_type: what, occurred_at: day}
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    con = duckdb.connect()
    con.execute(
        f"""copy (select * from (values
            (1, 'c1', timestamp '2024-01-02 10:00:00', 10.0),
            (2, 'c2', timestamp '2024-01-03 10:00:00', 20.0),
            (3, null, timestamp '2024-01-04 10:00:00', 5.0),
            (4, 'c1', null, 7.5),
            (5, 'c2', timestamp '2024-01-05 10:00:00', null)
        ) t(id, who, placed, eur)) to '{folder / "orders.parquet"}' (format parquet)"""
    )
    con.close()
    (folder / "people.jsonl").write_text(
        '{"id": "c1", "born": 1980, "land": "FR"}\n'
        '{"id": "c2", "born": "nineteen", "land": "DE"}\n'
        '{"id": "c1", "born": 1980, "land": "FR"}\n'  # a repeated customer row
        '{"id": "c3", "born": 1990, "land": "IT"}\n'
    )
    (folder / "clicks.txt").write_text(
        " c1   page_view    20240102\n"
        " c2   add_to_cart  20240103\n"
        " c3   page_view\n"  # a field short: malformed
        " c1   page_view    2024-13-45\n"  # not a date
    )
    (folder / "mails.dat").write_text(
        "c1  open    20240102  \n"
        "c2  click   20240103  \n"
        "    click   20240104  \n"  # no customer
        "c3  open    20240105  and more\n"  # past the last width: malformed
    )
    (folder / "s.yml").write_text(SPEC)
    path = folder / "w.duckdb"
    load_all(path, sources.from_source_file(folder / "s.yml"), log=lambda m: None)
    dbt_build(path, {}, select="+row_accounting +quarantined_rows")
    return path


def test_every_kind_balances(warehouse):
    acc = query(warehouse, "select * from marts.row_accounting").set_index("table_name")
    assert acc.rows_read.to_dict() == {
        "transactions": 5,
        "customers": 4,
        "web_events": 4,
        "engagement_events": 4,
        "customer_features": 0,  # not given: order lines are
    }
    assert (acc.rows_read == acc.rows_staged + acc.rows_quarantined).all()
    assert acc.is_balanced.all()


def test_each_kind_quarantines_with_a_reason(warehouse):
    got = query(
        warehouse,
        "select table_name, quarantine_reason, count(*) as n from marts.quarantined_rows "
        "group by all order by all",
    )
    reasons = {(t, r): n for t, r, n in got.itertuples(index=False)}
    assert reasons == {
        ("customers", "duplicate"): 1,
        ("customers", "unparseable_birth_year"): 1,
        ("engagement_events", "malformed_line"): 1,
        ("engagement_events", "missing_customer_id"): 1,
        ("transactions", "missing_amount"): 1,
        ("transactions", "missing_customer_id"): 1,
        ("transactions", "missing_timestamp"): 1,
        ("web_events", "malformed_line"): 1,
        ("web_events", "unparseable_timestamp"): 1,
    }
