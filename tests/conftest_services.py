"""Pytest fixtures for tests that need outside services: PostgreSQL and headless Chromium.

Import them from ``tests/conftest.py`` (``from conftest_services import *``) or from a
test module. ``.ci/services.sh`` installs the Debian packages and starts the server;
without it these fixtures start a private PostgreSQL cluster themselves when the
binaries exist, and skip with a message saying what to install when they do not.

Fixtures:
- ``pg_url`` (session): libpq URL of a PostgreSQL server to publish to.
- ``pg_schema``: a fresh schema name on that server, dropped after the test.
- ``chromium_executable`` (session): path of the Debian Chromium binary.
- ``browser_check``: ``chromium_check.check_in_browser`` (tests/chromium_check.py) with
  the executable filled in, for asserting that an HTML page renders without errors.

Tests that need neither never touch these fixtures, so the rest of the suite runs on a
machine with no browser and no database server.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PG_URL_ENV = "CUSTOMER_CHUNKS_TEST_PG_URL"
CHROMIUM_ENV = "CUSTOMER_CHUNKS_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

__all__ = ["browser_check", "chromium_executable", "pg_schema", "pg_url"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: p.split("/")[4])
    return Path(found[-1]).parent if found else None


def _run_as_owner(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # PostgreSQL refuses to run as root: on the project's machines (root) use the
    # Debian `postgres` account, elsewhere the current user.
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def _can_connect(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as con:
            con.execute("select 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL server: ``$CUSTOMER_CHUNKS_TEST_PG_URL`` or a private cluster."""
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    url = os.environ.get(PG_URL_ENV)
    if url:
        problem = _can_connect(url)
        if problem:
            pytest.fail(f"{PG_URL_ENV} is set but the server does not answer: {problem}")
        yield url
        return

    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip(
            f"no PostgreSQL: set {PG_URL_ENV} (source .ci/services.sh) or "
            "apt-get install postgresql"
        )
    root = Path(tempfile.mkdtemp(prefix="cc-test-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    data = root / "data"
    init = _run_as_owner(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        + ["--locale=C.UTF-8"]
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed, cannot start a private PostgreSQL: {init.stderr[-300:]}")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    start = _run_as_owner(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options]
        + ["start"]
    )
    if start.returncode != 0:
        log = (root / "log").read_text(errors="replace")[-300:] if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"private PostgreSQL did not start: {start.stderr[-300:]} {log}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A schema name unique to this test; dropped (cascade) afterwards."""
    import psycopg
    from psycopg import sql

    name = f"cc_test_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Path of headless-capable Chromium (Debian package); skips when absent."""
    path = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.skip(f"{path} not found: apt-get install chromium (or source .ci/services.sh)")
    pytest.importorskip("playwright", reason="the playwright package is not installed")
    return path


@pytest.fixture
def browser_check(chromium_executable: str) -> Callable[..., dict[str, Any]]:
    """``check_in_browser(html_path, screenshot_path=None, **kw)`` bound to Chromium."""
    from chromium_check import check_in_browser

    return functools.partial(check_in_browser, executable_path=chromium_executable)
