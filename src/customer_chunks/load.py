"""Check the inputs and load them into the warehouse's ``raw`` schema.

Every source row becomes one ``raw.<table>`` row with a ``_row_id`` (its position in
the input, from 1), so the dbt staging models can account for each one: it is either
staged or quarantined with a reason. CSV lines DuckDB cannot split into the header's
columns are kept in ``raw.rejected_lines`` and quarantined as ``malformed_line``.
Values are kept as written, except timestamps: a ``timestamp_format`` is applied and
a time-zone offset is converted to UTC (see :func:`_timestamp_text`).

Before DuckDB reads anything, :func:`inspect_files` reads each text file to its end
(gzip CRC, encoding, line ends) and turns layouts DuckDB cannot split (whitespace-
aligned, fixed-width, mongoexport) into CSV copies; a ``postgres:`` source's database
is attached read-only first (:mod:`customer_chunks.sources_db`). The loading connection
may then read only the declared files and databases (:func:`_lock_down`) and each
table's load has a time limit (:func:`load_timeout`).
Loading is one DuckDB ``CREATE TABLE ... AS SELECT`` per table: O(rows) time, streamed,
with memory bounded by DuckDB's ``memory_limit``.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import gzip
import logging
import os
import re
import shutil
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import duckdb

from customer_chunks import append as appending
from customer_chunks import flat_files, mongo, sources_db
from customer_chunks.contract import CONTRACT, PRIMARY_TABLES, ColumnSpec, TableContract
from customer_chunks.errors import InputError
from customer_chunks.history import file_sha256
from customer_chunks.logs import forward_to
from customer_chunks.sources import TableSource, check_expression, is_plain_column

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
    return "[" + ", ".join(_literal(str(p)) for p in (src.read_paths or src.paths)) + "]"


def _alias(src: TableSource) -> str:
    """The name a postgres source's database is attached under."""
    return f"source_{src.table}"


def _reads_as_csv(src: TableSource) -> bool:
    """CSV files, and the CSV copies made of other text layouts (mongoexport files)."""
    return src.file_format in ("csv", "mongodb")


def reader_sql(src: TableSource, *, typed: bool = False, row_numbers: bool = False) -> str:
    """The DuckDB table function reading ``src``.

    CSV is read as text (``all_varchar``) so that no value is lost to type sniffing;
    ``typed=True`` sniffs types instead (used only to evaluate expressions).
    ``row_numbers`` adds Parquet's ``file_row_number`` column. A postgres source is
    read from its attached database (typed by the server).
    """
    if src.postgres is not None:
        return sources_db.reader_sql(_alias(src), src.postgres)
    files = _file_list(src)
    if src.file_format == "parquet":
        numbered = ", file_row_number = true" if row_numbers else ""
        return f"read_parquet({files}, union_by_name = true{numbered})"
    if src.file_format == "json":
        return f"read_json_auto({files}, format = 'newline_delimited', union_by_name = true)"
    opts = src.csv_options()
    args = [files, f"header = {_literal(opts.header)}"]
    if opts.delimiter is not None:
        args.append(f"delim = {_literal(opts.delimiter)}")
    if opts.names is not None:
        args.append("names = [" + ", ".join(_literal(n) for n in opts.names) + "]")
    args.append(f"quote = {_literal(opts.quote)}")
    args.append(f"escape = {_literal(opts.escape)}")
    # No encoding: a file in another encoding has been converted to UTF-8 (inspect_files).
    # Given even at their defaults: DuckDB would otherwise guess them from a sample
    # and could skip leading lines or drop lines that start with '#'.
    args.append(f"skip = {opts.skip}")
    args.append(f"comment = {_literal(opts.comment)}")
    if opts.null_strings is not None:
        nulls = opts.null_strings if isinstance(opts.null_strings, list) else [opts.null_strings]
        args.append("nullstr = [" + ", ".join(_literal(n) for n in nulls) + "]")
    if typed:
        args.append("sample_size = 20480")
        args.append("ignore_errors = true")
    else:
        args.append("all_varchar = true")
        args.append("store_rejects = true")
    return f"read_csv({', '.join(args)})"


