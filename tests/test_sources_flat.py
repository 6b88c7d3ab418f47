"""Flat files as they come (issue 14 item 3): whitespace-aligned text, fixed-width
columns, files with no header and date-only timestamps such as YYYYMMDD.

The loader tests read the raw tables; the CDNOW test runs the real whitespace-aligned
export through dbt and checks the published figures (SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from customer_chunks import sources
from customer_chunks.cli import main
from customer_chunks.load import load_all
from customer_chunks.run import dbt_build

from support import ROOT, SHARED_DATA, load_error, query

CDNOW = SHARED_DATA / "cdnow_sample" / "CDNOW_sample.txt"


def load(tmp_path: Path, spec_text: str, files: dict[str, str | bytes]):
    for name, text in files.items():
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", newline="")
    spec = tmp_path / "s.yml"
    spec.write_text(spec_text)
    summary = load_all(tmp_path / "w.duckdb", sources.from_source_file(spec), log=lambda m: None)
    return summary, duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)


WHITESPACE_SPEC = """
tables:
  transactions:
    path: t.txt
    options:
      delimiter: whitespace
      header: false
      names: [master, customer, day, cds, dollars]
      timestamp_format: "%Y%m%d"
    columns: {customer_id: customer, ordered_at: day, quantity: cds, amount: dollars}
"""


def test_whitespace_aligned_file_without_header(tmp_path):
    text = (
        " 00004 0001 19970101  2   29.33\r\n"
        " 00004 0001 19970118  2   29.73\r\n"
        "\r\n"  # a blank line is not a row
        " 00018 0002\t19970102  1   14.96\r\n"  # a tab counts as whitespace too
    )
    summary, con = load(tmp_path, WHITESPACE_SPEC, {"t.txt": text})
    rows = con.sql(
        "select _row_id, customer_id, ordered_at, quantity, amount "
        "from raw.transactions order by _row_id"
    ).fetchall()
    assert rows == [
        (1, "0001", "1997-01-01 00:00:00", "2", "29.33"),
        (2, "0001", "1997-01-18 00:00:00", "2", "29.73"),
        (3, "0002", "1997-01-02 00:00:00", "1", "14.96"),
    ]
    assert summary["transactions"]["rows"] == 3
    assert summary["transactions"]["rejected"] == 0


def test_a_whitespace_line_with_a_missing_field_is_kept_as_malformed(tmp_path):
    text = "".join(f" 1 {i} 1997010{1 + i % 8} 1 9.99\n" for i in range(10)) + " 1 x 19970101 1\n"
    summary, con = load(tmp_path, WHITESPACE_SPEC, {"t.txt": text})
    assert summary["transactions"] == {**summary["transactions"], "rows": 10, "rejected": 1}
    (line,) = con.sql("select line from raw.rejected_lines").fetchone()
    assert "19970101" in line and "x" in line


def test_whitespace_file_with_a_header_line(tmp_path):
    spec = """
tables:
  transactions:
    path: t.txt
    options: {delimiter: whitespace}
    columns: {customer_id: who, ordered_at: "when", amount: "euros * 2"}
"""
    text = 'who    when         euros\nc1     2024-01-02   1.5\n"c2"   2024-01-03   2\n'
    _, con = load(tmp_path, spec, {"t.txt": text})
    rows = con.sql("select customer_id, amount from raw.transactions order by _row_id").fetchall()
    # the expression sees numbers; a quote is an ordinary character in this layout
    assert rows == [("c1", 3.0), ('"c2"', 4.0)]


FIXED_SPEC = """
tables:
  transactions:
    path: t.dat
    options:
      widths: [4, 10, 8, 7]
      header: {header}
      {names}
      timestamp_format: "%Y%m%d"
    columns: {{customer_id: cust, ordered_at: day, product_id: sku, amount: amount}}
"""


@pytest.mark.parametrize("with_header", [True, False])
def test_fixed_width_columns(tmp_path, with_header):
    body = (
        "c1  SKU-1     20240105  12.50\n"
        "c22 SKU 2 B   20240106    3.0\n"  # a space inside a field stays in it
        "c3  SKU-3     20240107    1.0 extra text\n"  # beyond the widths: malformed
    )
    if with_header:
        text = "custsku       day     amount\n" + body
        spec = FIXED_SPEC.format(header="true", names="")
    else:
        text = body
        spec = FIXED_SPEC.format(header="false", names="names: [cust, sku, day, amount]")
    summary, con = load(tmp_path, spec, {"t.dat": text})
    rows = con.sql(
        "select customer_id, product_id, ordered_at, amount from raw.transactions order by _row_id"
    ).fetchall()
    assert rows == [
        ("c1", "SKU-1", "2024-01-05 00:00:00", "12.50"),
        ("c22", "SKU 2 B", "2024-01-06 00:00:00", "3.0"),
    ]
    assert summary["transactions"]["rejected"] == 1


def test_no_header_without_names_uses_column_numbers(tmp_path):
    spec = """
