"""Put the raw tables of a loaded DuckDB warehouse on another engine (Spark, PostgreSQL).

`customer-chunks load` checks and types the inputs once, into ``raw.*`` of a DuckDB
file; the same dbt project then builds on any target. For the other engines the raw
tables are copied as they are (same columns, same types, same ``_row_id``), so every
engine stages, quarantines and scores exactly the same rows:

* PostgreSQL: each table is spooled by DuckDB to CSV and streamed with ``COPY``
  (O(1) memory; the whole copy is one transaction, replacing ``raw.*``).
* Spark: each table is written by DuckDB to Parquet, then the dbt macro
  ``spark_load_raw_parquet`` (run with ``dbt run-operation --target spark``, so it
  uses the profile's own session, warehouse folder and metastore) creates ``raw.*``
  from it.

What the dbt build on those targets selects, and why, is in the README (Other engines).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb

from customer_chunks.errors import CustomerChunksError
from customer_chunks.export import (
    _first_line,
    _pg_type,
    _quote_duckdb,
    _secrets,
    _sql_string,
    list_marts,
    redact_url,
)

logger = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
TARGETS = ("duckdb", "postgres", "spark")
# The dbt selector for the SQL layer: everything except the dbt Python models (which run
# only on DuckDB, or Databricks for Spark) and the models and tests that read their output,
# and the spark-only models that read the Spark ML job's tables (tag spark_ml: built after
# `customer_chunks.spark_score`, README Other engines).
SQL_LAYER_EXCLUDE = "path:python_models+ tag:spark_ml"


class EngineError(CustomerChunksError):
    """The raw tables could not be put on the target engine."""


def raw_tables(con: duckdb.DuckDBPyConnection):
    """The tables of schema raw in a loaded warehouse, with their DuckDB column types."""
    tables = list_marts(con, RAW_SCHEMA)
    if not tables:
        raise EngineError("the warehouse has no raw tables. Fix: run `customer-chunks load` first.")
    return tables


def pg_env(url: str) -> dict[str, str]:
    """The CUSTOMER_CHUNKS_PG_* variables the profile's postgres target reads, for ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise EngineError(
            f"--url {redact_url(url, _secrets(url))!r} is not a postgresql:// URL. "
            "Fix: pass postgresql://user@host:port/dbname."
        )
    env = {
        "CUSTOMER_CHUNKS_PG_HOST": parts.hostname or "127.0.0.1",
        "CUSTOMER_CHUNKS_PG_PORT": str(parts.port or 5432),
        "CUSTOMER_CHUNKS_PG_USER": unquote(parts.username or "postgres"),
        "CUSTOMER_CHUNKS_PG_DBNAME": unquote(parts.path.lstrip("/") or "postgres"),
    }
    if parts.password:
        env["CUSTOMER_CHUNKS_PG_PASSWORD"] = unquote(parts.password)
    return env


def copy_raw_to_postgres(db_path: Path, url: str, *, connect_timeout: int = 10) -> dict[str, int]:
    """Replace schema ``raw`` in the PostgreSQL database at ``url`` with the warehouse's
    raw tables, in one transaction. Returns rows per table. O(1) memory: DuckDB spools
    each table to a CSV file that is streamed with COPY."""
    import psycopg
    from psycopg import sql

    secrets = _secrets(url)
    shown = redact_url(url, secrets)
    counts: dict[str, int] = {}
    spool = Path(tempfile.mkdtemp(prefix="customer-chunks-raw-pg-"))
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = raw_tables(con)
        try:
            pg = psycopg.connect(url, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            raise EngineError(
                f"load --target postgres: cannot connect to {shown} "
                f"({redact_url(_first_line(exc), secrets)}). Fix: start the server or fix --url."
            ) from None
        step = f"schema {RAW_SCHEMA}"
        try:
            with pg, pg.transaction(), pg.cursor() as cur:
                cur.execute(
                    sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(RAW_SCHEMA))
                )
                cur.execute(sql.SQL("create schema {}").format(sql.Identifier(RAW_SCHEMA)))
                for table in tables:
                    step = f"{RAW_SCHEMA}.{table.name}"
                    started = time.perf_counter()
                    mapped = [(c.name, *_pg_type(c.duckdb_type)) for c in table.columns]
                    target = sql.Identifier(RAW_SCHEMA, table.name)
                    cur.execute(
                        sql.SQL("create table {} ({})").format(
                            target,
                            sql.SQL(", ").join(
                                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
                                for n, t, _ in mapped
                            ),
                        )
                    )
                    select_list = ", ".join(
                        f"cast({_quote_duckdb(n)} as {cast})" if cast else _quote_duckdb(n)
                        for n, _, cast in mapped
                    )
                    csv_path = spool / f"{table.name}.csv"
                    # NULL is an unquoted empty field, '' is "": COPY's CSV format tells them apart
                    con.execute(
                        f"copy (select {select_list} from {RAW_SCHEMA}.{_quote_duckdb(table.name)})"
                        f" to {_sql_string(str(csv_path))} (format csv, header false)"
                    )
                    copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
                        target, sql.SQL(", ").join(sql.Identifier(n) for n, _, _ in mapped)
                    )
                    with cur.copy(copy_sql) as copy, open(csv_path, "rb") as fh:
                        while chunk := fh.read(1 << 20):
                            copy.write(chunk)
                    counts[table.name] = int(cur.rowcount)
                    csv_path.unlink()
                    cur.execute(sql.SQL("analyze {}").format(target))
                    logger.info(
                        "raw.%s: %d rows to postgres (%.1f s)",
                        table.name,
                        counts[table.name],
                        time.perf_counter() - started,
                    )
        except psycopg.Error as exc:
            raise EngineError(
                f"load --target postgres {shown}: rolled back at {step}, nothing changed "
                f"({redact_url(_first_line(exc), secrets)})"
            ) from None
        finally:
            pg.close()
    finally:
        con.close()
        shutil.rmtree(spool, ignore_errors=True)
    return counts


