"""PostgreSQL as a source: a table or a query read through DuckDB's postgres extension.

The extension is loaded offline from the ``duckdb-extension-postgres`` wheel (pinned
with duckdb in pyproject.toml) into a private extension directory, with automatic
installing and loading switched off, so nothing ever tries the network. The database
is attached ``READ_ONLY``: DuckDB then runs every statement on the server in a
read-only transaction, so a ``query:`` cannot change data.

Credentials: libpq takes the password from the URL, ``PGPASSWORD`` or ``~/.pgpass``.
None of them is ever shown: :func:`describe_postgres` gives the URL without its
password, and :func:`scrub` removes the URL's password, the whole URL and
``PGPASSWORD`` from any message before it is logged or raised.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb

from customer_chunks.errors import InputError
from customer_chunks.sources import PostgresSource

_KEY_VALUE_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _url_parts(url: str) -> dict[str, str]:
    if "://" in url:
        parts = urlsplit(url)
        return {
            "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "host": parts.hostname or "",
            "port": str(parts.port or "") if _port_ok(parts) else "",
            "dbname": parts.path.lstrip("/"),
        }
    found = dict(re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", url))
    return {k: v.strip("'") for k, v in found.items()}


def _port_ok(parts) -> bool:  # type: ignore[no-untyped-def]
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return True


def describe_postgres(pg: PostgresSource) -> str:
    """``postgres://user@host:port/db schema.table`` (or ``(query)``): never a password."""
    parts = _url_parts(pg.url)
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    where = f"postgres://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"
    what = f"{pg.schema_}.{pg.table}" if pg.table is not None else "(query)"
    return f"{where} {what}"


def secrets(pg: PostgresSource) -> list[str]:
    """Every text that must not appear in a message about ``pg``."""
    found = [pg.url]
    password = _url_parts(pg.url).get("password")
    if password:
        found.append(password)
    if os.environ.get("PGPASSWORD"):
        found.append(os.environ["PGPASSWORD"])
    found += _pgpass_passwords()
    # A password of one to three characters would turn every such letter of a message
    # into *** and is no secret worth the name; the whole URL is always replaced.
    return sorted({s for s in found if len(s) >= 4 or s == pg.url}, key=len, reverse=True)


def _pgpass_passwords() -> list[str]:
    """The passwords in the libpq password file ($PGPASSFILE or ~/.pgpass), if readable:
    libpq never prints them, but a message must not either."""
    path = Path(os.environ.get("PGPASSFILE") or Path.home() / ".pgpass")
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            # host:port:database:user:password, with \: and \\ escaped
            fields = re.split(r"(?<!\\):", line, maxsplit=4)
            if len(fields) == 5 and fields[4]:
                found.append(fields[4].replace("\\:", ":").replace("\\\\", "\\"))
    return found


def scrub(text: str, pg: PostgresSource) -> str:
    """``text`` with the URL, its password and PGPASSWORD replaced."""
    for secret in secrets(pg):
        shown = describe_postgres(pg).split(" ")[0] if secret == pg.url else "***"
        text = text.replace(secret, shown)
    return _KEY_VALUE_PASSWORD.sub(r"\1***", text)


def connect_config(extension_directory: Path) -> dict[str, str | bool]:
    """DuckDB settings for a connection that loads extensions only from the wheels,
    installing them into ``extension_directory`` (the load's scratch folder, removed
    afterwards: the extension is about 40 MB once unpacked)."""
    extension_directory.mkdir(parents=True, exist_ok=True)
    return {
        "extension_directory": str(extension_directory),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }


def load_extension(con: duckdb.DuckDBPyConnection) -> None:
    """Install the postgres extension from its wheel into the connection's extension
    directory (no network) and load it."""
    try:
        from duckdb_extensions import import_extension
    except ImportError:
        raise InputError(
            "postgres sources need the duckdb-extensions and duckdb-extension-postgres "
            "packages. Fix: pip install -e . (they are pinned in pyproject.toml)."
        ) from None
    try:
        import_extension("postgres", con=con)
        con.execute("load postgres")
    except (duckdb.Error, ModuleNotFoundError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot load DuckDB's postgres extension ({first}). Fix: reinstall the pinned "
            "duckdb-extension-postgres wheel (pip install -e .)."
        ) from None


def attach(con: duckdb.DuckDBPyConnection, alias: str, pg: PostgresSource, where: str) -> None:
    """Attach ``pg``'s database read-only as ``alias``; one-line InputError without
    credentials when the server cannot be reached or refuses the login."""
    url = pg.url.replace("'", "''")
    # A table source sees only its own schema; a query runs with the login's rights.
    schema = "" if pg.table is None else ", schema '" + pg.schema_.replace("'", "''") + "'"
    try:
        con.execute(f"attach '{url}' as {alias} (type postgres, read_only{schema})")
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{describe_postgres(pg)}: cannot connect ({scrub(first, pg)}). Fix: check "
            f"postgres.url in {where} (host, port, database, user) and the password in "
            "PGPASSWORD or ~/.pgpass; the server must accept the connection."
        ) from None


def reader_sql(alias: str, pg: PostgresSource) -> str:
    """The FROM item reading ``pg`` once it is attached as ``alias``."""
    if pg.query is not None:
        query = pg.query.strip().rstrip(";").replace("'", "''")
        return f"postgres_query('{alias}', '{query}')"
    schema = pg.schema_.replace('"', '""')
    table = str(pg.table).replace('"', '""')
    return f'{alias}."{schema}"."{table}"'