# A load (one table) is stopped after this many seconds, plus LOAD_SECONDS_PER_GB for
# each GB of input on disk; $CUSTOMER_CHUNKS_LOAD_TIMEOUT (seconds) replaces both.
LOAD_SECONDS_BASE = 300
LOAD_SECONDS_PER_GB = 1200
TIMEOUT_ENV = "CUSTOMER_CHUNKS_LOAD_TIMEOUT"
_CHUNK = 1 << 20


def load_timeout(src: TableSource) -> float:
    """Seconds one table's load may take before it is interrupted."""
    given = os.environ.get(TIMEOUT_ENV)
    if given:
        try:
            seconds = float(given)
        except ValueError:
            raise InputError(f"{TIMEOUT_ENV}={given!r} is not a number of seconds.") from None
        if seconds > 0:
            return seconds
    size = sum(p.stat().st_size for p in src.paths if p.exists())
    return LOAD_SECONDS_BASE + LOAD_SECONDS_PER_GB * size / 1e9


def inspect_files(src: TableSource, scratch: Path) -> TableSource:
    """Read each text input to its end before DuckDB does; return the source to load.

    Layouts DuckDB cannot split itself become an RFC 4180 CSV copy in ``scratch``:
    whitespace-aligned and fixed-width text (:mod:`customer_chunks.flat_files`) and
    mongoexport files (:mod:`customer_chunks.mongo`, whose unreadable lines are kept in
    ``rejected_lines``).

    A ``.gz`` file is decompressed in full so that a truncated or damaged archive
    (gzip's CRC) stops the load with a clear error: DuckDB's reader otherwise loads the
    readable part and, on some damage, spins in its error handling. A CSV file in
    another encoding than UTF-8 (``options.encoding``) is converted to a UTF-8 copy in
    ``scratch``, and one with both CRLF and LF line ends (which DuckDB's strict reader
    refuses) is read from a copy with every CRLF turned into LF. One or two passes over
    each file, 1 MB of memory; Parquet files carry their own checks and are not read.
    """
    if src.file_format in ("parquet", "postgres"):
        return src
    options = src.csv_options()
    if src.file_format == "mongodb":
        return _mongo_copy(src, scratch)
    transcode = src.file_format == "csv" and not options.is_utf8
    layout = src.file_format == "csv" and flat_files.needs_copy(options)
    read_paths: list[Path] = []
    for i, path in enumerate(src.paths):
        current = path
        if transcode:
            current = scratch / f"{src.table}_{i}.utf8.csv"
            _transcode(path, current, options.encoding)
        if layout:
            copy = scratch / f"{src.table}_{i}.split.csv"
            with _reading(path):
                flat_files.to_csv(current, copy, options, str(path))
            read_paths.append(copy)
            continue
        crlf, lf = _count_line_ends(current)
        if src.file_format == "csv" and 0 < crlf < lf:
            copy = scratch / f"{src.table}_{i}.lf.csv"
            _normalise_line_ends(current, copy)
            logger.info(
                f"  note: {path}: {crlf:,} of {lf:,} lines end in CRLF, the rest in LF; "
                "read with every line ending in LF"
            )
            current = copy
        read_paths.append(current)
    if read_paths == src.paths:
        return src
    options_read = {**src.options, "encoding": "utf-8"} if transcode else src.options
    if layout:
        options_read = _copy_options(options_read)
    return dataclasses.replace(src, read_paths=read_paths, options=options_read)


def _copy_options(options: dict) -> dict:
    """The reading options of a CSV copy made by flat_files or mongo: its own layout,
    the source file's timestamp, time-zone and null settings."""
    kept = {k: v for k, v in options.items() if k not in flat_files.LAYOUT_KEYS}
    return {**kept, **flat_files.COPY_OPTIONS, "encoding": "utf-8"}