def write_raw_parquet(db_path: Path, folder: Path) -> dict[str, int]:
    """Write each raw table of the warehouse to ``folder/<table>.parquet``; rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for table in raw_tables(con):
            path = folder / f"{table.name}.parquet"
            ref = f"{RAW_SCHEMA}.{_quote_duckdb(table.name)}"
            con.execute(f"copy (select * from {ref}) to {_sql_string(str(path))} (format parquet)")
            counts[table.name] = con.execute(f"select count(*) from {ref}").fetchone()[0]
    finally:
        con.close()
    return counts


def dbt_command(*args: str) -> list[str]:
    """A dbt command line for this project (the dbt beside the running Python)."""
    from customer_chunks.run import project_dir

    proj = project_dir()
    dbt_exe = Path(sys.executable).with_name("dbt")
    return [
        str(dbt_exe) if dbt_exe.exists() else "dbt",
        "--no-use-colors",
        *args,
        "--project-dir",
        str(proj),
        "--profiles-dir",
        str(proj),
    ]


def spark_env() -> dict[str, str]:
    """Environment for a dbt-spark session run: pyspark's workers use this Python, the
    driver binds to the loopback address."""
    env = {**os.environ}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def copy_raw_to_spark(db_path: Path, *, timeout: float = 900) -> dict[str, int]:
    """Replace schema ``raw`` of the profile's spark target with the warehouse's raw tables.

    The Parquet files go to ``$CUSTOMER_CHUNKS_SPARK_DIR/raw_parquet`` (default
    warehouse/spark); the tables are created by ``dbt run-operation spark_load_raw_parquet``
    in the target's own session, so they land in its warehouse and metastore.
    """
    from customer_chunks.run import project_dir

    spark_dir = Path(os.environ.get("CUSTOMER_CHUNKS_SPARK_DIR", "warehouse/spark"))
    if not spark_dir.is_absolute():
        spark_dir = project_dir() / spark_dir
    folder = spark_dir / "raw_parquet"
    shutil.rmtree(folder, ignore_errors=True)
    counts = write_raw_parquet(db_path, folder)
    args = json.dumps({"folder": str(folder.resolve()), "tables": sorted(counts)})
    cmd = dbt_command(
        "run-operation", "spark_load_raw_parquet", "--target", "spark", "--args", args
    )
    try:
        proc = subprocess.run(
            cmd,
            cwd=project_dir(),
            env=spark_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise EngineError(
            f"load --target spark: the Spark session did not finish in {timeout:.0f} s. "
            "Fix: check `java -version` (17) and CUSTOMER_CHUNKS_SPARK_MASTER."
        ) from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stdout.splitlines() if "rror" in ln] or ["see dbt.log"]
        raise EngineError(
            f"load --target spark: dbt run-operation failed ({lines[0].strip()[:300]}). "
            "Fix: pip install -e '.[engines]' and check Java 17 is on PATH."
        )
    return counts


def load_target(db_path: Path, target: str, url: str | None = None) -> dict[str, int]:
    """Copy the raw tables of the loaded warehouse at ``db_path`` to ``target``."""
    if not Path(db_path).is_file():
        raise EngineError(
            f"{db_path}: no such warehouse. Fix: run `customer-chunks load` into it first."
        )
    if target == "postgres":
        if not url:
            raise EngineError(
                "load --target postgres needs --url postgresql://user@host:port/dbname."
            )
        pg_env(url)  # a clear error for a URL that is not postgresql://
        return copy_raw_to_postgres(db_path, url)
    if target == "spark":
        return copy_raw_to_spark(db_path)
    raise EngineError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}")
