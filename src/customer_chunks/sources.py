"""Where the input tables come from: a data folder (`--data DIR`) or a source file
(`--source FILE.yml`).

Both end as one :class:`TableSource` per contract table. A source file lets data shaped
differently be mapped onto the contract without code; its format is documented in the
README ("Source files", "Trust and safety") and ``examples/online_retail.yml`` is a
worked example.

A source file is data, not code: its schema is the pydantic model :class:`SourceFile`
(the one home of every key, type and default), YAML anchors/aliases are refused, paths
are taken literally (no ``$VARS``) and must stay in the file's folder unless the file
says ``allow_outside_folder: true``, and each column expression must parse as one
scalar DuckDB expression without subqueries or table functions
(:func:`check_expression`).
"""

from __future__ import annotations

import codecs
import glob
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from customer_chunks.contract import (
    CONTRACT,
    FILE_FORMATS,
    PRIMARY_TABLES,
    TableContract,
    with_extra_columns,
)
from customer_chunks.errors import InputError

# A source column name: letters, digits, '_' and ' ', with '.' between parts for the
# dotted names of nested fields (a MongoDB export's ``customer.id``).
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*(\.[A-Za-z_][A-Za-z0-9_ ]*)*$")
# A source file is a few dozen lines; anything far larger is not one.
MAX_SOURCE_FILE_BYTES = 1_000_000
WHITESPACE = "whitespace"
TableName = Literal[tuple(CONTRACT)]  # type: ignore[valid-type]
# The name of an extra column of a customer_features table: it becomes a feature name
# (in SQL, in segmentation_features and in the marts), so lower-case letters, digits and
# '_' only, and short enough for every engine's identifiers.
EXTRA_COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
# Names an extra column may not take: every contract column (a feature, a demographic)
# and the other columns of the customer feature table it joins.
RESERVED_FEATURE_NAMES = frozenset(
    {c for t in CONTRACT.values() for c in t.column_names}
    | {"snapshot_name", "snapshot_date", "first_purchase_at", "last_purchase_at", "emails_sent"}
    | {"has_unsubscribed", "has_web_events", "has_engagement_events", "source_row_id"}
)


