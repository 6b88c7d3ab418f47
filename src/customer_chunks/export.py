"""Publish the warehouse marts to BI-friendly targets: Parquet, Tableau Hyper, PostgreSQL.

Every table and view in the DuckDB schema ``marts`` is exported; nothing here knows the
names of the marts. The warehouse is always opened read-only, so an export can run
while a report reads the same file (but not while ``dbt build`` holds the write lock).

Each ``export_*`` function logs (stdlib ``logging``, this module's logger) one line per
table: ``marts.<table> -> <target>: N rows in S s``. The warehouse is attached under a
fixed alias (:func:`customer_chunks.marts.open_read_only`), so its file name does not
matter. Failures that a user can fix (missing warehouse, no ``marts`` schema, hyperd
that does not start, unreachable server, ...) raise :class:`ExportError` with a
one-line message naming the target and the fix. Nothing waits forever: hyperd's start
and the PostgreSQL connection and swap have timeouts. PostgreSQL passwords never
appear in log lines or error messages.

Scaling: Parquet and Hyper exports stream inside DuckDB and hyperd (O(1) Python memory);
the PostgreSQL export streams a CSV spool file through ``COPY`` in 1 MiB chunks.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from customer_chunks.errors import CustomerChunksError
from customer_chunks.marts import MART_SCHEMA, open_read_only

__all__ = [
    "ExportError",
    "MART_SCHEMA",
    "export_all",
    "export_hyper",
    "export_parquet",
    "export_postgres",
    "list_marts",
    "redact_url",
]

logger = logging.getLogger(__name__)


class ExportError(CustomerChunksError):
    """An export failed for a reason the user can fix; the message says how."""


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str


@dataclass(frozen=True)
class Mart:
    name: str
    kind: str  # "BASE TABLE" or "VIEW"
    columns: tuple[Column, ...]


# --------------------------------------------------------------------------- helpers


def _quote_duckdb(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _line(table: str, target: str, rows: int, seconds: float, where: str = "") -> str:
    suffix = f" ({where})" if where else ""
    return f"{MART_SCHEMA}.{table} -> {target}: {rows:,} rows in {seconds:.2f} s{suffix}"


@contextmanager
def _open_warehouse(db_path: str | os.PathLike[str], target: str) -> Iterator[Any]:
    path = Path(db_path)
    if not path.is_file():
        raise ExportError(
            f"export to {target}: warehouse {path} not found; build it first "
            "(`dbt build`) or pass --warehouse PATH"
        )
    try:
        con = open_read_only(path)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExportError(
            f"export to {target}: cannot open warehouse {path} read-only ({first}); "
            "wait for the running dbt build to finish and retry"
        ) from None
    try:
        yield con
    finally:
        con.close()


def list_marts(con: Any, schema: str = MART_SCHEMA) -> list[Mart]:
    """Return every table and view in ``schema`` (sorted by name) with its column types."""
    rows = con.execute(
        """
        select t.table_name, t.table_type, c.column_name, c.data_type
        from information_schema.tables as t
        inner join information_schema.columns as c
            on c.table_catalog = t.table_catalog
            and c.table_schema = t.table_schema
            and c.table_name = t.table_name
        where t.table_schema = ? and t.table_catalog = current_database()
        order by t.table_name, c.ordinal_position
        """,
        [schema],
    ).fetchall()
    marts: dict[str, tuple[str, list[Column]]] = {}
    for table, kind, column, dtype in rows:
        marts.setdefault(table, (kind, []))[1].append(Column(column, dtype))
    return [Mart(name, kind, tuple(cols)) for name, (kind, cols) in marts.items()]


def _require_marts(con: Any, db_path: str | os.PathLike[str], target: str) -> list[Mart]:
    marts = list_marts(con)
    if not marts:
        raise ExportError(
            f"export to {target}: warehouse {db_path} has no tables in schema "
            f"'{MART_SCHEMA}'; run `dbt build` to create the marts first"
        )
    return marts


# --------------------------------------------------------------------------- Parquet


def export_parquet(
    db_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Write one Parquet file per mart to ``out_dir`` (``<mart>.parquet``, zstd).

    Takes the DuckDB warehouse path (opened read-only) and an output folder (created if
    needed). Returns the files written, sorted by mart name. Each file is written under a
    temporary name and renamed, so a reader never sees half a file. Streams inside
    DuckDB: memory does not grow with the table size.
    """
    out = Path(out_dir)
    written: list[Path] = []
    with _open_warehouse(db_path, "parquet") as con:
        marts = _require_marts(con, db_path, "parquet")
        out.mkdir(parents=True, exist_ok=True)
        for mart in marts:
            start = time.perf_counter()
            final = out / f"{mart.name}.parquet"
            partial = out / f".{mart.name}.parquet.partial"
            try:
                rows = _copy_to_parquet(con, f"select * from {_mart_ref(mart)}", partial)
            except duckdb.Error as exc:
                partial.unlink(missing_ok=True)
                raise ExportError(
                    f"export to parquet {final}: {str(exc).splitlines()[0]}"
                ) from None
            os.replace(partial, final)
            written.append(final)
            logger.info(_line(mart.name, "parquet", rows, time.perf_counter() - start, str(final)))
    return written


