"""MongoDB exports: ``mongoexport`` JSON lines, relaxed or canonical Extended JSON.

Each document is decoded with PyMongo's ``bson.json_util`` (the reference reader of
Extended JSON: ``$oid``, ``$date`` as an ISO string or ``$numberLong``,
``$numberDecimal``, ``$numberLong``, ``$numberInt``, ``$numberDouble`` with ``NaN``,
...), flattened to dotted column names (``customer.id``, ``address.country``), and
written to an RFC 4180 CSV copy that the loader reads like any CSV file. With
``options.unnest: items`` each element of the ``items`` array becomes its own row
(``items.sku``, ``items.qty`` beside the order's own fields), as an order document
with its line items becomes order lines.

Nothing is dropped: a document whose ``unnest`` array is missing or empty gives one
row with empty item fields (staging then quarantines it if it lacks what a row
needs), and a line that is not a JSON document is returned as a rejected line, which
is quarantined as ``malformed_line``. Values keep their meaning as text: ObjectIds as
their hex string, dates as UTC ``YYYY-MM-DD HH:MM:SS[.fff]``, decimals and longs as
written, ``NaN`` as ``NaN`` (quarantined as unparseable by staging).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from bson import json_util
from bson.datetime_ms import DatetimeMS
from bson.decimal128 import Decimal128
from bson.errors import BSONError
from bson.json_util import DatetimeConversion, JSONOptions
from bson.objectid import ObjectId

from customer_chunks.errors import InputError
from customer_chunks.flat_files import open_text

_OPTIONS = JSONOptions(
    tz_aware=True,
    tzinfo=dt.UTC,
    datetime_conversion=DatetimeConversion.DATETIME_AUTO,
)


def _text(value: Any) -> str | None:
    """One decoded Extended JSON value as the text the loader keeps."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        if not value.microsecond:
            return value.isoformat(sep=" ", timespec="seconds")
        whole_ms = value.microsecond % 1000 == 0
        return value.isoformat(sep=" ", timespec="milliseconds" if whole_ms else "microseconds")
    if isinstance(value, DatetimeMS):  # outside datetime's range: kept as milliseconds
        return f"{int(value)} ms since 1970"
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    # arrays (not unnested) and other BSON types: their relaxed Extended JSON
    return json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS)


def _flatten(value: Any, prefix: str, out: dict[str, str | None]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = _text(value)


def _pop_path(document: dict, path: str) -> tuple[bool, Any]:
    """Remove and return the value at a dotted path (found, value)."""
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    if not isinstance(node, dict) or last not in node:
        return False, None
    return True, node.pop(last)


def rows_of(document: dict, unnest: str | None) -> list[dict[str, str | None]]:
    """The flat rows one document gives: one, or one per element of ``unnest``."""
    if unnest is None:
        row: dict[str, str | None] = {}
        _flatten(document, "", row)
        return [row]
    found, items = _pop_path(document, unnest)
    base: dict[str, str | None] = {}
    _flatten(document, "", base)
    if not found or items is None:
        return [base]
    if not isinstance(items, list):
        items = [items]
    if not items:
        return [base]
    rows = []
    for item in items:
        row = dict(base)
        _flatten(item, unnest, row)
        rows.append(row)
    return rows


def _documents(path: Path, label: str) -> Iterator[tuple[int, str, dict | None, str | None]]:
    """(line number, line, document or None, error) for each non-blank line."""
    with open_text(path) as source:
        number = 0
        try:
            for number, line in enumerate(source, start=1):  # noqa: B007
                text = line.strip().lstrip("\ufeff")
                if not text:
                    continue
                try:
                    document = json_util.loads(text, json_options=_OPTIONS)
                except (ValueError, TypeError, OverflowError, BSONError) as exc:
                    first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                    yield number, text, None, f"not an Extended JSON document: {first}"
                    continue
                if not isinstance(document, dict):
                    yield number, text, None, "not a JSON object (one document per line)"
                    continue
                yield number, text, document, None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{label}: line {number + 1:,} is not UTF-8 ({exc.reason}). Fix: export "
                "again; mongoexport writes UTF-8."
            ) from None


def to_csv(
    path: Path, copy: Path, unnest: str | None, label: str, mapped: list[str] | None = None
) -> tuple[int, list[tuple[int, str, str]]]:
    """Write the documents of a mongoexport file as an RFC 4180 CSV file ``copy``.

    Returns (documents read, rejected lines as (line number, line, error)). The file is
    decoded once; its flat rows go through a scratch JSON-lines file beside ``copy``
    while the column names are collected in order of first appearance. Memory holds
    one document and the names; measured 5,200 order documents (2.5 lines each) a
    second on the project's 2-core machines. A file with no document gets the
    ``mapped`` names as its header, so that it is reported as empty (or unreadable),
    not as mis-mapped.
    """
    names: dict[str, None] = {}
    documents = 0
    rejected: list[tuple[int, str, str]] = []
    # Pass 1 decodes each document once (the costly part) and keeps its flat rows as
    # plain JSON; pass 2 only has to lay those rows out under the full header.
    flat = copy.with_name(copy.name + ".rows.jsonl")
    with open(flat, "w", encoding="utf-8") as rows_file:
        for number, line, document, error in _documents(path, label):
            if document is None:
                rejected.append((number, line, str(error)))
                continue
            documents += 1
            for row in rows_of(document, unnest):
                names.update(dict.fromkeys(row))
                rows_file.write(json.dumps(row, ensure_ascii=False) + "\n")
    if not names:
        names = dict.fromkeys(mapped or ["_id"])
    columns = list(names)
    with (
        open(flat, encoding="utf-8") as rows_file,
        open(copy, "w", encoding="utf-8", newline="") as target,
    ):
        # CRLF ends: the csv module then quotes a field holding a lone CR or LF
        writer = csv.writer(target, lineterminator="\r\n")
        writer.writerow(columns)
        for text in rows_file:
            row = json.loads(text)
            writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    flat.unlink()
    return documents, rejected