class CsvOptions(BaseModel):
    """How a CSV file is read. The defaults are RFC 4180: a comma-free guess is never
    made about quoting, so a quoted field holding the delimiter, a doubled quote or a
    line break is read the same way wherever it appears in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # One to four characters, or the word ``whitespace``: fields split on runs of spaces
    # and tabs, leading and trailing blanks ignored (a whitespace-aligned export).
    delimiter: Annotated[StrictStr, Field(min_length=1)] | None = None
    # Fixed-width columns: the width of each field in characters, left to right.
    widths: Annotated[list[Annotated[StrictInt, Field(ge=1)]], Field(min_length=1)] | None = None
    header: StrictBool = True
    # Column names for a file without a header (header: false); otherwise DuckDB names
    # them column0, column1, ...
    names: Annotated[list[StrictStr], Field(min_length=1)] | None = None
    quote: Annotated[StrictStr, Field(max_length=1)] = '"'
    escape: Annotated[StrictStr, Field(max_length=1)] = '"'
    skip: Annotated[StrictInt, Field(ge=0)] = 0
    # Lines starting with this are comments; none by default (DuckDB's own guess
    # dropped every line whose first field starts with '#').
    comment: Annotated[StrictStr, Field(max_length=1)] = ""
    # Any encoding Python knows (latin-1, cp1252, utf-16, shift_jis, ...); a file not in
    # UTF-8 is converted to UTF-8 before DuckDB reads it.
    encoding: StrictStr = "utf-8"
    timestamp_format: StrictStr | None = None
    date_format: StrictStr | None = None
    null_strings: StrictStr | list[StrictStr] | None = None
    timezone: StrictStr | None = None
    # format: mongodb only: a dotted path to an array (e.g. ``items``) whose elements
    # become one row each, beside the document's other fields.
    unnest: StrictStr | None = None

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 4 and value != WHITESPACE:
            raise ValueError(f"must be 1 to 4 characters or '{WHITESPACE}', got {value!r}")
        return value

    @model_validator(mode="after")
    def _layout(self) -> CsvOptions:
        if self.widths is not None and self.delimiter is not None:
            raise ValueError("give either delimiter or widths (fixed-width columns), not both")
        if self.names is not None:
            if self.header:
                raise ValueError("names are for a file without a header: add header: false")
            if len(set(self.names)) != len(self.names):
                raise ValueError("names must be different from each other")
            if self.widths is not None and len(self.names) != len(self.widths):
                raise ValueError(
                    f"{len(self.names)} names for {len(self.widths)} widths: give one name "
                    "per field"
                )
        return self

    @property
    def is_whitespace(self) -> bool:
        return self.delimiter == WHITESPACE

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r} (use e.g. utf-8, latin-1, cp1252 or utf-16)"
            ) from None
        return value

    @property
    def is_utf8(self) -> bool:
        return codecs.lookup(self.encoding).name == "utf-8"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in _zones():
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)")
        return value


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


class PostgresSource(BaseModel):
    """A table or query on a PostgreSQL server, read through DuckDB's postgres extension
    over a read-only connection (see :mod:`customer_chunks.sources_db`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # A libpq URL (postgresql://user@host:port/db) or key=value string. A password is
    # better left to PGPASSWORD or ~/.pgpass; one written here is never shown.
    url: Annotated[StrictStr, Field(min_length=1)]
    schema_: StrictStr = Field(default="public", alias="schema")
    table: StrictStr | None = None
    # One SELECT, run on the server as written (read-only transaction).
    query: StrictStr | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgresSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("needs exactly one of 'table' or 'query'")
        return self


class TableEntry(BaseModel):
    """One table of a source file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: StrictStr | None = None
    from_: StrictStr | None = Field(default=None, alias="from")
    postgres: PostgresSource | None = None
    format: Literal["csv", "parquet", "json", "mongodb"] | None = None
    options: CsvOptions = CsvOptions()
    columns: dict[StrictStr, StrictStr]
    # customer_features only: numeric columns to segment on beyond the contract's
    # features, new feature name -> source column or expression.
    extra_columns: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    distinct: StrictBool = False

    @model_validator(mode="after")
    def _path_or_from(self) -> TableEntry:
        given = [k for k in ("path", "from_", "postgres") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "needs exactly one of 'path' (a file or glob), 'from' (another table) or "
                "'postgres' (a database table or query)"
            )
        if not self.columns:
            raise ValueError("columns: map each contract column to a source column")
        if self.options.unnest is not None and self.format != "mongodb":
            raise ValueError("options.unnest is for format: mongodb (a mongoexport file)")
        if self.postgres is not None and self.format is not None:
            raise ValueError("format does not apply to a postgres table: remove it")
        for name in self.extra_columns:
            if not EXTRA_COLUMN_NAME.match(name):
                raise ValueError(
                    f"extra_columns: {name!r} is not a usable feature name (lower-case "
                    "letters, digits and '_', starting with a letter, at most 60 characters)"
                )
            if name in RESERVED_FEATURE_NAMES:
                raise ValueError(
                    f"extra_columns: {name!r} is a contract column: map it under columns:, "
                    "or give the extra column another name"
                )
        return self


class SourceFile(BaseModel):
    """A source file: ``tables:`` with one entry per contract table."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    # Paths outside the source file's folder (``../data``, ``/srv/x``) are refused
    # unless this is true: a shared source file must not reach files by surprise.
    allow_outside_folder: StrictBool = False
    tables: dict[TableName, TableEntry]
    # dbt vars that suit this data (e.g. segmentation_features naming a customer_features
    # table's extra columns); checked like --var, and a --var of the same key wins.
    vars: dict[StrictStr, Any] = Field(default_factory=dict)


@dataclass
class TableSource:
    """One contract table's input: files, how to read them and how columns map.

    ``columns`` maps a contract column to a source column name or a DuckDB SQL
    expression over the source columns. ``options`` holds the CSV options that were
    given; :class:`CsvOptions` supplies the defaults for the rest.
    """

    table: str
    paths: list[Path]
    pattern: str
    file_format: str
    options: dict = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    distinct: bool = False
    origin: str = ""  # where this definition came from, for error messages
    # The files actually read, when the loader had to use a checked copy (e.g. a CSV
    # with mixed line ends); messages keep naming ``paths``.
    read_paths: list[Path] | None = None
    # A database table or query instead of files (file_format "postgres").
    postgres: PostgresSource | None = None
    # Lines found unreadable before DuckDB reads the files (a mongoexport line that is
    # not a JSON document): (line number, line, error), quarantined as malformed_line.
    rejected_lines: list[tuple[int, str, str]] = field(default_factory=list)
    # customer_features: the names of the extra numeric columns (also keys of
    # ``columns``), loaded after the contract's columns.
    extra_columns: tuple[str, ...] = ()

    @property
    def contract(self) -> TableContract:
        """The table's contract, with a numeric column per extra column."""
        return with_extra_columns(CONTRACT[self.table], self.extra_columns)

    def label(self) -> str:
        if self.postgres is not None:
            from customer_chunks.sources_db import describe_postgres

            return describe_postgres(self.postgres)
        return self.pattern if len(self.paths) != 1 else str(self.paths[0])

    def csv_options(self) -> CsvOptions:
        return CsvOptions.model_validate(self.options)


def _format_for(path: Path) -> str | None:
    name = path.name.lower()
    for ending in sorted(FILE_FORMATS, key=len, reverse=True):
        if name.endswith(ending):
            return FILE_FORMATS[ending]
    return None


def from_data_dir(data_dir: Path) -> dict[str, TableSource]:
    """Find ``<table>.<ext>`` files in ``data_dir``; contract column names are used as is."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(
            f"{data_dir}: no such folder. Fix: pass --data a folder holding transactions.csv "
            "(or .parquet/.jsonl) and, optionally, customers, web_events, engagement_events."
        )
    sources: dict[str, TableSource] = {}
    for table in CONTRACT:
        found = [
            p
            for p in sorted(data_dir.iterdir())
            if p.is_file() and p.name.lower().startswith(table + ".") and _format_for(p)
        ]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise InputError(
                f"{data_dir}: more than one file for table '{table}' ({names}). "
                "Fix: keep one, or use --source to name the file."
            )
        if found:
            path = found[0]
            options = {"delimiter": "\t"} if path.name.lower().endswith(".tsv") else {}
            sources[table] = TableSource(
                table=table,
                paths=[path],
                pattern=str(path),
                file_format=_format_for(path) or "csv",
                options=options,
                columns={},  # identity: filled in by load.check_inputs from the file header
                origin=str(data_dir),
            )
    if not any(t in sources for t in PRIMARY_TABLES):
        exts = ", ".join(sorted({e for e in FILE_FORMATS}))
        raise InputError(
            f"{data_dir}: no transactions file. Fix: add transactions.csv (or one of {exts}), "
            "or customer_features.csv for one row per customer with precomputed metrics."
        )
    check_primary_tables(sources, str(data_dir))
    return sources


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases: a source file is plain data, and an
    alias "bomb" (aliases of aliases) would otherwise expand to gigabytes."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(
                f"YAML aliases (*{event.anchor}) are not allowed in a source file "
                f"(line {event.start_mark.line + 1}); write the value out"
            )
        return super().compose_node(parent, index)


def _describe_error(error: dict) -> str:
    """One pydantic error as `dotted.key: what is wrong, got <value>`."""
    loc = ".".join("from" if part == "from_" else str(part) for part in error["loc"])
    kind = error["type"]
    messages = {
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "bool_type": "must be true or false (unquoted)",
        "bool_parsing": "must be true or false (unquoted)",
        "string_type": "must be text",
        "dict_type": "must be a mapping (key: value lines)",
        "model_type": "must be a mapping (key: value lines)",
        "missing": "is required",
        "extra_forbidden": "unknown key",
    }
    message = messages.get(kind, error["msg"].replace("Value error, ", ""))
    if kind == "extra_forbidden":
        return f"{loc}: unknown key. Fix: remove it or check its spelling (README, Source files)"
    if loc.endswith(".[key]"):
        return f"{loc[: -len('.[key]')]}: not a contract table. Fix: use {', '.join(CONTRACT)}"
    if kind in ("missing", "value_error") or ".postgres" in loc:
        # a postgres value may hold a password: never echo it
        return f"{loc}: {message}"
    shown = repr(error.get("input"))
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{loc}: {message}, got {shown}"


def parse_source_file(text: str, where: str) -> SourceFile:
    """Validate a source file's text against :class:`SourceFile`; one-line InputError."""
    try:
        spec = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{where}: not valid YAML ({first}).") from None
    if not isinstance(spec, dict) or "tables" not in spec:
        raise InputError(
            f"{where}: expected a top-level 'tables:' mapping (see README, Source files)."
        )
    try:
        model = SourceFile.model_validate(spec)
    except ValidationError as exc:
        # A misspelt key is the cause of the "missing" error that comes with it.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise InputError(f"{where}: {_describe_error(errors[0])}.") from None
    for table, entry in model.tables.items():
        contract_columns = CONTRACT[table].column_names
        for column, value in entry.columns.items():
            key = f"{where}: tables.{table}.columns.{column}"
            if column not in contract_columns:
                raise InputError(
                    f"{key}: not a column of the {table} contract. "
                    f"Fix: use {', '.join(contract_columns)}."
                )
            if not is_plain_column(value):
                problem = check_expression(value)
                if problem:
                    raise InputError(
                        f"{key}: {problem}. Fix: a column may be a source column name or one "
                        "scalar expression over the source columns (see README, Trust and safety)."
                    )
        for column, value in entry.extra_columns.items():
            key = f"{where}: tables.{table}.extra_columns.{column}"
            if table != "customer_features":
                raise InputError(
                    f"{key}: extra_columns are for the customer_features table only. "
                    "Fix: remove it (see README, Customer-level tables)."
                )
            problem = None if is_plain_column(value) else check_expression(value)
            if problem:
                raise InputError(
                    f"{key}: {problem}. Fix: a column may be a source column name or one "
                    "scalar expression over the source columns (see README, Trust and safety)."
                )
        if entry.from_ is not None and entry.from_ not in model.tables:
            raise InputError(
                f"{where}: tables.{table}.from: '{entry.from_}' is not a table in this file."
            )
    check_primary_tables(model.tables, where)
    return model


def check_primary_tables(tables: Any, where: str) -> None:
    """Exactly one of transactions (order lines) and customer_features (one row per
    customer with precomputed metrics) must be given."""
    given = [t for t in PRIMARY_TABLES if t in tables]
    if not given:
        raise InputError(
            f"{where}: the transactions table (order lines) or a customer_features table "
            "(one row per customer with precomputed metrics) is required."
        )
    if len(given) > 1:
        raise InputError(
            f"{where}: give transactions or customer_features, not both: features are either "
            "computed from order lines or taken as given. Fix: remove one of them."
        )


def _read_source_file(spec_path: Path) -> SourceFile:
    """The checked model of the source file at ``spec_path``; one-line InputError when it
    is missing, too large, not UTF-8 or not valid."""
    if not spec_path.is_file():
        raise InputError(f"{spec_path}: source file not found. Fix: check the --source path.")
    if spec_path.stat().st_size > MAX_SOURCE_FILE_BYTES:
        raise InputError(
            f"{spec_path}: {spec_path.stat().st_size:,} bytes is too large for a source file "
            f"(at most {MAX_SOURCE_FILE_BYTES:,}). Fix: check --source names the YAML file."
        )
    try:
        text = spec_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"{spec_path}: not UTF-8 text. Fix: save the source file as UTF-8."
        ) from None
    return parse_source_file(text, str(spec_path))