def _mart_ref(mart: Mart) -> str:
    return f"{_quote_duckdb(MART_SCHEMA)}.{_quote_duckdb(mart.name)}"


def _copy_to_parquet(con: Any, query: str, path: Path) -> int:
    result = con.execute(
        f"copy ({query}) to {_sql_string(str(path))} (format parquet, compression zstd)"
    ).fetchone()
    return int(result[0]) if result else 0


# --------------------------------------------------------------------------- Hyper

_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def _hyper_type(duckdb_type: str) -> tuple[str, str]:
    """Map a DuckDB type to (Hyper SQL type, DuckDB cast used when spooling to Parquet).

    Types Hyper has no equivalent for (lists, structs, UUID, ...) become text; integers
    wider than 64 bits and decimals wider than 18 digits become double precision (this
    Hyper version refuses 128-bit numerics).
    """
    t = duckdb_type.upper()
    simple = {
        "BOOLEAN": ("BOOL", ""),
        "TINYINT": ("SMALLINT", ""),
        "SMALLINT": ("SMALLINT", ""),
        "UTINYINT": ("SMALLINT", "SMALLINT"),
        "INTEGER": ("INT", ""),
        "USMALLINT": ("INT", "INTEGER"),
        "BIGINT": ("BIG INT", ""),
        "UINTEGER": ("BIG INT", "BIGINT"),
        "UBIGINT": ("DOUBLE PRECISION", "DOUBLE"),
        "HUGEINT": ("DOUBLE PRECISION", "DOUBLE"),
        "UHUGEINT": ("DOUBLE PRECISION", "DOUBLE"),
        "FLOAT": ("DOUBLE PRECISION", "DOUBLE"),
        "DOUBLE": ("DOUBLE PRECISION", ""),
        "VARCHAR": ("TEXT", ""),
        "DATE": ("DATE", ""),
        "TIME": ("TIME", ""),
        "TIMESTAMP": ("TIMESTAMP", ""),
        "TIMESTAMP_S": ("TIMESTAMP", "TIMESTAMP"),
        "TIMESTAMP_MS": ("TIMESTAMP", "TIMESTAMP"),
        "TIMESTAMP_NS": ("TIMESTAMP", "TIMESTAMP"),
        "TIMESTAMP WITH TIME ZONE": ("TIMESTAMP WITH TIME ZONE", ""),
    }
    if t in simple:
        hyper, cast = simple[t]
        return hyper.replace("BIG INT", "BIGINT"), cast
    match = _DECIMAL.fullmatch(t)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if precision <= 18:
            return f"NUMERIC({precision},{scale})", ""
        return "DOUBLE PRECISION", "DOUBLE"
    return "TEXT", "VARCHAR"


