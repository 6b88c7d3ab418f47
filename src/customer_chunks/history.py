"""Carry the lifecycle marts forward: copy the last published warehouse's history into
the build file before dbt, and stamp the run's audit row after it.

Publishing replaces the warehouse file, so the marts that accumulate over runs
(run_history, customer_segment_history, segment_transitions) and the last fit's state
(segment_centroids, feature_reference) are copied from the published file into the
`history` schema of the build file; the dbt source `history` reads them there. Columns
come from the marts' contracts (models/marts/_lifecycle__models.yml, their one home): a
column the old warehouse lacks becomes null, so an older warehouse still carries over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import duckdb
import yaml

from customer_chunks.project import contract_type, project_dir
from customer_chunks.sources import TableSource

logger = logging.getLogger(__name__)

HISTORY_TABLES = (
    "run_history",
    "customer_segment_history",
    "segment_transitions",
    "segment_centroids",
    "feature_reference",
)
LIBRARIES = (
    "customer-chunks",
    "dbt-core",
    "dbt-duckdb",
    "duckdb",
    "scikit-learn",
    "scipy",
    "numpy",
    "pandas",
    "pyarrow",
)
_YAML = Path("models") / "marts" / "_lifecycle__models.yml"


def mart_columns(name: str) -> list[tuple[str, str]]:
    """(column, data_type) of a lifecycle mart, from its contract."""
    models = yaml.safe_load((project_dir() / _YAML).read_text(encoding="utf-8"))["models"]
    for model in models:
        if model["name"] == name:
            return [(c["name"], contract_type(c["data_type"])) for c in model["columns"]]
    raise KeyError(f"{name} is not declared in {_YAML}")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (O(1) memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def carry_forward(
    building: Path,
    warehouse: Path,
    sources: dict[str, TableSource],
    run_vars: dict,
    started_at: datetime,
) -> int:
    """Copy the history of ``warehouse`` (if published) into ``building`` and write
    history.current_run. Returns this run's id (1 + the last published run's).

    Reads each input file once more to hash it (O(input size), constant memory)."""
    con = duckdb.connect(str(building))
    try:
        con.execute("create schema if not exists history")
        attached = False
        if warehouse.exists():
            path = str(warehouse).replace("'", "''")
            con.execute(f"attach '{path}' as previous (read_only)")
            attached = True
        try:
            for table in HISTORY_TABLES:
                _copy(con, table, attached)
        finally:
            if attached:
                con.execute("detach previous")
        last = con.execute("select max(run_id) from history.run_history").fetchone()[0]
        run_id = int(last or 0) + 1
        manifest = {
            row[0]: {"rows": row[1], "source": row[2]}
            for row in con.execute(
                "select table_name, rows_read, source from raw.load_manifest where is_provided"
            ).fetchall()
        }
        inputs = {
            table: {
                **manifest.get(table, {}),
                "files": {str(p): file_sha256(p) for p in sorted(source.paths)},
            }
            for table, source in sorted(sources.items())
        }
        con.execute(
            "create or replace table history.current_run (run_id integer, started_at "
            "timestamp, inputs varchar, run_vars varchar, library_versions varchar)"
        )
        con.execute(
            "insert into history.current_run values (?, ?, ?, ?, ?)",
            [
                run_id,
                started_at.replace(tzinfo=None),
                json.dumps(inputs, sort_keys=True),
                json.dumps(run_vars, sort_keys=True, default=str),
                json.dumps(library_versions(), sort_keys=True),
            ],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    logger.info("history: this is run %d of %s", run_id, warehouse)
    return run_id


def _copy(con: duckdb.DuckDBPyConnection, table: str, attached: bool) -> None:
    columns = mart_columns(table)
    present: set[str] = set()
    if attached:
        present = {
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns where table_catalog = "
                "'previous' and table_schema = 'marts' and table_name = ?",
                [table],
            ).fetchall()
        }
    select = ", ".join(
        f"{_quote(c)}" if c in present else f"cast(null as {t}) as {_quote(c)}" for c, t in columns
    )
    source = f"previous.marts.{_quote(table)}" if present else "(select 1) as nothing where 1 = 0"
    con.execute(f"create or replace table history.{_quote(table)} as select {select} from {source}")
    if present:
        rows = con.execute(f"select count(*) from history.{_quote(table)}").fetchone()[0]
        logger.info("history: carried forward %s rows of marts.%s", f"{rows:,}", table)


def stamp_run(building: Path, run_id: int, stage_seconds: dict[str, float]) -> None:
    """Write finished_at and stage_seconds on this run's row of marts.run_history."""
    con = duckdb.connect(str(building))
    try:
        con.execute(
            "update marts.run_history set finished_at = ?, stage_seconds = ? where run_id = ?",
            [
                datetime.now(UTC).replace(tzinfo=None),
                json.dumps({k: round(v, 3) for k, v in stage_seconds.items()}),
                run_id,
            ],
        )
    finally:
        con.close()
