"""`customer-chunks run`: load the inputs, `dbt build` them, publish the warehouse.

The build goes into a fresh DuckDB file beside the published one; only when
`dbt build` passes is it moved over the published file (an atomic rename), so a failed
run leaves the last good warehouse intact and readable. One run at a time builds a given
warehouse (a lock file beside it); the build file's name is fixed, so dbt's profile does
not change between runs and dbt reuses its parse of the project (about 3 s a run).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from customer_chunks.errors import BuildError, CustomerChunksError
from customer_chunks.load import Log, load_all
from customer_chunks.sources import TableSource

DEFAULT_WAREHOUSE = Path("warehouse/customer_chunks.duckdb")


def project_dir() -> Path:
    """The dbt project folder: $CUSTOMER_CHUNKS_PROJECT_DIR, else the one this package sits in."""
    env = os.environ.get("CUSTOMER_CHUNKS_PROJECT_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2], Path.cwd()]
    for c in candidates:
        if (c / "dbt_project.yml").is_file():
            return c
    raise CustomerChunksError(
        "cannot find dbt_project.yml. Fix: run from the Customer Chunks checkout or set "
        "CUSTOMER_CHUNKS_PROJECT_DIR to it."
    )


def dbt_build(db_path: Path, dbt_vars: dict, log: Log = print, select: str | None = None) -> None:
    """Run `dbt build` against ``db_path`` in a subprocess; raise BuildError on failure."""
    proj = project_dir()
    dbt_exe = Path(sys.executable).with_name("dbt")
    cmd = [
        str(dbt_exe) if dbt_exe.exists() else "dbt",
        "--no-use-colors",
        "build",
        "--project-dir",
        str(proj),
        "--profiles-dir",
        str(proj),
        "--vars",
        json.dumps(dbt_vars),
    ]
    if select:
        cmd += ["--select", select]
    env = {**os.environ, "CUSTOMER_CHUNKS_DB": str(db_path.resolve())}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    started = time.perf_counter()
    log(f"dbt build (vars {json.dumps(dbt_vars)})")
    proc = subprocess.Popen(
        cmd, cwd=proj, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    failures = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        log("  " + line)
        text = line.strip()
        if text.split("  ", 1)[-1].startswith(("Failure in", "Error in")) or " ERROR " in text:
            failures.append(text.split("  ", 1)[-1])
    code = proc.wait()
    if code != 0:
        first = failures[0] if failures else "see the dbt output above"
        raise BuildError(
            f"dbt build failed after {time.perf_counter() - started:.0f} s ({first}); "
            "the published warehouse was not changed."
        )


@contextlib.contextmanager
def _only_run(warehouse: Path):
    """Hold an exclusive lock on ``warehouse`` for the duration of a run."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    lock_path = warehouse.with_name(f".{warehouse.stem}.lock")
    with open(lock_path, "a+", encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CustomerChunksError(
                f"another customer-chunks run is building {warehouse} right now. "
                "Fix: wait for it to finish, or pass a different --warehouse."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run(
    sources: dict[str, TableSource],
    warehouse: Path = DEFAULT_WAREHOUSE,
    as_of: str | None = None,
    extra_vars: dict | None = None,
    log: Log = print,
) -> Path:
    """Load, build and publish. Returns the published warehouse path."""
    warehouse = Path(warehouse)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    building = warehouse.with_name(f".{warehouse.stem}.building{warehouse.suffix}")
    started = time.perf_counter()
    with _only_run(warehouse):
        # a build file left by a run that was killed is stale: we hold the lock
        for stale in (building, Path(str(building) + ".wal")):
            stale.unlink(missing_ok=True)
        try:
            load_all(building, sources, log=log)
            dbt_vars = dict(extra_vars or {})
            if as_of:
                dbt_vars["as_of"] = as_of
            dbt_build(building, dbt_vars, log=log)
            os.replace(building, warehouse)
        finally:
            for leftover in (building, Path(str(building) + ".wal")):
                leftover.unlink(missing_ok=True)
    log(f"published {warehouse} in {time.perf_counter() - started:.0f} s")
    return warehouse
