"""Property-based tests (hypothesis) of the source-file parser and the CSV loader.

The parser must turn any YAML whatsoever into a SourceFile or one InputError line;
the loader must read back exactly what Python's csv module wrote, in any dialect the
source file declares, in UTF-8 or Latin-1, with numbers at the edges kept as written.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import duckdb
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_chunks import sources
from customer_chunks.errors import InputError
from customer_chunks.load import load_all

# CI draws the same examples every run (a red CI is then reproducible, never a coin
# toss); on a developer's machine hypothesis explores new ones each time.
SETTINGS = settings(
    derandomize=bool(os.environ.get("CI")),
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
yaml_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
option_keys = st.sampled_from(
    [
        "delimiter",
        "header",
        "quote",
        "escape",
        "skip",
        "encoding",
        "timestamp_format",
        "null_strings",
        "timezone",
        "comment",
        "widths",
        "names",
        "unnest",
        "nonsense",
    ]
)


def _one_line_or_model(text: str) -> None:
    try:
        model = sources.parse_source_file(text, "s.yml")
    except InputError as exc:
        message = str(exc)
        assert message.startswith("s.yml: ") and "\n" not in message
    else:
        assert "transactions" in model.tables


@SETTINGS
@given(options=st.dictionaries(option_keys, yaml_values, max_size=4), columns=yaml_values)
def test_any_options_and_columns_give_a_model_or_one_line(options, columns):
    spec = {
        "tables": {
            "transactions": {
                "path": "t.csv",
                "options": options,
                "columns": columns,
            }
        }
    }
    _one_line_or_model(yaml.safe_dump(spec))


@SETTINGS
@given(document=yaml_values)
def test_any_yaml_document_gives_a_model_or_one_line(document):
    _one_line_or_model(yaml.safe_dump(document))


@SETTINGS
@given(text=st.text(max_size=200))
def test_any_text_gives_a_model_or_one_line(text):
    _one_line_or_model(text)


@SETTINGS
@given(
    options=st.fixed_dictionaries(
        {},
        optional={
            "delimiter": st.sampled_from([",", ";", "\t", "|"]),
            "header": st.booleans(),
            "skip": st.integers(min_value=0, max_value=5),
            "encoding": st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16"]),
            "null_strings": st.lists(st.text(max_size=3), max_size=2),
        },
    )
)
def test_valid_options_are_kept_as_given(options):
    spec = {"tables": {"transactions": {"path": "t.csv", "options": options, "columns": {}}}}
    spec["tables"]["transactions"]["columns"] = {"customer_id": "c", "ordered_at": "t"}
    model = sources.parse_source_file(yaml.safe_dump(spec), "s.yml")
    parsed = model.tables["transactions"].options.model_dump(exclude_unset=True)
    assert parsed == options


# ---------------------------------------------------------------------------------------
# The loader keeps every value as written.

# Text the csv module can write and read back: no NUL, and no lone CR (a CR inside a
# quoted field of a CRLF file is the one case the loader normalises).
field_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=15,
)
edge_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["1e13", "-0", "0.000001", "1e-320", "NaN", "-inf", "9" * 30, "1_000"]),
)


@SETTINGS
@given(
    rows=st.lists(st.tuples(field_text, field_text, edge_numbers), min_size=1, max_size=25),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    line_end=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
)
def test_csv_in_any_declared_dialect_loads_exactly(
    tmp_path_factory, rows, delimiter, quoting, line_end, encoding
):
    if encoding == "latin-1":
        rows = [
            tuple(v.encode("latin-1", "replace").decode("latin-1") for v in row) for row in rows
        ]
    folder: Path = tmp_path_factory.mktemp("dialect")
    with open(folder / "t.csv", "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter, quoting=quoting, lineterminator=line_end)
        writer.writerow(["customer_id", "category", "amount"])
        for row in rows:
            writer.writerow(row)
    options = {"delimiter": delimiter, "encoding": encoding}
    spec = {
        "tables": {
            "transactions": {
                "path": "t.csv",
                "options": options,
                "columns": {
                    "customer_id": "customer_id",
                    "category": "category",
                    "amount": "amount",
                },
            }
        }
    }
    spec["tables"]["transactions"]["columns"]["ordered_at"] = "category"
    (folder / "s.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    src = sources.from_source_file(folder / "s.yml")
    try:
        summary = load_all(folder / "w.duckdb", src, log=lambda m: None)
    except InputError as exc:
        # the only acceptable stop: the ordered_at column (random text) is not timestamps
        assert "not timestamps" in str(exc) and "\n" not in str(exc)
        return
    assert summary["transactions"]["rows"] + summary["transactions"]["rejected"] == len(rows)
    assert summary["transactions"]["rejected"] == 0
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        got = con.sql(
            "select customer_id, category, amount from raw.transactions order by _row_id"
        ).fetchall()
    finally:
        con.close()

    def as_read(value: str) -> str | None:
        # an empty field is missing (null), whether quoted or not
        return value if value != "" else None

    assert got == [tuple(as_read(v) for v in row) for row in rows]
    # numbers at the edges (NaN, 1e-320, 30 nines) are kept exactly as written
    assert [r[2] for r in got] == [as_read(r[2]) for r in rows]


# ---------------------------------------------------------------------------------------
# Whitespace-aligned, fixed-width and mongoexport files read back exactly.

# A field of a whitespace-aligned file: no blank inside, never empty.
token = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="\x85"
    ),
    min_size=1,
    max_size=10,
)
padding = st.text(alphabet=" \t", min_size=1, max_size=4)


def _load_rows(folder: Path, spec: dict) -> tuple[dict, list[tuple]]:
    (folder / "s.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    summary = load_all(
        folder / "w.duckdb", sources.from_source_file(folder / "s.yml"), log=lambda m: None
    )
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        got = con.sql(
            "select customer_id, category, product_id from raw.transactions order by _row_id"
        ).fetchall()
    finally:
        con.close()
    return summary, got


_LAYOUT_COLUMNS = {
    "customer_id": "a",
    "category": "b",
    "product_id": "c",
    "ordered_at": "d",
    "amount": "e",
}


@SETTINGS
@given(
    rows=st.lists(st.tuples(token, token, token), min_size=1, max_size=20),
    pads=st.lists(padding, min_size=6, max_size=6),
    leading=st.sampled_from(["", " ", "  \t"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_whitespace_aligned_rows_load_exactly(tmp_path_factory, rows, pads, leading, line_end):
    folder: Path = tmp_path_factory.mktemp("whitespace")
    lines = [
        leading + pads[0].join([a, b, c]) + pads[1] + "2024-01-01" + pads[2] + "1" + pads[3]
        for a, b, c in rows
    ]
    (folder / "t.txt").write_bytes((line_end.join(lines) + line_end).encode("utf-8"))
    options = {"delimiter": "whitespace", "header": False, "names": list("abcde")}
    spec = {"tables": {"transactions": {"path": "t.txt", "options": options}}}
    spec["tables"]["transactions"]["columns"] = _LAYOUT_COLUMNS
    summary, got = _load_rows(folder, spec)
    assert summary["transactions"]["rejected"] == 0
    assert got == rows


@SETTINGS
@given(
    rows=st.lists(st.tuples(token, token, token), min_size=1, max_size=20),
    widths=st.lists(st.integers(min_value=10, max_value=14), min_size=3, max_size=3),
)
def test_fixed_width_rows_load_exactly(tmp_path_factory, rows, widths):
    folder: Path = tmp_path_factory.mktemp("fixed")
    all_widths = [*widths, 10, 3]
    lines = [
        "".join(v.ljust(w) for v, w in zip([*row, "2024-01-01", "1"], all_widths, strict=True))
        for row in rows
    ]
    (folder / "t.dat").write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = {"widths": all_widths, "header": False, "names": list("abcde")}
    spec = {"tables": {"transactions": {"path": "t.dat", "options": options}}}
    spec["tables"]["transactions"]["columns"] = _LAYOUT_COLUMNS
    summary, got = _load_rows(folder, spec)
    assert summary["transactions"]["rejected"] == 0
    assert got == rows


mongo_values = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


@SETTINGS
@given(
    documents=st.lists(
        st.fixed_dictionaries(
            {"c": st.text(min_size=1, max_size=8), "v": mongo_values},
            optional={"nested": st.fixed_dictionaries({"x": mongo_values})},
        ),
        min_size=1,
        max_size=10,
    )
)
def test_relaxed_and_canonical_exports_read_the_same(tmp_path_factory, documents):
    from bson import json_util

    got = {}
    for mode, json_options in (
        ("relaxed", json_util.RELAXED_JSON_OPTIONS),
        ("canonical", json_util.CANONICAL_JSON_OPTIONS),
    ):
        folder: Path = tmp_path_factory.mktemp(mode)
        lines = [
            json_util.dumps({**d, "t": "2024-01-01"}, json_options=json_options) for d in documents
        ]
        (folder / "t.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
        spec = {"tables": {"transactions": {"path": "t.json", "format": "mongodb"}}}
        spec["tables"]["transactions"]["columns"] = {
            "customer_id": "c",
            "category": "v",
            "product_id": "nested.x" if any("nested" in d for d in documents) else "v",
            "ordered_at": "t",
            "amount": "v",
        }
        try:
            summary, got[mode] = _load_rows(folder, spec)
        except InputError as exc:  # amount (random values) mostly not numbers: one line
            assert "not numbers" in str(exc) and "\n" not in str(exc)
            got[mode] = "stopped"
            continue
        assert summary["transactions"]["rows"] == len(documents)
    assert got["relaxed"] == got["canonical"]
