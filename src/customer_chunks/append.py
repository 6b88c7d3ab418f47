"""`customer-chunks run --append`: which input rows are new since the last run.

Every loaded file is recorded in ``raw.loaded_files`` (table, path, SHA-256 of its
bytes, the batch it came in and the batch's row ids). An append run starts from a copy
of the published warehouse, and for each table:

- a file whose content (hash) was loaded before, under any path, is skipped;
- a path loaded before whose content has changed is an error: its earlier rows are in
  the warehouse and cannot be told apart from the new ones, so the fix is a full run;
- the other files are the new batch. It is loaded into ``raw.<table>__batch<N>`` with
  row ids that go on from the last batch's, and ``raw.<table>`` becomes the view
  ``union all`` of the batches, so a full rebuild of the same files in the same order
  numbers every row the same way.

``raw.append_watermarks`` holds, per table, the highest row id before this run (0 on a
full run) and ``raw.append_state`` the previous run's reference dates: the incremental
dbt models process only rows above the watermark and recompute the features of the
customers those rows, or the moved reference dates, touch.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import duckdb

from customer_chunks.errors import InputError
from customer_chunks.history import file_sha256
from customer_chunks.sources import TableSource

logger = logging.getLogger(__name__)

# Vars whose value is baked into rows an append run keeps (staging checks, feature
# windows): a change needs a full run. Their defaults live in dbt_project.yml.
KEPT_STATE_VARS = (
    "quarantine_duplicates",
    "max_plausible_amount",
    "earliest_plausible_timestamp",
    "web_window_days",
    "high_value_horizon_days",
)
_FULL_RUN = "Fix: run without --append (a full rebuild from all the input files)."


def create_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """The empty ledger of loaded files (a full run starts a new one)."""
    con.execute(
        "create or replace table raw.loaded_files (table_name varchar, path varchar, "
        "sha256 varchar, batch integer, first_row_id bigint, last_row_id bigint, "
        "loaded_at timestamp)"
    )


def record(
    con: duckdb.DuckDBPyConnection,
    table: str,
    hashes: dict[Path, str],
    batch: int,
    first_row_id: int,
    rows: int,
) -> None:
    """Add one batch's files to the ledger (none for a database table: it has no file to
    hash, and ``run --append`` refuses ``postgres:`` sources)."""
    if not hashes:
        return
    con.executemany(
        "insert into raw.loaded_files values (?, ?, ?, ?, ?, ?, now())",
        [
            [table, str(path.resolve()), digest, batch, first_row_id, first_row_id + rows - 1]
            for path, digest in hashes.items()
        ],
    )


def write_watermarks(
    con: duckdb.DuckDBPyConnection, watermarks: dict[str, int], previous_dates: tuple | None
) -> None:
    """raw.append_watermarks (per table: last row id before this run, 0 on a full run)
    and raw.append_state (the previous run's as_of and training cut-off; null on a
    full run, which the dbt models read as "every customer is touched"; and the latest
    order and signup dates of rows the build does not hold, which only the scratch build
    of `customer-chunks score` sets, see customer_chunks.run.score)."""
    con.execute(
        "create or replace table raw.append_watermarks "
        "(table_name varchar, previous_max_row_id bigint)"
    )
    con.executemany(
        "insert into raw.append_watermarks values (?, ?)", [[t, n] for t, n in watermarks.items()]
    )
    con.execute(
        "create or replace table raw.append_state "
        "(previous_as_of_date date, previous_training_cutoff_date date, "
        "published_last_order_date date, published_last_signup_date date)"
    )
    con.execute(
        "insert into raw.append_state values (?, ?, null, null)",
        list(previous_dates or (None, None)),
    )


def previous_dates(con: duckdb.DuckDBPyConnection) -> tuple:
    """(as_of_date, training_cutoff_date) of the run that built the copied warehouse."""
    try:
        return con.execute(
            "select as_of_date, training_cutoff_date from intermediate.int_run_parameters"
        ).fetchone()
    except duckdb.CatalogException:
        raise InputError(
            "the warehouse has no intermediate.int_run_parameters, so the reference dates "
            f"of its features are unknown. {_FULL_RUN}"
        ) from None


def loaded_paths(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every file path in the ledger (the Parquet views of earlier batches read them)."""
    rows = con.execute("select distinct path from raw.loaded_files").fetchall()
    return [path for (path,) in rows]