def from_source_file(spec_path: Path) -> dict[str, TableSource]:
    """Read a source file (YAML); paths inside it are relative to the file itself."""
    spec_path = Path(spec_path)
    model = _read_source_file(spec_path)
    base = spec_path.resolve().parent
    sources: dict[str, TableSource] = {}
    # Tables with `from:` reuse another table's files, so resolve those last.
    order = sorted(model.tables, key=lambda t: 1 if model.tables[t].from_ else 0)
    for table in order:
        entry = model.tables[table]
        where = f"{spec_path}: tables.{table}"
        options = entry.options.model_dump(exclude_unset=True)
        if entry.from_:
            parent = sources.get(entry.from_)
            if parent is None:
                raise InputError(
                    f"{where}.from: '{entry.from_}' must itself have a path (not from:)."
                )
            paths, pattern, fmt = parent.paths, parent.pattern, parent.file_format
            options = {**parent.options, **options}
            postgres = parent.postgres
        elif entry.postgres is not None:
            paths, fmt, postgres = [], "postgres", entry.postgres
            from customer_chunks.sources_db import describe_postgres

            pattern = describe_postgres(entry.postgres)
        else:
            postgres = None
            paths, pattern = _resolve_paths(
                str(entry.path), base, where, model.allow_outside_folder
            )
            # Text with a layout given (delimiter, widths) is read as delimited text
            # whatever its ending (.txt, .dat).
            laid_out = entry.options.delimiter is not None or entry.options.widths
            fmt = entry.format or _format_for(paths[0]) or ("csv" if laid_out else None)
            if fmt not in {"csv", "parquet", "json", "mongodb"}:
                raise InputError(
                    f"{where}.format: cannot tell the format of {paths[0].name}. "
                    "Fix: set format: csv, parquet, json or mongodb."
                )
        sources[table] = TableSource(
            table=table,
            paths=paths,
            pattern=pattern,
            file_format=fmt,
            options=options,
            columns={**entry.columns, **entry.extra_columns},
            distinct=entry.distinct,
            origin=where,
            postgres=postgres,
            extra_columns=tuple(entry.extra_columns),
        )
    return sources