tables:
  transactions:
    path: t.csv
    options: {header: false, timestamp_format: "%Y%m%d"}
    columns: {customer_id: column0, ordered_at: column1, amount: column2}
"""
    _, con = load(tmp_path, spec, {"t.csv": "a,20240101,1\nb,20240102,2\n"})
    rows = con.sql("select customer_id, ordered_at from raw.transactions order by _row_id")
    assert rows.fetchall() == [("a", "2024-01-01 00:00:00"), ("b", "2024-01-02 00:00:00")]


def test_names_on_a_plain_csv_without_header(tmp_path):
    spec = """
tables:
  transactions:
    path: t.csv
    options: {header: false, names: [who, day, eur]}
    columns: {customer_id: who, ordered_at: day, amount: eur}
"""
    _, con = load(tmp_path, spec, {"t.csv": "a,2024-01-01,1\nb,2024-01-02,2\n"})
    assert con.sql("select count(*) from raw.transactions").fetchone()[0] == 2


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (
            "{delimiter: ',', widths: [1, 2]}",
            ("tables.transactions.options", "either delimiter or widths"),
        ),
        ("{names: [a, b]}", ("names are for a file without a header", "header: false")),
        (
            "{header: false, widths: [1, 2], names: [a]}",
            ("1 names for 2 widths",),
        ),
        ("{delimiter: tabs_and_more}", ("1 to 4 characters or 'whitespace'",)),
        ("{widths: [0, 2]}", ("options.widths.0",)),
    ],
)
def test_layout_mistakes_name_their_key(tmp_path, capsys, options, needles):
    (tmp_path / "t.txt").write_text("a 2024-01-01 1\n")
    err = load_error(
        tmp_path,
        capsys,
        "tables:\n  transactions:\n    path: t.txt\n"
        f"    options: {options}\n"
        "    columns: {customer_id: a, ordered_at: b, amount: c}\n",
    )
    for needle in needles:
        assert needle in err


@pytest.mark.e2e
@pytest.mark.shared_data
def test_cdnow_whitespace_export_loads_as_published(tmp_path):
    """The real whitespace-aligned export with the recommended mapping
    (examples/cdnow_whitespace.yml): every line staged, SOURCE.md's figures."""
    if not CDNOW.exists():
        pytest.skip(f"{CDNOW} is absent (the shared CDNOW sample); nothing to check")
    warehouse = tmp_path / "w.duckdb"
    summary = load_all(
        warehouse,
        sources.from_source_file(ROOT / "examples" / "cdnow_whitespace.yml"),
        log=lambda m: None,
    )
    assert summary["transactions"]["rows"] == 6_919
    assert summary["transactions"]["rejected"] == 0
    dbt_build(warehouse, {}, select="+row_accounting +quarantined_rows")
    staged = query(
        warehouse,
        "select count(*) as n, count(distinct customer_id) as customers, "
        "round(sum(line_amount), 2) as dollars, min(ordered_at) as first, max(ordered_at) as last "
        "from staging.stg_customer_data__transactions",
    ).iloc[0]
    assert staged.n == 6_919
    assert staged.customers == 2_357
    assert staged.dollars == 244_091.94
    assert str(staged["first"])[:10] == "1997-01-01" and str(staged["last"])[:10] == "1998-06-30"
    acc = query(warehouse, "select * from marts.row_accounting").set_index("table_name")
    assert acc.loc["transactions", "rows_read"] == 6_919
    assert acc.is_balanced.all()


def test_yyyymmdd_without_a_format_names_the_format_to_set(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("c1 19970101 1\nc2 19970102 2\n")
    (tmp_path / "s.yml").write_text(
        "tables:\n  transactions:\n    path: t.txt\n"
        "    options: {delimiter: whitespace, header: false, names: [a, b, c]}\n"
        "    columns: {customer_id: a, ordered_at: b, amount: c}\n"
    )
    code = main(["load", "--source", str(tmp_path / "s.yml"), "--warehouse", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "2 of 2 values are not timestamps (e.g. '19970101')" in err
    assert "timestamp_format (e.g. '%Y%m%d')" in err