@dataclasses.dataclass
class Batch:
    """The new files of one table in an append run."""

    source: TableSource
    label: str  # the whole source's, as a full run on the same files records it
    number: int
    first_row_id: int
    hashes: dict[Path, str]


def plan(
    con: duckdb.DuckDBPyConnection, sources: dict[str, TableSource]
) -> tuple[dict[str, Batch], dict[str, int]]:
    """Which files of ``sources`` are new. Returns (table -> Batch for the tables with
    new files, table -> previous highest row id for every table). Raises InputError when
    the warehouse has no ledger, a loaded file changed, or an input cannot be appended.
    Hashes every input file once (O(input size), constant memory)."""
    try:
        ledger = con.execute(
            "select table_name, path, sha256, batch, last_row_id from raw.loaded_files"
        ).fetchall()
        provided = dict(
            con.execute("select table_name, is_provided from raw.load_manifest").fetchall()
        )
    except duckdb.CatalogException:
        raise InputError(
            "the warehouse has no record of the files it loaded (raw.loaded_files): it was "
            f"built before --append existed. {_FULL_RUN}"
        ) from None
    by_path = {(t, p): h for t, p, h, _b, _r in ledger}
    by_hash = {(t, h): p for t, p, h, _b, _r in ledger}
    watermarks = {t: 0 for t in provided}
    next_batch: dict[str, int] = {}
    for table, _path, _hash, batch, last in ledger:
        watermarks[table] = max(watermarks.get(table, 0), int(last or 0))
        next_batch[table] = max(next_batch.get(table, 0), int(batch) + 1)
    batches: dict[str, Batch] = {}
    for table, src in sources.items():
        if src.postgres is not None or src.distinct:
            what = "a postgres: source" if src.postgres is not None else "a distinct: source"
            raise InputError(
                f"{src.label()}: {table} is {what}, which has no files to tell new rows by; "
                f"--append cannot load it. {_FULL_RUN}"
            )
        new: dict[Path, str] = {}
        for path in src.paths:
            digest = file_sha256(path)
            key = str(path.resolve())
            if (table, key) in by_path and by_path[(table, key)] != digest:
                raise InputError(
                    f"{path}: this file was loaded into {table} by an earlier run and has "
                    "changed since (another SHA-256); --append never loads a file twice, "
                    f"so its earlier rows would be counted again. {_FULL_RUN}"
                )
            if (table, digest) in by_hash:
                logger.info(
                    "append: %s skipped: already loaded (same content as %s)",
                    path,
                    by_hash[(table, digest)],
                )
                continue
            new[path] = digest
        if not new:
            continue
        if not provided.get(table):
            raise InputError(
                f"{src.label()}: the warehouse was built without {table}, so every "
                f"customer's features change when it arrives. {_FULL_RUN}"
            )
        batch_source = dataclasses.replace(
            src, paths=list(new), pattern=", ".join(str(p) for p in new), read_paths=None
        )
        batches[table] = Batch(
            batch_source, src.label(), next_batch.get(table, 1), watermarks.get(table, 0) + 1, new
        )
    return batches, watermarks


def union_batches(con: duckdb.DuckDBPyConnection, table: str, batch: str) -> None:
    """Make ``raw.<table>`` the union of its batches, the first being the relation the
    full run created (renamed ``<table>__batch0``) and the last ``batch``."""
    kinds = dict(
        con.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'raw' and table_catalog = current_database()"
        ).fetchall()
    )
    first = f"{table}__batch0"
    if first not in kinds:
        kind = "view" if kinds[table] == "VIEW" else "table"
        con.execute(f"alter {kind} raw.{table} rename to {first}")
        kinds[first] = kinds.pop(table)
    else:
        con.execute(f"drop view raw.{table}")
    parts = sorted(
        (name for name in [*kinds, batch] if name.startswith(f"{table}__batch")),
        key=lambda name: int(name.rsplit("batch", 1)[1]),
    )
    union = "\nunion all\n".join(f"select * from raw.{name}" for name in dict.fromkeys(parts))
    con.execute(f"create view raw.{table} as\n{union}")