def _mongo_copy(src: TableSource, scratch: Path) -> TableSource:
    unnest = src.csv_options().unnest
    mapped = [c.strip() for c in src.columns.values() if is_plain_column(c)]
    read_paths, rejected = [], []
    for i, path in enumerate(src.paths):
        copy = scratch / f"{src.table}_{i}.mongo.csv"
        with _reading(path):
            _documents, bad = mongo.to_csv(path, copy, unnest, str(path), mapped)
        rejected += [(n, line, f"{path.name} line {n}: {error}") for n, line, error in bad]
        read_paths.append(copy)
        if bad:
            logger.info(f"  note: {path}: {len(bad):,} lines are not JSON documents; quarantined")
    return dataclasses.replace(
        src, read_paths=read_paths, options=_copy_options(src.options), rejected_lines=rejected
    )


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


@contextlib.contextmanager
def _reading(path: Path):
    """Turn a damaged archive or an unreadable file into one clear InputError."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(
            f"{path}: the gzip archive is damaged ({exc}); nothing was loaded. Fix: copy or "
            f"export the file again (`gzip -t {path.name}` checks it)."
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc}).") from None


def _count_line_ends(path: Path) -> tuple[int, int]:
    crlf = lf = 0
    last = b""
    with _reading(path), _open(path) as handle:
        while chunk := handle.read(_CHUNK):
            crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            lf += chunk.count(b"\n")
            last = chunk[-1:]
    return crlf, lf


def _transcode(path: Path, copy: Path, encoding: str) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with _reading(path), _open(path) as source, open(copy, "wb") as target:
        try:
            while chunk := source.read(_CHUNK):
                target.write(decoder.decode(chunk).encode("utf-8"))
                offset += len(chunk)
            target.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: byte {offset + exc.start:,} is not {encoding} ({exc.reason}). "
                "Fix: set options.encoding to the file's encoding, or save it as UTF-8."
            ) from None


def _normalise_line_ends(path: Path, copy: Path) -> None:
    with _reading(path), _open(path) as source, open(copy, "wb") as target:
        carry = b""
        while chunk := source.read(_CHUNK):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""
            target.write(chunk[: len(chunk) - len(carry)].replace(b"\r\n", b"\n"))
        target.write(carry)


def _describe(con: duckdb.DuckDBPyConnection, src: TableSource, typed: bool = False) -> dict:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {reader_sql(src, typed=typed)}").fetchall()
    except duckdb.Error as exc:
        raise read_error(src, exc, f"cannot read it as {src.file_format}") from None
    return {r[0]: r[1] for r in rows}


def read_error(src: TableSource, exc: Exception, what: str) -> InputError:
    """A one-line InputError for a DuckDB error while reading ``src``, with the fix that
    fits the error (encoding, quoting/line ends, column map, file type)."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    lower = text.lower()
    if "encoding" in lower or "encoded" in lower or "unicode" in lower:
        fix = (
            "the file is not UTF-8: set options.encoding (e.g. latin-1, cp1252 or utf-16) in "
            "a --source file, or save the file as UTF-8"
        )
    elif "sniffing" in lower or "state machine" in lower or "quote" in lower:
        fix = (
            "the file cannot be split into columns with RFC 4180 quoting (a quote that is "
            "never closed, or another delimiter): check the file, or set options.delimiter "
            "and options.quote ('' when fields are never quoted) in a --source file"
        )
    elif isinstance(exc, duckdb.BinderException | duckdb.ConversionException) or (
        "binder error" in lower or "conversion error" in lower
    ):
        fix = f"check the column map in {src.origin}"
    elif src.postgres is not None:
        fix = f"check postgres.table / postgres.query in {src.origin}"
    elif src.file_format == "csv":
        fix = "check the file is a CSV file and set options.delimiter/header in a --source file"
    else:
        fix = f"check the file is a {src.file_format} file"
    if src.postgres is not None:
        first = sources_db.scrub(first, src.postgres)
    return InputError(f"{src.label()}: {what} ({first}). Fix: {fix}.")