def source_file_vars(spec_path: Path) -> dict[str, Any]:
    """The ``vars:`` of a source file, each checked against dbt_project.yml like a --var."""
    from customer_chunks.project import check_var_value

    model = _read_source_file(Path(spec_path))
    for key, value in model.vars.items():
        check_var_value(key, value, f"{spec_path}: vars.{key}")
    return dict(model.vars)


def _resolve_paths(raw: str, base: Path, where: str, allow_outside: bool) -> tuple[list[Path], str]:
    """The files a ``path:`` names, literally (no ``$VARS``: an environment variable in
    a path would end up in error messages), relative to the source file's folder."""
    if "$" in raw:
        raise InputError(
            f"{where}.path: environment variables are not expanded in paths ('$' found). "
            "Fix: write the path out, relative to the source file."
        )
    pattern = str(Path(raw).expanduser()) if raw.startswith("~") else raw
    if not Path(pattern).is_absolute():
        pattern = str(base / pattern)
    paths = [Path(p) for p in sorted(glob.glob(pattern))]
    if not paths:
        raise InputError(
            f"{where}.path: no file matches {pattern}. Fix: correct the path "
            "(relative paths are relative to the source file)."
        )
    if not allow_outside:
        outside = [p for p in paths if not p.resolve().is_relative_to(base)]
        if outside:
            raise InputError(
                f"{where}.path: {outside[0]} is outside the source file's folder {base}. "
                "Fix: move the data beside the source file, or add "
                "'allow_outside_folder: true' at the top of the source file."
            )
    return paths, pattern