def _quote_hyper(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _start_hyperd(logs: Path, timeout: float, hyperd_dir: Path | None) -> Any:
    """Start hyperd through ``HyperProcess``, giving up after ``timeout`` seconds.

    ``HyperProcess`` waits for hyperd to call back with no limit of its own, so it
    runs in a helper thread; when hyperd has not called back in time, the hyperd
    processes this start spawned are killed (which ends the wait and the thread) and
    :class:`ExportError` says so.
    """
    import psutil
    from tableauhyperapi import HyperProcess, Telemetry

    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    box: dict[str, Any] = {}

    def start() -> None:
        try:
            box["hyper"] = HyperProcess(
                Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
                hyper_path=str(hyperd_dir) if hyperd_dir is not None else None,
                parameters={"log_dir": str(logs)},
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=start, name="hyperd-start", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for child in me.children(recursive=True):
            if child.pid in before:
                continue
            try:
                if "hyperd" in " ".join([child.name(), *child.cmdline()[:1]]):
                    child.kill()
            except psutil.Error:
                pass
        thread.join(30)
        if "hyper" in box:  # it came up while being stopped: do not leave it running
            box["hyper"].close()
        raise ExportError(
            f"export to hyper: hyperd did not start within {timeout:g} s and was stopped "
            f"(hyperd logs in {logs}). Fix: check that tableauhyperapi's hyperd runs on this "
            "machine, or export with --to parquet"
        )
    if "error" in box:
        raise box["error"]
    return box["hyper"]


def export_hyper(
    db_path: str | os.PathLike[str],
    hyper_path: str | os.PathLike[str],
    *,
    schema: str = "Extract",
    log_dir: str | os.PathLike[str] | None = None,
    start_timeout: float = 60,
    hyperd_dir: str | os.PathLike[str] | None = None,
) -> dict[str, int]:
    """Write a Tableau Hyper extract with one table per mart in ``schema``.

    Takes the DuckDB warehouse path (read-only) and the ``.hyper`` file to write; the
    extract is built under a temporary name next to it and renamed into place, so
    Tableau never opens half an extract. Rows move DuckDB -> Parquet spool -> Hyper's
    own Parquet reader (``external()``), with no Python loop. ``hyperd`` logs go to
    ``log_dir`` (default: a temporary folder, removed on success and named in the
    error otherwise), never to the working directory. hyperd must start within
    ``start_timeout`` seconds; ``hyperd_dir`` is the folder holding ``hyperd``
    (default: the one bundled with tableauhyperapi). Returns rows per mart.
    """
    try:
        from tableauhyperapi import Connection, CreateMode, HyperException
    except ImportError:  # pragma: no cover - depends on the environment
        raise ExportError(
            "export to hyper: the tableauhyperapi package is not installed; "
            "pip install tableauhyperapi"
        ) from None

    target = Path(hyper_path)
    counts: dict[str, int] = {}
    own_log_dir = log_dir is None
    if log_dir is None:
        logs = Path(tempfile.mkdtemp(prefix="customer-chunks-hyperd-"))
    else:
        logs = Path(log_dir)
        logs.mkdir(parents=True, exist_ok=True)
    with _open_warehouse(db_path, "hyper") as con:
        marts = _require_marts(con, db_path, "hyper")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        spool = Path(tempfile.mkdtemp(prefix="customer-chunks-hyper-spool-"))
        try:
            hyperd = Path(hyperd_dir) if hyperd_dir is not None else None
            with (
                _start_hyperd(logs, start_timeout, hyperd) as hyper,
                Connection(hyper.endpoint, str(partial), CreateMode.CREATE_AND_REPLACE) as hc,
            ):
                hc.execute_command(f"CREATE SCHEMA {_quote_hyper(schema)}")
                for mart in marts:
                    start = time.perf_counter()
                    counts[mart.name] = _load_hyper_table(con, hc, mart, schema, spool)
                    seconds = time.perf_counter() - start
                    logger.info(_line(mart.name, "hyper", counts[mart.name], seconds, str(target)))
            os.replace(partial, target)
        except HyperException as exc:
            partial.unlink(missing_ok=True)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "HyperException"
            raise ExportError(
                f"export to hyper {target}: {first} (hyperd logs in {logs})"
            ) from None
        finally:
            shutil.rmtree(spool, ignore_errors=True)
    if own_log_dir:
        shutil.rmtree(logs, ignore_errors=True)
    return counts


def _load_hyper_table(con: Any, hc: Any, mart: Mart, schema: str, spool: Path) -> int:
    mapped = [(col, *_hyper_type(col.duckdb_type)) for col in mart.columns]
    select_list = ", ".join(
        f"cast({_quote_duckdb(c.name)} as {cast}) as {_quote_duckdb(c.name)}"
        if cast
        else _quote_duckdb(c.name)
        for c, _, cast in mapped
    )
    parquet = spool / f"{len(list(spool.iterdir()))}.parquet"
    _copy_to_parquet(con, f"select {select_list} from {_mart_ref(mart)}", parquet)
    table = f"{_quote_hyper(schema)}.{_quote_hyper(mart.name)}"
    columns = ", ".join(f"{_quote_hyper(c.name)} {hyper}" for c, hyper, _ in mapped)
    hc.execute_command(f"CREATE TABLE {table} ({columns})")
    casts = ", ".join(f"CAST({_quote_hyper(c.name)} AS {hyper})" for c, hyper, _ in mapped)
    source = f"external({_sql_string(str(parquet))}, FORMAT => 'parquet')"
    return int(hc.execute_command(f"INSERT INTO {table} SELECT {casts} FROM {source}"))


# --------------------------------------------------------------------------- PostgreSQL

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)", re.I)
_KV_PASSWORD = re.compile(
    r"(?P<head>(?<![?&])\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.I
)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<pw>[^&\s]*)", re.I)