def resolve_columns(con: duckdb.DuckDBPyConnection, src: TableSource) -> dict[str, str]:
    """Check the column map against the file's header; return contract column -> SQL.

    For a data folder (empty map) contract columns are matched by name, ignoring case.
    """
    contract: TableContract = src.contract
    header = _describe(con, src)
    if _reads_as_csv(src) and len(header) == 1:
        (only,) = header
        if any(ch in only for ch in ",;\t|"):
            raise InputError(
                f"{src.label()}: the header reads as one column ('{only[:60]}'): the file "
                "cannot be split into columns with RFC 4180 quoting (a quote that is never "
                "closed?) and the delimiter found. Fix: check the file, or set "
                "options.delimiter and options.quote ('' when fields are never quoted) in a "
                "--source file."
            )
    by_lower = {name.lower(): name for name in header}
    found = ", ".join(header) or "none"
    mapping: dict[str, str] = {}
    if not src.columns:  # --data DIR: names are the contract's
        for col in contract.column_names:
            if col in by_lower:
                mapping[col] = _quote(by_lower[col])
    else:
        for col, expr in src.columns.items():
            name = expr.strip().lower()
            structs = src.file_format in ("json", "parquet", "postgres")
            if is_plain_column(expr) and "." in name and name not in by_lower and structs:
                # not a dotted field name of this file: a struct field access (JSON)
                problem = check_expression(expr)
                if problem:
                    raise InputError(
                        f"{src.label()}: column '{expr.strip()}' (mapped to {src.table}.{col} "
                        f"in {src.origin}) is not in the file (found: {found}). "
                        "Fix: correct the column map."
                    )
                mapping[col] = f"({expr})"
            elif is_plain_column(expr):
                if name not in by_lower:
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
    text_sources: frozenset[str] = frozenset(),
) -> str:
    """SELECT producing the contract columns (as read) from the source files.

    A CSV file is read once, as text. When the column map holds expressions, they see
    each column converted (try_cast) to the type DuckDB sniffs for it, so ``a / b`` works
    on numbers, while plain columns keep the text exactly as written.
    """
    contract = src.contract
    typed = bool(sniffed)
    options = src.csv_options()
    parts = []
    for col in contract.columns:
        expr = mapping.get(col.name)
        if expr is None:
            parts.append(f"cast(null as varchar) as {_quote(col.name)}")
            continue
        # A typed Parquet timestamp stays typed (no zone to convert, nothing to parse);
        # text timestamps, from any format, are normalised.
        is_text = (
            src.file_format != "parquet"
            or options.timestamp_format is not None
            or expr.strip('"') in text_sources
        )
        if typed and not expr.startswith("("):
            expr = _quote("__text__" + expr.strip('"'))
        if col.kind == "timestamp" and is_text:
            expr = _timestamp_text(expr, options.timestamp_format, options.timezone)
        parts.append(f"{expr} as {_quote(col.name)}")
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


# A timestamp written with a time zone: ISO date, time, then Z or an offset.
_WITH_OFFSET = (
    r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)\s*$"
)
# Offsets that exist on Earth: -14:00 .. +14:00.
_REAL_OFFSET = r"([Zz]|[+-](0\d|1[0-4])(:?[0-5]\d)?)\s*$"
UNCONVERTIBLE = "unconvertible time zone: "


def _timestamp_text(expr: str, timestamp_format: str | None, timezone: str | None) -> str:
    """SQL turning a timestamp column into ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text.

    ``timestamp_format`` (strptime) is applied first; a value that does not match it is
    kept as written. A value carrying a time zone (``Z``, ``+05:00``, ``-0800``) is
    converted to UTC, or to the source file's ``timezone``, and the zone is dropped;
    one whose offset is not a real one (beyond +-14:00) is prefixed with
    ``unconvertible time zone:`` so that staging quarantines it as
    ``unparseable_timestamp`` with its value. Values without a zone are left as they are.
    """
    text = f"cast({expr} as varchar)"
    if timestamp_format:
        text = (
            f"coalesce(strftime(try_strptime({text}, {_literal(timestamp_format)}), "
            f"'%Y-%m-%d %H:%M:%S'), {text})"
        )
    converted = (
        f"strftime(timezone({_literal(timezone or 'UTC')}, try_cast(trim({text}) as timestamptz)), "
        "'%Y-%m-%d %H:%M:%S.%f')"
    )
    return (
        f"(case when not regexp_matches({text}, {_literal(_WITH_OFFSET)}) then {text} "
        f"when regexp_matches({text}, {_literal(_REAL_OFFSET)}) "
        f"then coalesce({converted}, {_literal(UNCONVERTIBLE)} || {text}) "
        f"else {_literal(UNCONVERTIBLE)} || {text} end)"
    )


