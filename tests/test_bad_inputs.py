"""A corpus of hostile-but-realistic inputs (issue 13).

Each case either stops `customer-chunks load` with one line naming the file, the key or
column, and the fix, or ends in the warehouse: staged, or quarantined with a reason.
Rows read = staged + quarantined holds for every table.

The error cases run the CLI's load step only (no dbt). The row-level cases share one
source file whose lines each carry their case name as customer id, so a single dbt
build of the staging and accounting models checks all of them.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from customer_chunks import sources
from customer_chunks.cli import main
from customer_chunks.errors import InputError
from customer_chunks.load import load_all
from customer_chunks.run import dbt_build

from support import query

HEADER = "order_id,customer_id,ordered_at,category,quantity,unit_price\n"
COLUMNS = (
    "{order_id: order_id, customer_id: customer_id, ordered_at: ordered_at, "
    "category: category, quantity: quantity, unit_price: unit_price}"
)
GOOD = "".join(f"o{i},c{i},2024-01-0{1 + i % 9} 10:00:00,x,1,2.5\n" for i in range(20))


def spec(path: str = "t.csv", options: str = "", columns: str = COLUMNS, top: str = "") -> str:
    opts = f"    options: {options}\n" if options else ""
    return f"{top}tables:\n  transactions:\n    path: {path}\n{opts}    columns: {columns}\n"


@dataclass
class ErrorCase:
    name: str
    files: dict[str, bytes | str]
    needles: tuple[str, ...]
    spec: str | None = field(default_factory=spec)
    env: dict[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()  # text that must not appear in the message


def _gzip_of(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


_BIG = HEADER + "".join(f"o{i},c{i},2024-01-01 10:00:00,x,1,2.5\n" for i in range(5000))
_BIG_GZ = _gzip_of(_BIG)
_FLIPPED = bytearray(_BIG_GZ)
_FLIPPED[len(_FLIPPED) // 2] ^= 0xFF
_LATIN = "".join(f"o{i},Jos\xe9{i},2024-01-01 10:00:00,x,1,2.5\n" for i in range(10))
_ALIAS_BOMB = (
    'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" + spec()
)

_WS_COLUMNS = "{customer_id: a, category: b, ordered_at: c, amount: d}"
_WS_GZ = _gzip_of("".join(f" c{i}  x  20240101  {i}.5\n" for i in range(3000)))
_MONGO_SPEC = (
    "tables:\n  transactions:\n    path: o.json\n    format: mongodb\n"
    "    columns: {customer_id: c, ordered_at: t, amount: a}\n"
)
_MONGO_GZ = _gzip_of(
    "".join(
        f'{{"_id": {{"$oid": "65a0c0ffee00000000{i:06x}"}}, "c": "c{i}", '
        f'"t": {{"$date": "2024-01-01T10:00:00Z"}}, "a": {{"$numberDecimal": "1.5"}}}}\n'
        for i in range(3000)
    )
)

ERROR_CASES = [
    ErrorCase(
        "truncated_gzip",
        {"t.csv.gz": _BIG_GZ[: int(len(_BIG_GZ) * 0.4)]},
        ("t.csv.gz", "gzip archive is damaged", "gzip -t", "Fix:"),
        spec("t.csv.gz"),
    ),
    ErrorCase(
        "flipped_gzip",
        {"t.csv.gz": bytes(_FLIPPED)},
        ("t.csv.gz", "gzip archive is damaged", "Fix:"),
        spec("t.csv.gz"),
    ),
    ErrorCase("header_only", {"t.csv": HEADER}, ("t.csv", "transactions has no rows", "Fix:")),
    ErrorCase("empty_file", {"t.csv": ""}, ("t.csv", "Fix:")),
    ErrorCase(
        "all_latin1",
        {"t.csv": (HEADER + _LATIN).encode("latin-1")},
        ("t.csv", "10 of 10 lines cannot be read", "options.encoding"),
    ),
    ErrorCase(
        "mostly_latin1",
        {"t.csv": (HEADER + _LATIN + GOOD[:60]).encode("latin-1")},
        ("t.csv", "lines cannot be read", "options.encoding"),
    ),
    ErrorCase(
        "secret_in_a_path",
        {"t.csv": HEADER + GOOD},
        ("tables.transactions.path", "environment variables are not expanded"),
        spec("${PGPASSWORD}/t.csv"),
        env={"PGPASSWORD": "hunter2-secret"},
        absent=("hunter2-secret",),
    ),
    ErrorCase(
        "bytes_not_in_the_declared_encoding",
        {"t.csv": (HEADER + GOOD).encode() + b"o9,\x81bad,2024-01-01,x,1,2\n"},
        ("t.csv", "is not cp1252", "Fix: set options.encoding"),
        spec(options="{encoding: cp1252}"),
    ),
    ErrorCase(
        "unterminated_quote",
        {"t.csv": HEADER + 'o1,"c1,2024-01-01 10:00:00,x,1,2.5\n' + GOOD},
        ("t.csv", "RFC 4180", "options.quote"),
    ),
    ErrorCase(
        "binary_file_named_csv",
        {"t.csv": bytes(range(256)) * 40},
        ("t.csv", "Fix:"),
    ),
    # --- whitespace-aligned, fixed-width and mongoexport files (issue 14) ---
    ErrorCase(
        "whitespace_latin1_without_encoding",
        {"t.txt": "c Jos\xe9 20240101 1\n".encode("latin-1")},
        ("t.txt", "line 1 is not UTF-8", "options.encoding"),
        spec("t.txt", "{delimiter: whitespace, header: false, names: [a, b, c, d]}", _WS_COLUMNS),
    ),
    ErrorCase(
        "whitespace_header_repeats_a_name",
        {"t.txt": "a b a d\nc x 20240101 1\n"},
        ("t.txt", "header line repeats a name", "options.names"),
        spec("t.txt", "{delimiter: whitespace}", _WS_COLUMNS),
    ),
    ErrorCase(
        "fixed_width_lines_longer_than_the_widths",
        {"t.dat": "".join(f"c{i:<3}x   20240101 1 and more\n" for i in range(9))},
        ("t.dat", "9 of 9 lines cannot be read", "Fix:"),
        spec("t.dat", "{widths: [4, 4, 9, 2], header: false, names: [a, b, c, d]}", _WS_COLUMNS),
    ),
    ErrorCase(
        "whitespace_truncated_gzip",
        {"t.txt.gz": _WS_GZ[: len(_WS_GZ) // 2]},
        ("t.txt.gz", "gzip archive is damaged", "Fix:"),
        spec(
            "t.txt.gz", "{delimiter: whitespace, header: false, names: [a, b, c, d]}", _WS_COLUMNS
        ),
    ),
    ErrorCase(
        "mongodb_file_that_is_a_json_array",
        {"o.json": '[{"_id": 1, "c": "x"},\n {"_id": 2, "c": "y"},\n {"_id": 3, "c": "z"}]\n'},
        ("o.json", "3 of 3 lines cannot be read", "mongoexport", "Fix:"),
        _MONGO_SPEC,
    ),
    ErrorCase(
        "mongodb_empty_export",
        {"o.json": "\n"},
        ("o.json", "transactions has no rows", "Fix:"),
        _MONGO_SPEC,
    ),
    ErrorCase(
        "mongodb_truncated_gzip",
        {"o.json.gz": _MONGO_GZ[: len(_MONGO_GZ) // 2]},
        ("o.json.gz", "gzip archive is damaged", "Fix:"),
        _MONGO_SPEC.replace("o.json", "o.json.gz"),
    ),
]


def _mapped(rest: str) -> str:
    """A spec whose column map is customer_id and ordered_at, then ``rest``."""
    return spec(columns="{customer_id: customer_id, ordered_at: ordered_at, " + rest + "}")


# A good transactions file read through a bad source spec: (case, spec, what the one
# error line must say).
BAD_SPEC_CASES = [
    (
        "expression_reads_a_file",
        _mapped(
            "amount: unit_price, category: \"(select content from read_text('/etc/hostname'))\""
        ),
        ("s.yml", "tables.transactions.columns.category", "subquery", "Fix:"),
    ),
    (
        "expression_is_a_table_function",
        _mapped("amount: unit_price, category: \"read_csv('/etc/passwd')\""),
        ("columns.category", "read_csv() is not an allowed scalar function"),
    ),
    (
        "expression_closes_the_select",
        _mapped("amount: unit_price, category: \"1; copy (select 1) to 'pwned.csv'\""),
        ("columns.category", "not a single SQL expression"),
    ),
    (
        "expression_reads_the_environment",
        _mapped("amount: unit_price, category: \"getenv('HOME')\""),
        ("columns.category", "getenv() is not an allowed"),
    ),
    (
        "expression_is_a_window",
        _mapped('amount: "sum(unit_price) over ()"'),
        ("columns.amount", "window"),
    ),
    (
        "expression_names_an_unknown_column",
        _mapped('amount: "nope * 2"'),
        ("t.csv", "Fix: check the column map"),
    ),
    (
        "path_outside_the_folder",
        spec("/etc/passwd"),
        ("tables.transactions.path", "outside the source file's folder", "allow_outside_folder"),
    ),
    (
        "path_climbs_out",
        spec("../../../../../../../etc/hostname"),
        ("tables.transactions.path", "outside the source file's folder"),
    ),
    (
        "skip_is_text",
        spec(options="{skip: abc}"),
        ("s.yml: tables.transactions.options.skip: must be a whole number, got 'abc'",),
    ),
    (
        "options_is_a_list",
        spec(options="[1, 2]"),
        ("tables.transactions.options: must be a mapping", "[1, 2]"),
    ),
    (
        "header_is_quoted_text",
        spec(options='{header: "false"}'),
        ("tables.transactions.options.header: must be true or false", "'false'"),
    ),
    ("negative_skip", spec(options="{skip: -3}"), ("tables.transactions.options.skip",)),
    (
        "unknown_encoding",
        spec(options="{encoding: klingon}"),
        ("tables.transactions.options.encoding", "unknown encoding 'klingon'"),
    ),
    (
        "unknown_time_zone",
        spec(options="{timezone: Mars/Olympus}"),
        ("tables.transactions.options.timezone", "Mars/Olympus"),
    ),
    ("yaml_alias_bomb", _ALIAS_BOMB, ("s.yml", "aliases", "not allowed")),
    (
        "unknown_key",
        spec().replace("columns:", "colums:"),
        ("tables.transactions.colums", "unknown key"),
    ),
    (
        "unknown_table",
        spec() + "  orders:\n    path: t.csv\n    columns: {customer_id: customer_id}\n",
        ("tables.orders", "not a contract table"),
    ),
    (
        "unknown_contract_column",
        _mapped("price: unit_price"),
        ("tables.transactions.columns.price", "not a column of the transactions contract"),
    ),
    (
        "column_map_value_is_a_number",
        _mapped("amount: 5"),
        ("tables.transactions.columns.amount: must be text, got 5",),
    ),
    ("source_file_is_not_yaml", "tables: [unclosed\n", ("s.yml", "not valid YAML")),
    (
        "mapped_column_missing",
        _mapped("amount: amount_eur"),
        ("t.csv", "'amount_eur'", "Fix: correct the column map"),
    ),
    (
        "unnest_on_a_csv_file",
        spec(options="{unnest: items}"),
        ("tables.transactions", "options.unnest is for format: mongodb"),
    ),
]
ERROR_CASES += [
    ErrorCase(name, {"t.csv": HEADER + GOOD}, needles, text)
    for name, text, needles in BAD_SPEC_CASES
]


def _write_case(tmp_path: Path, case_files: dict[str, bytes | str], spec_text: str) -> Path:
    for name, content in case_files.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    spec_path = tmp_path / "s.yml"
    spec_path.write_text(spec_text, encoding="utf-8")
    return spec_path


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.name)
def test_bad_input_stops_with_one_clear_line(case: ErrorCase, tmp_path, capsys, monkeypatch):
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    spec_path = _write_case(tmp_path, case.files, case.spec)
    warehouse = tmp_path / "w.duckdb"
    code = main(["load", "--source", str(spec_path), "--warehouse", str(warehouse)])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, f"expected an error, got exit {code}: {captured.out}"
    assert err.startswith("error: ") and "\n" not in err, err
    assert "Traceback" not in err
    for needle in case.needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    for secret in case.absent:
        assert secret not in err and secret not in captured.out
    assert not (tmp_path / "pwned.csv").exists()


def test_the_loading_connection_cannot_read_other_files(tmp_path):
    """Defence in depth: an expression that got past the source-file checks still
    cannot read a file that is not a declared input."""
    (tmp_path / "t.csv").write_text(HEADER + GOOD)
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    src = sources.TableSource(
        table="transactions",
        paths=[tmp_path / "t.csv"],
        pattern=str(tmp_path / "t.csv"),
        file_format="csv",
        columns={
            "customer_id": "customer_id",
            "ordered_at": "ordered_at",
            "amount": "unit_price",
            "category": f"(select content from read_text('{secret}'))",
        },
        origin="test",
    )
    with pytest.raises(InputError) as caught:
        load_all(tmp_path / "w.duckdb", {"transactions": src}, log=lambda m: None)
    assert "\n" not in str(caught.value)
    assert "top secret" not in str(caught.value)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        tables = con.sql(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw' and table_name = 'transactions'"
        ).fetchone()[0]
    finally:
        con.close()
    assert tables == 0


def test_a_quoted_delimiter_past_the_sniffer_sample_is_read_not_rejected(tmp_path):
    """Issue 13 item 6: quoting was guessed from a sample, so a valid quoted
    "Toys, Games" at line 100,000 was quarantined as a malformed line."""
    data = tmp_path / "d"
    data.mkdir()
    with open(data / "transactions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer_id", "ordered_at", "category", "amount"])
        for i in range(100_001):
            category = "Toys, Games" if i == 99_999 else "Books"
            writer.writerow([f"o{i}", f"c{i % 700}", "2024-01-01 10:00:00", category, "2.5"])
    summary = load_all(tmp_path / "w.duckdb", sources.from_data_dir(data), log=lambda m: None)
    assert summary["transactions"]["rows"] == 100_001
    assert summary["transactions"]["rejected"] == 0
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        (category,) = con.sql(
            "select category from raw.transactions where order_id = 'o99999'"
        ).fetchone()
    finally:
        con.close()
    assert category == "Toys, Games"


def test_a_load_that_runs_too_long_is_stopped_with_a_clear_error(tmp_path, monkeypatch):
    data = tmp_path / "d"
    data.mkdir()
    duckdb.execute(
        "copy (select 'o' || i as order_id, 'c' || (i % 5000) as customer_id, "
        "'2024-01-01 10:00:00' as ordered_at, 2.5 as amount from range(1000000) t(i)) "
        f"to '{data / 'transactions.csv'}' (header)"
    )
    monkeypatch.setenv("CUSTOMER_CHUNKS_LOAD_TIMEOUT", "0.05")
    with pytest.raises(InputError) as caught:
        load_all(tmp_path / "w.duckdb", sources.from_data_dir(data), log=lambda m: None)
    message = str(caught.value)
    assert "took more than 0.05 s and was stopped" in message
    assert "CUSTOMER_CHUNKS_LOAD_TIMEOUT" in message and "\n" not in message


def test_the_load_time_limit_grows_with_the_input_and_can_be_set(tmp_path, monkeypatch):
    from customer_chunks.load import LOAD_SECONDS_BASE, load_timeout

    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_text("x\n")
    big.write_bytes(b"x" * 5_000_000)
    src = sources.TableSource("transactions", [small], str(small), "csv")
    assert load_timeout(src) >= LOAD_SECONDS_BASE
    assert load_timeout(sources.TableSource("transactions", [big], str(big), "csv")) > (
        load_timeout(src)
    )
    monkeypatch.setenv("CUSTOMER_CHUNKS_LOAD_TIMEOUT", "12")
    assert load_timeout(src) == 12
    monkeypatch.setenv("CUSTOMER_CHUNKS_LOAD_TIMEOUT", "soon")
    with pytest.raises(InputError, match="CUSTOMER_CHUNKS_LOAD_TIMEOUT='soon'"):
        load_timeout(src)


# ---------------------------------------------------------------------------------------
# Row-level cases: one source file, one dbt build of staging + accounting.
# Each line's customer id is its case name; `expected` is the quarantine reason, or
# None when the line must be staged.


@dataclass
class RowCase:
    name: str
    line: str  # the CSV line(s) with {id} where the customer id goes
    expected: str | None
    copies: int = 1  # lines carrying this id
    staged: int | None = None  # staged lines (default: copies if expected is None else 0)


def _csv_line(*values: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


ROW_CASES = [
    RowCase("clean", "o-clean,{id},2024-03-01 10:00:00,books,1,9.99\n", None),
    RowCase("nan_price", "o-nan,{id},2024-03-01 10:00:00,books,1,NaN\n", "unparseable_price"),
    RowCase("inf_quantity", "o-inf,{id},2024-03-01 10:00:00,books,inf,2\n", "unparseable_quantity"),
    RowCase("huge_price", "o-huge,{id},2024-03-01 10:00:00,books,1,1e13\n", "implausible_amount"),
    RowCase(
        "huge_line_amount",
        "o-hl,{id},2024-03-01 10:00:00,books,2000000,900000\n",
        "implausible_amount",
    ),
    RowCase("minus_infinity_date", "o-mi,{id},-infinity,books,1,2\n", "implausible_timestamp"),
    RowCase("year_one", "o-y1,{id},0001-01-01 00:00:00,books,1,2\n", "implausible_timestamp"),
    RowCase("future", "o-fu,{id},2999-01-01 00:00:00,books,1,2\n", "future_timestamp"),
    RowCase("plus_five", "o-p5,{id},2025-06-01 23:30:00+05:00,books,1,2\n", None),
    RowCase("minus_eight", "o-m8,{id},2025-06-01 23:30:00-08:00,books,1,2\n", None),
    RowCase("zulu", "o-z,{id},2025-06-01T23:30:00Z,books,1,2\n", None),
    RowCase(
        "impossible_offset",
        "o-io,{id},2025-06-01 23:30:00+25:00,books,1,2\n",
        "unparseable_timestamp",
    ),
    RowCase(
        "comma_in_quotes", _csv_line("o-cq", "{id}", "2024-03-01", "Toys, Games", "1", "2"), None
    ),
    RowCase(
        "doubled_quotes",
        _csv_line("o-dq", "{id}", "2024-03-01", 'Books "special"', "1", "2"),
        None,
    ),
    RowCase(
        "newline_in_quotes",
        _csv_line("o-nl", "{id}", "2024-03-01", "two\nlines", "1", "2"),
        None,
    ),
    RowCase("hash_first_field", "#o-hash,{id},2024-03-01 10:00:00,books,1,2\n", None),
    RowCase("quoted_id", '"o-qi","{id}","2024-03-01","books","1","2"\n', None),
    RowCase("crlf_line", "o-cr,{id},2024-03-01 10:00:00,books,1,2\r\n", None),
    RowCase("extra_fields", "o-ef,{id},2024-03-01,books,1,2,EXTRA\n", "malformed_line"),
    RowCase("missing_fields", "o-mf,{id},2024-03-01\n", "malformed_line"),
    RowCase("latin1_line", "o-l1,{id}-Jos\udce9,2024-03-01,books,1,2\n", "malformed_line"),
    RowCase("decimal_comma", 'o-dc,{id},2024-03-01,books,1,"12,50"\n', "unparseable_price"),
    RowCase("negative_price", "o-np,{id},2024-03-01,books,1,-2\n", "negative_price"),
    RowCase("bad_date", "o-bd,{id},31/02/2024,books,1,2\n", "unparseable_timestamp"),
    RowCase("blank_date", "o-bl,{id},,books,1,2\n", "missing_timestamp"),
    RowCase(
        "repeat_with_order_id",
        "o-rep,{id},2024-03-01 10:00:00,books,1,2\n" * 2,
        "duplicate",
        copies=2,
        staged=1,
    ),
    RowCase(
        "repeat_without_order_id",
        ",{id},2024-03-01,books,1,2\n" * 3,
        None,
        copies=3,
    ),
]


def _row_text(case: RowCase) -> bytes:
    text = case.line.replace("{id}", case.name)
    return text.encode("utf-8", errors="surrogateescape")


@pytest.fixture(scope="module")
def corpus_warehouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    body = (HEADER + GOOD).encode() + b"".join(_row_text(c) for c in ROW_CASES)
    (folder / "t.csv").write_bytes(body)
    (folder / "customers.csv").write_text(
        "customer_id,signed_up_at,birth_year\n"
        "c1,2023-01-01,1980\nc1,2023-01-01,1980\nc2,0001-01-01,1990\nc3,2023-01-01,NaN\n"
        # quoted here, unquoted in the transactions: the same id either way
        '"c4","2023-01-01","1985"\n'
    )
    (folder / "web.csv").write_text(
        "customer_id,session_id,event_type,occurred_at\n"
        + "c1,s1,page_view,2024-01-01 10:00:00\n" * 2
        + "c2,s2,page_view,-infinity\n"
    )
    (folder / "s.yml").write_text(
        spec()
        + "  customers:\n    path: customers.csv\n"
        + "    columns: {customer_id: customer_id, signed_up_at: signed_up_at, "
        + "birth_year: birth_year}\n"
        + "  web_events:\n    path: web.csv\n"
        + "    columns: {customer_id: customer_id, session_id: session_id, "
        + "event_type: event_type, occurred_at: occurred_at}\n"
    )
    warehouse = folder / "w.duckdb"
    load_all(warehouse, sources.from_source_file(folder / "s.yml"), log=lambda m: None)
    dbt_build(
        warehouse,
        {},
        select="+row_accounting +quarantined_rows +quarantine_summary +duplicate_summary",
    )
    return warehouse


@pytest.mark.e2e
@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: c.name)
def test_row_case_is_staged_or_quarantined_with_its_reason(case: RowCase, corpus_warehouse):
    staged = query(
        corpus_warehouse,
        "select count(*) as n from staging.stg_customer_data__transactions "
        f"where customer_id = '{case.name}'",
    ).n.iloc[0]
    quarantined = query(
        corpus_warehouse,
        "select quarantine_reason from marts.quarantined_rows "
        f"where table_name = 'transactions' and source_values like '%{case.name}%'",
    ).quarantine_reason.tolist()
    expected_staged = (
        case.staged if case.staged is not None else (case.copies if case.expected is None else 0)
    )
    assert staged == expected_staged
    assert staged + len(quarantined) == case.copies, "a line was lost or counted twice"
    if case.expected is not None:
        assert quarantined and set(quarantined) == {case.expected}


@pytest.mark.e2e
def test_corpus_rows_read_equal_staged_plus_quarantined(corpus_warehouse):
    acc = query(corpus_warehouse, "select * from marts.row_accounting").set_index("table_name")
    assert acc.is_balanced.all()
    assert (acc.rows_read == acc.rows_staged + acc.rows_quarantined).all()
    lines = len(GOOD.splitlines()) + sum(c.copies for c in ROW_CASES)
    assert acc.loc["transactions", "rows_read"] == lines


@pytest.mark.e2e
def test_corpus_values_are_read_as_written(corpus_warehouse):
    got = dict(
        query(
            corpus_warehouse,
            "select customer_id, category from staging.stg_customer_data__transactions",
        ).values.tolist()
    )
    assert got["comma_in_quotes"] == "Toys, Games"
    assert got["doubled_quotes"] == 'Books "special"'
    assert got["newline_in_quotes"] == "two\nlines"
    times = dict(
        query(
            corpus_warehouse,
            "select customer_id, strftime(ordered_at, '%Y-%m-%d %H:%M') as t "
            "from staging.stg_customer_data__transactions",
        ).values.tolist()
    )
    # offsets are converted to UTC, not dropped
    assert times["plus_five"] == "2025-06-01 18:30"
    assert times["minus_eight"] == "2025-06-02 07:30"
    assert times["zulu"] == "2025-06-01 23:30"


@pytest.mark.e2e
def test_corpus_duplicate_rule_and_other_tables(corpus_warehouse):
    dup = query(corpus_warehouse, "select * from marts.duplicate_summary").set_index("table_name")
    assert (dup.duplicate_rule == "auto").all()
    # with an order id the repeat is quarantined; without one both repeats are kept
    assert dup.loc["transactions", "repeated_rows_quarantined"] == 1
    assert dup.loc["transactions", "possible_duplicates_staged"] == 2
    # customers: the id proves it; web events have no id, so the repeat is kept
    assert dup.loc["customers", "repeated_rows_quarantined"] == 1
    assert dup.loc["web_events", "possible_duplicates_staged"] == 1
    staged_customers = set(
        query(
            corpus_warehouse, "select customer_id from staging.stg_customer_data__customers"
        ).customer_id.tolist()
    )
    assert {"c1", "c4"} <= staged_customers
    quoted_id_lines = query(
        corpus_warehouse,
        "select count(*) as n from staging.stg_customer_data__transactions "
        "where customer_id = 'c4'",
    ).n.iloc[0]
    assert quoted_id_lines > 0  # c4 in GOOD matches the quoted "c4" customer row
    reasons = query(
        corpus_warehouse,
        "select table_name, quarantine_reason, row_count from marts.quarantine_summary "
        "where table_name in ('customers', 'web_events')",
    )
    got = {(r.table_name, r.quarantine_reason): r.row_count for r in reasons.itertuples()}
    assert got == {
        ("customers", "duplicate"): 1,
        ("customers", "implausible_timestamp"): 1,
        ("customers", "unparseable_birth_year"): 1,
        ("web_events", "implausible_timestamp"): 1,
    }
