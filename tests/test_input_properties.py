"""Property-based tests (hypothesis) of the source-file parser and the CSV loader.

The parser must turn any YAML whatsoever into a SourceFile or one InputError line;
the loader must read back exactly what Python's csv module wrote, in any dialect the
source file declares, in UTF-8 or Latin-1, with numbers at the edges kept as written.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_chunks import sources
from customer_chunks.errors import InputError
from customer_chunks.load import load_all

SETTINGS = settings(
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