def load_table(
    con: duckdb.DuckDBPyConnection,
    src: TableSource,
    mapping: dict[str, str],
    relation: str | None = None,
    first_row_id: int = 1,
) -> tuple[int, int]:
    """Create ``raw.<relation>`` (default ``raw.<table>``) from the source; returns
    (rows loaded, lines rejected). Row ids start at ``first_row_id``.

    Parquet input becomes a view over the files (no copy: the staging tables read it
    once), numbered by each file's own row numbers; CSV and JSON are copied into a
    table, since re-parsing text on every read would cost more than the copy. A batch
    appended by ``run --append`` (``relation`` given) is always copied into a table.
    """
    contract = src.contract
    cols = ", ".join(_quote(c) for c in contract.column_names)
    relation = relation or src.table
    if src.file_format == "parquet" and not src.distinct:
        kind = "view" if relation == src.table else "table"
        sql = f"create or replace {kind} raw.{relation} as\n" + _parquet_view_sql(
            src, mapping, first_row_id
        )
    else:
        has_expr = any(not is_plain_column(e) for e in src.columns.values())
        typed = has_expr and _reads_as_csv(src)
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
            f"create or replace table raw.{relation} as\n"
            f"select row_number() over () + {first_row_id - 1} as _row_id, {cols}\n"
            f"from ({body})"
        )
    _clear_rejects(con)
    limit = load_timeout(src)
    timer = threading.Timer(limit, con.interrupt)
    timer.start()
    try:
        con.execute(sql)
        rows = con.execute(f"select count(*) from raw.{relation}").fetchone()[0]
    except duckdb.InterruptException:
        raise InputError(
            f"{src.label()}: loading table {src.table} took more than {limit:g} s and was "
            "stopped; the load did not finish. Fix: check the file is intact (a damaged file "
            f"can make the CSV reader spin), or raise {TIMEOUT_ENV} (seconds)."
        ) from None
    except duckdb.Error as exc:
        raise read_error(src, exc, f"loading table {src.table} failed") from None
    finally:
        timer.cancel()
    rejected = 0
    if _reads_as_csv(src) and not src.distinct:
        rejected = _keep_rejected_lines(con, src)
    if src.rejected_lines and not src.distinct:
        con.executemany(
            "insert into raw.rejected_lines values (?, ?, ?, ?)",
            [[src.table, number, line, error] for number, line, error in src.rejected_lines],
        )
        rejected += len(src.rejected_lines)
    return rows, rejected


def _parquet_view_sql(src: TableSource, mapping: dict[str, str], first_row_id: int = 1) -> str:
    """A SELECT over Parquet files with a row id that runs on across files."""
    contract = src.contract
    cols = ", ".join(_quote(c) for c in contract.column_names)
    parts, offset = [], first_row_id - 1
    for path in src.paths:
        single = TableSource(
            table=src.table,
            paths=[path],
            pattern=str(path),
            file_format="parquet",
            options=src.options,
            columns=src.columns,
            origin=src.origin,
            extra_columns=src.extra_columns,
        )
        types = duckdb.sql(f"describe select * from read_parquet({_literal(str(path))})")
        text_sources = frozenset(r[0] for r in types.fetchall() if r[1] == "VARCHAR")
        body = _select_sql(single, mapping, {}, row_numbers=True, text_sources=text_sources)
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


def _shown(value: object) -> str:
    """A value for a one-line message: escaped when it holds a line break or another
    control character, and cut at 80 characters."""
    text = str(value)
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= 80 else shown[:77] + "..."


