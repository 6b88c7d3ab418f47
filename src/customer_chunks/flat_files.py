"""Flat files as they come: whitespace-aligned text and fixed-width columns.

DuckDB's CSV reader splits on one delimiter string. A whitespace-aligned export (a
leading space, then runs of spaces between fields, as CDNOW's) and a fixed-width file
(fields at set character positions) are turned here into an RFC 4180 CSV copy that the
loader then reads like any other CSV file, so quoting, malformed-line quarantine, typed
expressions and row accounting work the same way for them.

Each input line becomes one output line: blank lines are skipped (as DuckDB skips them
in a CSV file), ``skip`` leading lines and ``comment`` lines are dropped, and a line
with more or fewer fields than the header keeps its field count, so DuckDB rejects it
and it is quarantined as ``malformed_line`` rather than silently reshaped.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
from collections.abc import Iterator
from pathlib import Path

from customer_chunks.errors import InputError
from customer_chunks.sources import CsvOptions

# The options of the CSV copy; the rest (timestamp_format, timezone, null_strings)
# carry over from the source file.
COPY_OPTIONS = {
    "delimiter": ",",
    "quote": '"',
    "escape": '"',
    "header": True,
    "skip": 0,
    "comment": "",
}
LAYOUT_KEYS = ("delimiter", "widths", "names", "header", "skip", "comment", "quote", "escape")


def needs_copy(options: CsvOptions) -> bool:
    """True when ``options`` describe a layout DuckDB cannot split itself."""
    return options.is_whitespace or options.widths is not None


def _fields(line: str, options: CsvOptions) -> list[str]:
    if options.widths is None:
        return line.split()
    fields, start = [], 0
    for width in options.widths:
        fields.append(line[start : start + width].strip())
        start += width
    rest = line[start:].strip()
    if rest:  # more text than the widths cover: keep it, so the line is rejected
        fields.append(rest)
    return fields


@contextlib.contextmanager
def open_text(path: Path) -> Iterator[codecs.StreamReader]:
    """``path`` (plain or gzip) as strict UTF-8 text, line by line."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as raw:
        yield codecs.getreader("utf-8")(raw, errors="strict")


def to_csv(path: Path, copy: Path, options: CsvOptions, label: str) -> int:
    """Write ``path`` (UTF-8 text, optionally gzip) as an RFC 4180 CSV file ``copy``
    with a header line; return the number of data lines written.

    O(file size) time, one line in memory at a time.
    """
    written = 0
    header: list[str] | None = list(options.names) if options.names else None
    header_written = False
    with open_text(path) as source, open(copy, "w", encoding="utf-8", newline="") as target:
        # CRLF ends: the csv module then quotes a field holding a lone CR or LF
        writer = csv.writer(target, lineterminator="\r\n")
        number = 0
        try:
            for number, raw_line in enumerate(source, start=1):  # noqa: B007
                line = raw_line.rstrip("\r\n")
                if number <= options.skip or not line.strip():
                    continue
                if options.comment and line.lstrip().startswith(options.comment):
                    continue
                fields = _fields(line, options)
                if header is None and options.header:
                    header = fields
                    if len(set(header)) != len(header):
                        raise InputError(
                            f"{label}: the header line repeats a name ({line.strip()[:80]}). "
                            "Fix: set header: false and name the fields in options.names."
                        )
                    continue
                if header is None:
                    header = [f"column{i}" for i in range(len(fields))]
                if not header_written:
                    writer.writerow(header)
                    header_written = True
                writer.writerow(fields)
                written += 1
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{label}: line {number + 1:,} is not UTF-8 ({exc.reason}). Fix: set "
                "options.encoding to the file's encoding."
            ) from None
        if not header_written:
            writer.writerow(header or ["column0"])
    return written
