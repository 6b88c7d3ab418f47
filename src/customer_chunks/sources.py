"""Where the input tables come from: a data folder (`--data DIR`) or a source file
(`--source FILE.yml`).

Both end as one :class:`TableSource` per contract table. A source file lets data shaped
differently be mapped onto the contract without code; its format is documented in the
README ("Source files") and ``examples/online_retail.yml`` is a worked example.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from customer_chunks.contract import CONTRACT, FILE_FORMATS
from customer_chunks.errors import InputError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*$")
_KNOWN_OPTIONS = {
    "delimiter",
    "header",
    "quote",
    "escape",
    "skip",
    "encoding",
    "timestamp_format",
    "date_format",
    "null_strings",
}
_KNOWN_TABLE_KEYS = {"path", "format", "options", "columns", "from", "distinct"}


@dataclass
class TableSource:
    """One contract table's input: files, how to read them and how columns map.

    ``columns`` maps a contract column to a source column name or a DuckDB SQL
    expression over the source columns.
    """

    table: str
    paths: list[Path]
    pattern: str
    file_format: str
    options: dict = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    distinct: bool = False
    origin: str = ""  # where this definition came from, for error messages

    def label(self) -> str:
        return self.pattern if len(self.paths) != 1 else str(self.paths[0])


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
    if "transactions" not in sources:
        exts = ", ".join(sorted({e for e in FILE_FORMATS}))
        raise InputError(
            f"{data_dir}: no transactions file. Fix: add transactions.csv (or one of {exts})."
        )
    return sources


def from_source_file(spec_path: Path) -> dict[str, TableSource]:
    """Read a source file (YAML); paths inside it are relative to the file itself."""
    spec_path = Path(spec_path)
    if not spec_path.is_file():
        raise InputError(f"{spec_path}: source file not found. Fix: check the --source path.")
    try:
        spec = yaml.safe_load(spec_path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{spec_path}: not valid YAML ({first}).") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("tables"), dict):
        raise InputError(
            f"{spec_path}: expected a top-level 'tables:' mapping (see README, Source files)."
        )
    tables = spec["tables"]
    unknown = sorted(set(tables) - set(CONTRACT))
    if unknown:
        raise InputError(
            f"{spec_path}: unknown table(s) {', '.join(unknown)}. "
            f"Fix: use only {', '.join(CONTRACT)}."
        )
    base = spec_path.resolve().parent
    sources: dict[str, TableSource] = {}
    # Tables with `from:` reuse another table's files, so resolve those last.
    order = sorted(tables, key=lambda t: 1 if "from" in (tables[t] or {}) else 0)
    for table in order:
        entry = tables[table] or {}
        where = f"{spec_path}: tables.{table}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected a mapping with path and columns.")
        extra = sorted(set(entry) - _KNOWN_TABLE_KEYS)
        if extra:
            raise InputError(
                f"{where}: unknown key(s) {', '.join(extra)}. "
                f"Fix: use {', '.join(sorted(_KNOWN_TABLE_KEYS))}."
            )
        options = dict(entry.get("options") or {})
        bad_options = sorted(set(options) - _KNOWN_OPTIONS)
        if bad_options:
            raise InputError(
                f"{where}.options: unknown option(s) {', '.join(bad_options)}. "
                f"Fix: use {', '.join(sorted(_KNOWN_OPTIONS))}."
            )
        columns = entry.get("columns") or {}
        if not isinstance(columns, dict) or not columns:
            raise InputError(f"{where}.columns: map each contract column to a source column.")
        bad_cols = sorted(set(columns) - set(CONTRACT[table].column_names))
        if bad_cols:
            raise InputError(
                f"{where}.columns: {', '.join(bad_cols)} not in the {table} contract. "
                f"Fix: use {', '.join(CONTRACT[table].column_names)}."
            )
        if "from" in entry:
            parent = sources.get(entry["from"])
            if parent is None:
                raise InputError(
                    f"{where}.from: '{entry['from']}' is not a table defined in this file."
                )
            paths, pattern, fmt = parent.paths, parent.pattern, parent.file_format
            options = {**parent.options, **options}
        else:
            raw = entry.get("path")
            if not raw:
                raise InputError(f"{where}: needs 'path' (a file or glob) or 'from'.")
            pattern = os.path.expandvars(str(raw))
            if not os.path.isabs(pattern):
                pattern = str(base / pattern)
            paths = [Path(p) for p in sorted(glob.glob(pattern))]
            if not paths:
                raise InputError(
                    f"{where}.path: no file matches {pattern}. Fix: correct the path "
                    "(relative paths are relative to the source file)."
                )
            fmt = entry.get("format") or _format_for(paths[0])
            if fmt not in {"csv", "parquet", "json"}:
                raise InputError(
                    f"{where}.format: cannot tell the format of {paths[0].name}. "
                    "Fix: set format: csv, parquet or json."
                )
        sources[table] = TableSource(
            table=table,
            paths=paths,
            pattern=pattern,
            file_format=fmt,
            options=options,
            columns={k: str(v) for k, v in columns.items()},
            distinct=bool(entry.get("distinct", False)),
            origin=where,
        )
    if "transactions" not in sources:
        raise InputError(f"{spec_path}: the transactions table is required.")
    return sources


def is_plain_column(expression: str) -> bool:
    """True when a column-map value names a source column rather than an expression."""
    return bool(_IDENTIFIER.match(expression.strip()))