def columns_to_check(
    con: duckdb.DuckDBPyConnection,
    table: str,
    mapping: dict[str, str],
    contract: TableContract | None = None,
    relation: str | None = None,
) -> list[ColumnSpec]:
    """The contract columns of ``raw.<table>`` whose values can fail to parse: typed
    columns (timestamp, number, integer) that are read as text (CSV, JSON, Parquet
    strings). A column already of a type that always casts to the contract's type (a
    Parquet TIMESTAMP or DOUBLE, say) cannot hold a bad value and is left out."""
    types = {
        name: column_type.split("(")[0]
        for name, column_type in con.execute(
            f"select column_name, column_type from (describe raw.{relation or table})"
        ).fetchall()
    }
    return [
        c
        for c in (contract or CONTRACT[table]).columns
        if c.name in mapping
        and c.kind in _CAST_TYPES
        and types.get(c.name) not in _ALWAYS_CASTS[c.kind]
    ]


def check_values(
    con: duckdb.DuckDBPyConnection,
    src: TableSource,
    mapping: dict[str, str],
    relation: str | None = None,
) -> list[str]:
    """Stop when a typed column mostly fails to parse; return notes on the few that do.

    One scan of ``raw.<table>`` over :func:`columns_to_check` (none for fully typed
    Parquet files).
    """
    relation = relation or src.table
    checks = columns_to_check(con, src.table, mapping, src.contract, relation)
    if not checks:
        return []
    parts = []
    for c in checks:
        target = _CAST_TYPES[c.kind]
        name = _quote(c.name)
        text = f"cast({name} as varchar)"
        bad = f"{name} is not null and try_cast({text} as {target}) is null"
        parts.append(
            f"count({name}), count(*) filter (where {bad}), min({text}) filter (where {bad})"
        )
    row = con.execute(f"select {', '.join(parts)} from raw.{relation}").fetchone()
    notes = []
    for i, c in enumerate(checks):
        non_null, bad, example = row[3 * i : 3 * i + 3]
        if not bad:
            continue
        source_col = src.columns.get(c.name, c.name)
        what = "timestamps" if c.kind == "timestamp" else "numbers"
        if bad > MAX_BAD_SHARE * non_null:
            if c.kind == "timestamp":
                # a date-only YYYYMMDD value (19970101) is common in flat exports
                shape = (
                    "%Y%m%d" if re.fullmatch(r"\d{8}", str(example).strip()) else "%d/%m/%Y %H:%M"
                )
                fix = (
                    "write ISO 8601 timestamps (2024-05-31 14:02:00) or set "
                    f"options.timestamp_format (e.g. '{shape}') in a --source file"
                )
            else:
                fix = (
                    "remove thousands separators/currency signs or map an expression "
                    "in a --source file"
                )
            raise InputError(
                f"{src.label()}: column {source_col} ({src.table}.{c.name}): {bad:,} of "
                f"{non_null:,} values are not {what} (e.g. '{_shown(example)}'). Fix: {fix}."
            )
        notes.append(
            f"{src.table}.{c.name}: {bad:,} of {non_null:,} values are not {what} "
            f"(e.g. '{_shown(example)}'); those rows are quarantined"
        )
    return notes


def create_empty(con: duckdb.DuckDBPyConnection, table: str) -> None:
    cols = ", ".join(f"{c} varchar" for c in CONTRACT[table].column_names)
    con.execute(f"create or replace table raw.{table} (_row_id bigint, {cols})")


def _lock_down(
    con: duckdb.DuckDBPyConnection, sources: dict[str, TableSource], earlier: list[str] = ()
) -> None:
    """Limit the loading connection to the declared input files (and its own spill
    folder): a column expression, even one that slipped past the source-file checks,
    cannot read or write any other file, and cannot lift the limit. ``earlier``: the
    files an append run's warehouse loaded before (its Parquet views read them)."""
    paths = set(earlier)
    for src in sources.values():
        for path in [*src.paths, *(src.read_paths or [])]:
            paths.update({str(path), str(path.resolve())})
    temp = con.execute("select current_setting('temp_directory')").fetchone()[0]
    # postgres sources were attached before: the scan of an attached database goes on
    # under enable_external_access = false, while ATTACH, INSTALL and LOAD are refused.
    con.execute(f"set allowed_paths = [{', '.join(_literal(p) for p in sorted(paths))}]")
    if temp:
        con.execute(f"set allowed_directories = [{_literal(temp)}]")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


