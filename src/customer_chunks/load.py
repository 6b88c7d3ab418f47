"""Check the inputs and load them, untouched, into the warehouse's ``raw`` schema.

Every source row becomes one ``raw.<table>`` row with a ``_row_id`` (its position in
the input, from 1), so the dbt staging models can account for each one: it is either
staged or quarantined with a reason. CSV lines DuckDB cannot split into the header's
columns are kept in ``raw.rejected_lines`` and quarantined as ``malformed_line``.

Loading is one DuckDB ``CREATE TABLE ... AS SELECT`` per table: O(rows) time, streamed,
with memory bounded by DuckDB's ``memory_limit``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from customer_chunks.contract import CONTRACT, ColumnSpec, TableContract
from customer_chunks.errors import InputError
from customer_chunks.logs import forward_to
from customer_chunks.sources import TableSource, is_plain_column

logger = logging.getLogger(__name__)

# Share of non-null values that may fail to parse before the whole column is taken to
# be in the wrong format (an error) rather than a few bad rows (quarantined).
MAX_BAD_SHARE = 0.5
_CAST_TYPES = {"timestamp": "TIMESTAMP", "number": "DOUBLE", "integer": "BIGINT"}
# Column types that always cast to the contract's type (typed Parquet columns): values
# of these types cannot fail to parse, so check_values does not scan them.
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_ALWAYS_CASTS = {
    "timestamp": {
        "TIMESTAMP",
        "TIMESTAMP_S",
        "TIMESTAMP_MS",
        "TIMESTAMP_NS",
        "TIMESTAMP WITH TIME ZONE",
        "DATE",
    },
    "number": _INTEGERS | {"UBIGINT", "HUGEINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"},
    "integer": _INTEGERS,
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _file_list(src: TableSource) -> str:
    return "[" + ", ".join(_literal(str(p)) for p in src.paths) + "]"


def reader_sql(src: TableSource, *, typed: bool = False, row_numbers: bool = False) -> str:
    """The DuckDB table function reading ``src``.

    CSV is read as text (``all_varchar``) so that no value is lost to type sniffing;
    ``typed=True`` sniffs types instead (used only to evaluate expressions).
    ``row_numbers`` adds Parquet's ``file_row_number`` column.
    """
    files = _file_list(src)
    if src.file_format == "parquet":
        numbered = ", file_row_number = true" if row_numbers else ""
        return f"read_parquet({files}, union_by_name = true{numbered})"
    if src.file_format == "json":
        return f"read_json_auto({files}, format = 'newline_delimited', union_by_name = true)"
    opts = src.options
    args = [files]
    if "delimiter" in opts:
        args.append(f"delim = {_literal(opts['delimiter'])}")
    if "header" in opts:
        args.append(f"header = {_literal(bool(opts['header']))}")
    else:
        args.append("header = true")
    for key in ("quote", "escape", "encoding"):
        if key in opts:
            args.append(f"{key} = {_literal(opts[key])}")
    if "skip" in opts:
        args.append(f"skip = {int(opts['skip'])}")
    if "null_strings" in opts:
        nulls = opts["null_strings"]
        nulls = nulls if isinstance(nulls, list) else [nulls]
        args.append("nullstr = [" + ", ".join(_literal(n) for n in nulls) + "]")
    if typed:
        args.append("sample_size = 20480")
        args.append("ignore_errors = true")
    else:
        args.append("all_varchar = true")
        args.append("store_rejects = true")
    return f"read_csv({', '.join(args)})"


def _describe(con: duckdb.DuckDBPyConnection, src: TableSource, typed: bool = False) -> dict:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {reader_sql(src, typed=typed)}").fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(
            f"{src.label()}: cannot read it as {src.file_format} ({first}). "
            f"Fix: check the file is a {src.file_format} file"
            + (
                " and set options.delimiter/header in a --source file."
                if src.file_format == "csv"
                else "."
            )
        ) from None
    return {r[0]: r[1] for r in rows}


def resolve_columns(con: duckdb.DuckDBPyConnection, src: TableSource) -> dict[str, str]:
    """Check the column map against the file's header; return contract column -> SQL.

    For a data folder (empty map) contract columns are matched by name, ignoring case.
    """
    contract: TableContract = CONTRACT[src.table]
    header = _describe(con, src)
    by_lower = {name.lower(): name for name in header}
    found = ", ".join(header) or "none"
    mapping: dict[str, str] = {}
    if not src.columns:  # --data DIR: names are the contract's
        for col in contract.column_names:
            if col in by_lower:
                mapping[col] = _quote(by_lower[col])
    else:
        for col, expr in src.columns.items():
            if is_plain_column(expr):
                if expr.strip().lower() not in by_lower:
                    raise InputError(
                        f"{src.label()}: column '{expr.strip()}' (mapped to {src.table}.{col} in "
                        f"{src.origin}) is not in the file (found: {found}). "
                        "Fix: correct the column map."
                    )
                mapping[col] = _quote(by_lower[expr.strip().lower()])
            else:
                mapping[col] = f"({expr})"
    missing = [c.name for c in contract.columns if c.required and c.name not in mapping]
    if missing:
        hint = (
            "map it in the --source file's columns"
            if src.columns
            else "rename the column in the file, or use --source FILE.yml with a column map"
        )
        raise InputError(
            f"{src.label()}: required column '{missing[0]}' for table {src.table} is missing "
            f"(found: {found}). Fix: {hint}."
        )
    if contract.one_of and not any(all(c in mapping for c in g) for g in contract.one_of):
        groups = " or ".join("+".join(g) for g in contract.one_of)
        raise InputError(
            f"{src.label()}: table {src.table} needs {groups} (found: {found}). "
            "Fix: add the columns or map them in a --source file."
        )
    return mapping


def _select_sql(
    src: TableSource,
    mapping: dict[str, str],
    sniffed: dict[str, str],
    row_numbers: bool = False,
) -> str:
    """SELECT producing the contract columns (as read) from the source files.

    A CSV file is read once, as text. When the column map holds expressions, they see
    each column converted (try_cast) to the type DuckDB sniffs for it, so ``a / b`` works
    on numbers, while plain columns keep the text exactly as written.
    """
    contract = CONTRACT[src.table]
    typed = bool(sniffed)
    fmt = src.options.get("timestamp_format")
    parts = []
    for col in contract.columns:
        expr = mapping.get(col.name)
        if expr is None:
            parts.append(f"cast(null as varchar) as {col.name}")
            continue
        if typed and not expr.startswith("("):
            expr = _quote("__text__" + expr.strip('"'))
        if col.kind == "timestamp" and fmt:
            text = f"cast({expr} as varchar)"
            expr = (
                f"coalesce(strftime(try_strptime({text}, {_literal(fmt)}), "
                f"'%Y-%m-%d %H:%M:%S'), {text})"
            )
        parts.append(f"{expr} as {col.name}")
    if row_numbers:
        parts.insert(0, "file_row_number")
    select = ",\n    ".join(parts)
    reader = reader_sql(src, row_numbers=row_numbers)
    if not typed:
        return f"select\n    {select}\nfrom {reader}"
    inner = ", ".join(
        f"try_cast({_quote(name)} as {kind}) as {_quote(name)}, "
        f"{_quote(name)} as {_quote('__text__' + name)}"
        for name, kind in sniffed.items()
    )
    return f"select\n    {select}\nfrom (select {inner} from {reader})"


def load_table(
    con: duckdb.DuckDBPyConnection, src: TableSource, mapping: dict[str, str]
) -> tuple[int, int]:
    """Create ``raw.<table>`` from the source; returns (rows loaded, lines rejected).

    Parquet input becomes a view over the files (no copy: the staging tables read it
    once), numbered by each file's own row numbers; CSV and JSON are copied into a
    table, since re-parsing text on every read would cost more than the copy.
    """
    contract = CONTRACT[src.table]
    cols = ", ".join(contract.column_names)
    if src.file_format == "parquet" and not src.distinct:
        sql = f"create or replace view raw.{src.table} as\n" + _parquet_view_sql(src, mapping)
    else:
        has_expr = any(not is_plain_column(e) for e in src.columns.values())
        typed = has_expr and src.file_format == "csv"
        sniffed = _describe(con, src, typed=True) if typed else {}
        body = _select_sql(src, mapping, sniffed)
        if src.distinct:
            # One row per distinct combination, numbered in order of first appearance so
            # that "the first row" (e.g. a customer's first country) is well defined.
            body = (
                f"select {cols} from (select *, row_number() over () as _n from ({body})) "
                f"group by all order by min(_n)"
            )
        sql = (
            f"create or replace table raw.{src.table} as\n"
            f"select row_number() over () as _row_id, {cols}\nfrom ({body})"
        )
    _clear_rejects(con)
    try:
        con.execute(sql)
        rows = con.execute(f"select count(*) from raw.{src.table}").fetchone()[0]
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(
            f"{src.label()}: loading table {src.table} failed ({first}). "
            f"Fix: check the column map in {src.origin}."
        ) from None
    rejected = 0
    if src.file_format == "csv" and not src.distinct:
        rejected = _keep_rejected_lines(con, src)
    return rows, rejected


def _parquet_view_sql(src: TableSource, mapping: dict[str, str]) -> str:
    """A SELECT over Parquet files with a row id that runs on across files."""
    contract = CONTRACT[src.table]
    cols = ", ".join(contract.column_names)
    parts, offset = [], 0
    for path in src.paths:
        single = TableSource(
            table=src.table,
            paths=[path],
            pattern=str(path),
            file_format="parquet",
            options=src.options,
            columns=src.columns,
            origin=src.origin,
        )
        body = _select_sql(single, mapping, {}, row_numbers=True)
        parts.append(f"select file_row_number + {offset + 1} as _row_id, {cols}\nfrom ({body})")
        rows = duckdb.sql(f"select count(*) from read_parquet({_literal(str(path))})").fetchone()
        offset += int(rows[0])
    return "\nunion all\n".join(parts)


def _clear_rejects(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("reject_errors", "reject_scans"):
        with contextlib.suppress(duckdb.CatalogException):
            con.execute(f"delete from {table}")


def _keep_rejected_lines(con: duckdb.DuckDBPyConnection, src: TableSource) -> int:
    """Move the CSV lines DuckDB rejected into raw.rejected_lines (nothing is dropped).

    One row per rejected line, however many errors DuckDB found in it.
    """
    try:
        n = con.execute(
            "insert into raw.rejected_lines "
            f"select {_literal(src.table)}, line, any_value(csv_line), "
            "string_agg(error_type || ': ' || error_message, '; ') "
            "from reject_errors group by file_id, line"
        ).fetchone()[0]
    except duckdb.CatalogException:
        return 0
    _clear_rejects(con)
    return int(n)


def columns_to_check(
    con: duckdb.DuckDBPyConnection, table: str, mapping: dict[str, str]
) -> list[ColumnSpec]:
    """The contract columns of ``raw.<table>`` whose values can fail to parse: typed
    columns (timestamp, number, integer) that are read as text (CSV, JSON, Parquet
    strings). A column already of a type that always casts to the contract's type (a
    Parquet TIMESTAMP or DOUBLE, say) cannot hold a bad value and is left out."""
    types = {
        name: column_type.split("(")[0]
        for name, column_type in con.execute(
            f"select column_name, column_type from (describe raw.{table})"
        ).fetchall()
    }
    return [
        c
        for c in CONTRACT[table].columns
        if c.name in mapping
        and c.kind in _CAST_TYPES
        and types.get(c.name) not in _ALWAYS_CASTS[c.kind]
    ]


def check_values(
    con: duckdb.DuckDBPyConnection, src: TableSource, mapping: dict[str, str]
) -> list[str]:
    """Stop when a typed column mostly fails to parse; return notes on the few that do.

    One scan of ``raw.<table>`` over :func:`columns_to_check` (none for fully typed
    Parquet files).
    """
    checks = columns_to_check(con, src.table, mapping)
    if not checks:
        return []
    parts = []
    for c in checks:
        target = _CAST_TYPES[c.kind]
        text = f"cast({c.name} as varchar)"
        bad = f"{c.name} is not null and try_cast({text} as {target}) is null"
        parts.append(
            f"count({c.name}), count(*) filter (where {bad}), min({text}) filter (where {bad})"
        )
    row = con.execute(f"select {', '.join(parts)} from raw.{src.table}").fetchone()
    notes = []
    for i, c in enumerate(checks):
        non_null, bad, example = row[3 * i : 3 * i + 3]
        if not bad:
            continue
        source_col = src.columns.get(c.name, c.name)
        what = "timestamps" if c.kind == "timestamp" else "numbers"
        if bad > MAX_BAD_SHARE * non_null:
            if c.kind == "timestamp":
                fix = (
                    "write ISO 8601 timestamps (2024-05-31 14:02:00) or set "
                    "options.timestamp_format (e.g. '%d/%m/%Y %H:%M') in a --source file"
                )
            else:
                fix = (
                    "remove thousands separators/currency signs or map an expression "
                    "in a --source file"
                )
            raise InputError(
                f"{src.label()}: column {source_col} ({src.table}.{c.name}): {bad:,} of "
                f"{non_null:,} values are not {what} (e.g. '{example}'). Fix: {fix}."
            )
        notes.append(
            f"{src.table}.{c.name}: {bad:,} of {non_null:,} values are not {what} "
            f"(e.g. '{example}'); those rows are quarantined"
        )
    return notes


def create_empty(con: duckdb.DuckDBPyConnection, table: str) -> None:
    cols = ", ".join(f"{c} varchar" for c in CONTRACT[table].column_names)
    con.execute(f"create or replace table raw.{table} (_row_id bigint, {cols})")


def load_all(
    db_path: Path, sources: dict[str, TableSource], log: Callable[[str], None] | None = None
) -> dict:
    """Check every input and load it into ``raw`` in the DuckDB file at ``db_path``.

    Raises InputError (one line naming the file, column and fix) on unusable input.
    Returns a summary per table: rows read, lines rejected, notes. Progress goes to this
    module's logger; ``log``, kept for older callers, also receives each message.
    """
    with forward_to(log):
        return _load_all(db_path, sources)


def _load_all(db_path: Path, sources: dict[str, TableSource]) -> dict:
    con = duckdb.connect(str(db_path))
    summary: dict[str, dict] = {}
    try:
        con.execute("create schema if not exists raw")
        con.execute(
            "create or replace table raw.rejected_lines "
            "(table_name varchar, line_number bigint, line varchar, error varchar)"
        )
        con.execute(
            "create or replace table raw.load_manifest (table_name varchar, is_provided boolean, "
            "source varchar, file_format varchar, mapped_columns varchar, rows_read bigint, "
            "lines_rejected bigint, loaded_at timestamp)"
        )
        mappings = {t: resolve_columns(con, s) for t, s in sources.items()}
        for table in CONTRACT:
            started = time.perf_counter()
            src = sources.get(table)
            if src is None:
                create_empty(con, table)
                con.execute(
                    "insert into raw.load_manifest values (?, false, null, null, '', 0, 0, now())",
                    [table],
                )
                summary[table] = {"provided": False, "rows": 0, "rejected": 0, "notes": []}
                continue
            rows, rejected = load_table(con, src, mappings[table])
            notes = check_values(con, src, mappings[table])
            con.execute(
                "insert into raw.load_manifest values (?, true, ?, ?, ?, ?, ?, now())",
                [table, src.label(), src.file_format, ",".join(mappings[table]), rows, rejected],
            )
            summary[table] = {"provided": True, "rows": rows, "rejected": rejected, "notes": notes}
            took = time.perf_counter() - started
            extra = f", {rejected:,} malformed lines kept for quarantine" if rejected else ""
            logger.info(f"loaded {table}: {rows:,} rows from {src.label()}{extra} ({took:.1f} s)")
            for note in notes:
                logger.info(f"  note: {note}")
        con.execute("checkpoint")
    finally:
        con.close()
    return summary