def is_plain_column(expression: str) -> bool:
    """True when a column-map value names a source column rather than an expression."""
    return bool(_IDENTIFIER.match(expression.strip()))


# Scalar functions that read state outside the row, never needed to map a column.
_REFUSED_FUNCTIONS = frozenset(
    {"getenv", "current_setting", "getvariable", "read_blob", "read_text", "query", "query_table"}
)


@cache
def _scalar_functions() -> frozenset[str]:
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select distinct lower(function_name) from duckdb_functions() "
            "where function_type in ('scalar', 'macro')"
        ).fetchall()
    finally:
        con.close()
    return frozenset(r[0] for r in rows) - _REFUSED_FUNCTIONS


def check_expression(expression: str) -> str | None:
    """Why ``expression`` is not a single scalar DuckDB expression, or None when it is.

    Parsed by DuckDB itself (``json_serialize_sql``) as ``SELECT <expression>``: exactly
    one statement with one select item and no FROM/WHERE/..., no subquery, no table
    function, no window or aggregate, and only scalar functions (minus the few that
    read the environment). O(length of the expression).
    """
    con = duckdb.connect()
    try:
        parsed = con.execute("select json_serialize_sql(?)", ["select " + expression]).fetchone()
    finally:
        con.close()
    tree = json.loads(parsed[0])
    if tree.get("error"):
        first = str(tree.get("error_message", "")).splitlines()[0]
        return f"not a single SQL expression ({first})"
    statements = tree.get("statements", [])
    if len(statements) != 1:
        return "holds more than one SQL statement"
    node = statements[0]["node"]
    if node.get("type") != "SELECT_NODE" or len(node.get("select_list", [])) != 1:
        return "must be exactly one expression"
    extras = ("where_clause", "having", "qualify", "sample")
    if (
        node["from_table"].get("type") != "EMPTY"
        or any(node.get(k) for k in extras)
        or node.get("group_expressions")
        or node.get("modifiers")
        or node.get("cte_map", {}).get("map")
    ):
        return "must be one expression, without FROM, WHERE, GROUP BY, ORDER BY or LIMIT"
    return _check_tree(node["select_list"][0])


def _check_tree(tree: Any) -> str | None:
    if isinstance(tree, list):
        for item in tree:
            problem = _check_tree(item)
            if problem:
                return problem
        return None
    if not isinstance(tree, dict):
        return None
    kind = tree.get("class")
    if kind == "SUBQUERY" or "subquery" in tree or "node" in tree:
        return "must not hold a subquery"
    if tree.get("type") == "TABLE_FUNCTION":
        return "must not call a table function"
    if kind == "WINDOW":
        return "must not use a window function"
    if kind == "FUNCTION" and not tree.get("is_operator"):
        name = str(tree.get("function_name", "")).lower()
        qualified = tree.get("schema") not in ("", "main", None) or tree.get("catalog")
        if qualified or name not in _scalar_functions():
            return f"function {name}() is not an allowed scalar function"
    return _check_tree(list(tree.values()))