def check_rejected(
    con: duckdb.DuckDBPyConnection, src: TableSource, rows: int, rejected: int
) -> list[str]:
    """Stop when the input has no rows, or when most lines cannot be split into
    columns (the same MAX_BAD_SHARE rule as for values); note encoding trouble."""
    total = rows + rejected
    if total == 0:
        if src.table in PRIMARY_TABLES:
            raise InputError(
                f"{src.label()}: {src.table} has no rows (only a header, or an empty file). "
                "Fix: export the table again, or point the source at the right file."
            )
        return [f"{src.table}: the file has no rows"]
    if not rejected:
        return []
    encoding_errors, example = con.execute(
        "select count(*) filter (where error ilike '%encoding%'), min(error) "
        "from raw.rejected_lines where table_name = ?",
        [src.table],
    ).fetchone()
    if encoding_errors:
        fix = (
            "the file is not UTF-8: set options.encoding (e.g. latin-1, cp1252 or utf-16) in "
            "a --source file, or save the file as UTF-8"
        )
    elif src.file_format == "mongodb":
        fix = (
            "export the collection with mongoexport (one JSON document per line, not "
            "--jsonArray), or check the file is the export"
        )
    else:
        fix = (
            "check the delimiter and quoting (options.delimiter, options.quote) in a --source file"
        )
    if rejected > MAX_BAD_SHARE * total:
        raise InputError(
            f"{src.label()}: {rejected:,} of {total:,} lines cannot be read "
            f"({str(example).splitlines()[0][:120]}). Fix: {fix}."
        )
    notes = [f"{src.table}: {rejected:,} of {total:,} lines cannot be read; quarantined"]
    if encoding_errors:
        notes.append(f"{src.table}: {encoding_errors:,} lines are not UTF-8. Fix: {fix}")
    return notes


def load_all(
    db_path: Path,
    sources: dict[str, TableSource],
    log: Callable[[str], None] | None = None,
    append: bool = False,
) -> dict:
    """Check every input and load it into ``raw`` in the DuckDB file at ``db_path``.

    ``append``: ``db_path`` holds an earlier run's warehouse; load only the files it has
    not loaded (see :mod:`customer_chunks.append`) after its rows.

    Raises InputError (one line naming the file, column and fix) on unusable input.
    Returns a summary per table: rows read, lines rejected, notes. The connection can
    read only the declared input files (see :func:`_lock_down`); each table's load is
    stopped after :func:`load_timeout` seconds. Progress goes to this module's logger;
    ``log``, kept for older callers, also receives each message.
    """
    with forward_to(log):
        return _load_all(db_path, sources, append)