def redact_url(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Hide passwords in a connection URL / conninfo string (or any message quoting one).

    ``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``; ``password=secret``
    -> ``password=***``; every extra string in ``secrets`` is replaced too.
    """
    out = _URL_PASSWORD.sub(lambda m: m.group("head") + "***", text)
    out = _KV_PASSWORD.sub(lambda m: m.group("head") + "***", out)
    out = _QUERY_PASSWORD.sub(lambda m: m.group("head") + "***", out)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


def _secrets(url: str | None) -> tuple[str, ...]:
    found: list[str] = []
    if os.environ.get("PGPASSWORD"):
        found.append(os.environ["PGPASSWORD"])
    if url:
        try:
            from psycopg.conninfo import conninfo_to_dict

            password = conninfo_to_dict(url).get("password")
            if password:
                found.append(str(password))
        except Exception:  # noqa: BLE001 - a malformed URL must still be redacted
            pass
        for pattern in (_URL_PASSWORD, _KV_PASSWORD, _QUERY_PASSWORD):
            found.extend(m.group("pw").strip("'") for m in pattern.finditer(url))
    # Longest first, so a password containing another one is replaced whole.
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def _pg_type(duckdb_type: str) -> tuple[str, str]:
    """Map a DuckDB type to (PostgreSQL type, DuckDB cast used when spooling to CSV)."""
    t = duckdb_type.upper()
    simple = {
        "BOOLEAN": ("boolean", ""),
        "TINYINT": ("smallint", ""),
        "SMALLINT": ("smallint", ""),
        "UTINYINT": ("smallint", ""),
        "INTEGER": ("integer", ""),
        "USMALLINT": ("integer", ""),
        "BIGINT": ("bigint", ""),
        "UINTEGER": ("bigint", ""),
        "UBIGINT": ("numeric(20,0)", ""),
        "HUGEINT": ("numeric(39,0)", ""),
        "UHUGEINT": ("numeric(39,0)", ""),
        "FLOAT": ("real", ""),
        "DOUBLE": ("double precision", ""),
        "VARCHAR": ("text", ""),
        "DATE": ("date", ""),
        "TIME": ("time", ""),
        "TIMESTAMP": ("timestamp", ""),
        "TIMESTAMP_S": ("timestamp", "TIMESTAMP"),
        "TIMESTAMP_MS": ("timestamp", "TIMESTAMP"),
        "TIMESTAMP_NS": ("timestamp", "TIMESTAMP"),
        "TIMESTAMP WITH TIME ZONE": ("timestamptz", ""),
        "INTERVAL": ("interval", ""),
        "UUID": ("uuid", ""),
        "JSON": ("jsonb", ""),
    }
    if t in simple:
        return simple[t]
    match = _DECIMAL.fullmatch(t)
    if match:
        return f"numeric({match.group(1)},{match.group(2)})", ""
    return "text", "VARCHAR"


def export_postgres(
    db_path: str | os.PathLike[str],
    url: str | None = None,
    schema: str = "customer_chunks",
    *,
    connect_timeout: int = 10,
    lock_timeout: float = 60.0,
) -> dict[str, int]:
    """Publish every mart as a table in PostgreSQL schema ``schema``, atomically.

    ``url`` is a libpq URL or conninfo string; parts it leaves out (or all of it, when
    ``None``) come from the standard ``PG*`` environment variables. All marts are
    loaded with ``COPY`` into staging tables, then swapped in place of the published
    ones (drop + rename) in the SAME transaction: readers see either the previous
    publish or the new one, never a mix, and are blocked only for the short swap.
    Tables in ``schema`` that are not marts are left alone. The swap waits at most
    ``lock_timeout`` seconds for readers holding a published table, then rolls back.
    Returns rows per mart. Passwords are redacted from every message.
    """
    try:
        import psycopg
        from psycopg import sql
    except ImportError:  # pragma: no cover - depends on the environment
        raise ExportError(
            "export to postgres: the psycopg package is not installed; "
            "pip install 'psycopg[binary]'"
        ) from None

    secrets = _secrets(url)
    shown = redact_url(url, secrets) if url else "the PG* environment variables"
    counts: dict[str, int] = {}
    with _open_warehouse(db_path, f"postgres {shown}") as con:
        marts = _require_marts(con, db_path, f"postgres {shown}")
        try:
            pg = psycopg.connect(url or "", connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            reason = redact_url(_first_line(exc), secrets)
            raise ExportError(
                f"export to postgres: cannot connect to {shown} ({reason}); start the "
                "server or fix --url / the PG* environment variables"
            ) from None
        spool = Path(tempfile.mkdtemp(prefix="customer-chunks-pg-spool-"))
        step = f"schema {schema}"
        try:
            with pg, pg.transaction(), pg.cursor() as cur:
                cur.execute(
                    sql.SQL("create schema if not exists {}").format(sql.Identifier(schema))
                )
                cur.execute(f"set local lock_timeout = {int(lock_timeout * 1000)}")
                for mart in marts:
                    step = f"{MART_SCHEMA}.{mart.name}"
                    start = time.perf_counter()
                    counts[mart.name] = _load_pg_table(con, cur, mart, schema, spool)
                    seconds = time.perf_counter() - start
                    logger.info(_line(mart.name, f"postgres {schema}", counts[mart.name], seconds))
                step = "the swap into the published tables"
                for mart in marts:
                    _swap_pg_table(cur, sql, schema, mart.name)
            logger.info("published %d marts to postgres schema %s (%s)", len(marts), schema, shown)
        except psycopg.Error as exc:
            reason = redact_url(_first_line(exc), secrets)
            raise ExportError(
                f"export to postgres {shown}: publish rolled back at {step}, nothing changed "
                f"({reason})"
            ) from None
        finally:
            shutil.rmtree(spool, ignore_errors=True)
            pg.close()
    return counts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _staging_name(table: str) -> str:
    return f"_cc_publish_{table}"[:63]


def _load_pg_table(con: Any, cur: Any, mart: Mart, schema: str, spool: Path) -> int:
    from psycopg import sql

    mapped = [(col, *_pg_type(col.duckdb_type)) for col in mart.columns]
    staging = sql.Identifier(schema, _staging_name(mart.name))
    cur.execute(sql.SQL("drop table if exists {}").format(staging))
    cur.execute(
        sql.SQL("create table {} ({})").format(
            staging,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg)) for c, pg, _ in mapped
            ),
        )
    )
    select_list = ", ".join(
        f"cast({_quote_duckdb(c.name)} as {cast}) as {_quote_duckdb(c.name)}"
        if cast
        else _quote_duckdb(c.name)
        for c, _, cast in mapped
    )
    csv_path = spool / f"{mart.name}.csv"
    # DuckDB writes NULL as an unquoted empty field and an empty string as "", which
    # is exactly how PostgreSQL's CSV COPY tells them apart.
    con.execute(
        f"copy (select {select_list} from {_mart_ref(mart)}) to {_sql_string(str(csv_path))} "
        "(format csv, header false)"
    )
    copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        staging, sql.SQL(", ").join(sql.Identifier(c.name) for c, _, _ in mapped)
    )
    with cur.copy(copy_sql) as copy, open(csv_path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            copy.write(chunk)
    rows = cur.rowcount
    csv_path.unlink()
    cur.execute(sql.SQL("analyze {}").format(staging))
    return int(rows)


def _swap_pg_table(cur: Any, sql: Any, schema: str, table: str) -> None:
    cur.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(schema, table)))
    cur.execute(
        sql.SQL("alter table {} rename to {}").format(
            sql.Identifier(schema, _staging_name(table)), sql.Identifier(table)
        )
    )


# --------------------------------------------------------------------------- dispatch


def export_all(
    db_path: str | os.PathLike[str],
    to: str,
    *,
    out: str | os.PathLike[str] | None = None,
    url: str | None = None,
    schema: str | None = None,
) -> dict[str, int] | list[Path]:
    """Dispatch for the CLI: ``to`` is ``parquet``, ``hyper`` or ``postgres``.

    ``out`` is the Parquet folder (default ``output/exports``) or the ``.hyper`` file
    (default ``output/exports/customer_chunks.hyper``; a folder gets that file name);
    ``url``/``schema`` are for PostgreSQL (schema default ``customer_chunks``).
    """
    if to == "parquet":
        return export_parquet(db_path, out or Path("output/exports"))
    if to == "hyper":
        path = Path(out) if out else Path("output/exports/customer_chunks.hyper")
        if path.suffix != ".hyper":
            path = path / "customer_chunks.hyper"
        return export_hyper(db_path, path)
    if to == "postgres":
        return export_postgres(db_path, url, schema or "customer_chunks")
    raise ExportError(f"export: unknown target {to!r}; use parquet, hyper or postgres")