def _load_all(db_path: Path, sources: dict[str, TableSource], append: bool = False) -> dict:
    db_path = Path(db_path)
    scratch = db_path.with_name(f"{db_path.name}.inputs")  # converted copies, if any
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    databases = {t: s for t, s in sources.items() if s.postgres is not None}
    config = sources_db.connect_config(scratch / "duckdb_extensions") if databases else {}
    con = duckdb.connect(str(db_path), config=config)
    summary: dict[str, dict] = {}
    try:
        previous = None
        if append:
            batches, watermarks = appending.plan(con, sources)
            previous = appending.previous_dates(con)
            sources = {t: b.source for t, b in batches.items()}
        else:
            watermarks = dict.fromkeys(CONTRACT, 0)
        sources = {t: inspect_files(s, scratch) for t, s in sources.items()}
        if databases:
            sources_db.load_extension(con)
            for src in databases.values():
                sources_db.attach(con, _alias(src), src.postgres, src.origin)
        _lock_down(con, sources, appending.loaded_paths(con) if append else [])
        if not append:
            # a full load replaces every raw relation, including an append's batches
            con.execute("drop schema if exists raw cascade")
        con.execute("create schema if not exists raw")
        if not append:
            con.execute(
                "create or replace table raw.rejected_lines "
                "(table_name varchar, line_number bigint, line varchar, error varchar)"
            )
            con.execute(
                "create or replace table raw.load_manifest (table_name varchar, "
                "is_provided boolean, source varchar, file_format varchar, mapped_columns "
                "varchar, rows_read bigint, lines_rejected bigint, loaded_at timestamp)"
            )
            appending.create_ledger(con)
        mappings = {t: resolve_columns(con, s) for t, s in sources.items()}
        for table in CONTRACT:
            started = time.perf_counter()
            src = sources.get(table)
            if append:
                if src is not None:
                    summary[table] = _append_batch(con, batches[table], src, mappings[table])
                continue
            if src is None:
                create_empty(con, table)
                con.execute(
                    "insert into raw.load_manifest values (?, false, null, null, '', 0, 0, now())",
                    [table],
                )
                summary[table] = {"provided": False, "rows": 0, "rejected": 0, "notes": []}
                continue
            rows, rejected = load_table(con, src, mappings[table])
            notes = check_rejected(con, src, rows, rejected)
            notes += check_values(con, src, mappings[table])
            con.execute(
                "insert into raw.load_manifest values (?, true, ?, ?, ?, ?, ?, now())",
                [table, src.label(), src.file_format, ",".join(mappings[table]), rows, rejected],
            )
            appending.record(con, table, _hashes(src), 0, 1, rows)
            summary[table] = {"provided": True, "rows": rows, "rejected": rejected, "notes": notes}
            took = time.perf_counter() - started
            extra = f", {rejected:,} malformed lines kept for quarantine" if rejected else ""
            logger.info(f"loaded {table}: {rows:,} rows from {src.label()}{extra} ({took:.1f} s)")
            for note in notes:
                logger.info(f"  note: {note}")
        if summary.get("customer_features", {}).get("provided"):
            logger.info(f"note: {CUSTOMER_LEVEL_NOTE}")
        appending.write_watermarks(con, watermarks, previous)
        con.execute("checkpoint")
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return summary


# What a customer_features input (no order lines) leaves out, said in the run log.
CUSTOMER_LEVEL_NOTE = (
    "customer_features input: features are taken as given, one row per customer, with no "
    "order lines; skipped: features from order lines, the high-value model (probabilities "
    "null) and customer lifetime value (null); RFM scores only for customers with "
    "recency_days, frequency and monetary given"
)


def _hashes(src: TableSource) -> dict[Path, str]:
    return {path: file_sha256(path) for path in src.paths}


def _append_batch(
    con: duckdb.DuckDBPyConnection, batch: appending.Batch, src: TableSource, mapping: dict
) -> dict:
    """Load one table's new files after its earlier rows (``run --append``)."""
    started = time.perf_counter()
    table = src.table
    known = con.execute(
        "select mapped_columns from raw.load_manifest where table_name = ?", [table]
    ).fetchone()
    if known and known[0] != ",".join(mapping):
        raise InputError(
            f"{src.label()}: maps the columns {','.join(mapping)} of {table}, the warehouse "
            f"was built from {known[0]}. Fix: run without --append (a full rebuild)."
        )
    relation = f"{table}__batch{batch.number}"
    rows, rejected = load_table(con, src, mapping, relation, batch.first_row_id)
    notes = check_rejected(con, src, rows, rejected)
    notes += check_values(con, src, mapping, relation)
    appending.union_batches(con, table, relation)
    con.execute(
        "update raw.load_manifest set rows_read = rows_read + ?, lines_rejected = "
        "lines_rejected + ?, source = ?, loaded_at = now() where table_name = ?",
        [rows, rejected, batch.label, table],
    )
    appending.record(con, table, batch.hashes, batch.number, batch.first_row_id, rows)
    took = time.perf_counter() - started
    logger.info(
        f"appended {table}: {rows:,} rows (ids from {batch.first_row_id:,}) from "
        f"{src.label()} ({took:.1f} s)"
    )
    for note in notes:
        logger.info(f"  note: {note}")
    return {"provided": True, "rows": rows, "rejected": rejected, "notes": notes}
