"""`customer-chunks run`: load the inputs, `dbt build` them, publish the warehouse.

The build goes into a fresh DuckDB file beside the published one. Only when `dbt build`
passes, the build file is fully checkpointed (nothing left in its ``.wal``), and every
table dbt built is there when the file is opened read-only, is it moved over the
published file (an atomic rename). Any failure on the way - bad input, a failing dbt
test, a full disk, a time limit, Ctrl-C - leaves the last good warehouse intact and
readable and says so in one line. One run at a time builds a given warehouse (a lock
file beside it); the build file's name is fixed, so dbt's profile does not change
between runs and dbt reuses its parse of the project (about 3 s a run).

dbt runs in a child process (in-process dbt and a second DuckDB connection to the same
file conflict). The child is in its own process group, which is killed when the run
stops early, and on Linux it is told to die with its parent, so a killed run never
leaves dbt writing on. Its structured events (``--log-format json``) become one
progress line per model; its full log goes to ``logs/dbt.log``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from customer_chunks.append import KEPT_STATE_VARS
from customer_chunks.contract import CONTRACT
from customer_chunks.errors import BuildError, CustomerChunksError
from customer_chunks.history import carry_forward, stamp_run
from customer_chunks.load import _literal, load_all
from customer_chunks.logs import forward_to
from customer_chunks.project import PACKAGED, project_dir, project_vars
from customer_chunks.sources import TableSource

__all__ = ["DBT_TIMEOUT_S", "DEFAULT_WAREHOUSE", "dbt_build", "project_dir", "run", "score"]

logger = logging.getLogger(__name__)

DEFAULT_WAREHOUSE = Path("warehouse/customer_chunks.duckdb")
# Longest a `dbt build` may take before it is stopped (a million customers take ~5 min).
DBT_TIMEOUT_S = 3600
# With no dbt output for this long, say which node is still running.
HEARTBEAT_S = 5.0
# Node results that mean the build failed.
_FAILED = {"error", "fail", "runtime error"}
_RESULT_EVENTS = {
    "LogModelResult",
    "LogSeedResult",
    "LogSnapshotResult",
    "LogTestResult",
    "LogNodeNoOpResult",
    "LogFunctionResult",
}


# --------------------------------------------------------------------------- memory

# DuckDB's memory_limit for dbt when the user has not set CUSTOMER_CHUNKS_MEMORY:
# this share of the machine's memory (or of the container's limit, when smaller), in
# whole GB, never below MEMORY_FLOOR_GB. Beyond the limit DuckDB spills to disk, so a
# larger limit means less spill (10M customers at 10GB spilled enough to fill 70 GB).
MEMORY_SHARE = 0.5
MEMORY_FLOOR_GB = 1


def physical_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or the cgroup's limit when
    it is lower; None when neither can be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = None
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        if limit != "max" and (total is None or int(limit) < total):
            total = int(limit)
    return total


def duckdb_memory_limit() -> tuple[str, str]:
    """(DuckDB memory_limit, where it comes from): $CUSTOMER_CHUNKS_MEMORY when set, else
    MEMORY_SHARE of :func:`physical_memory`. The one home of the rule; profiles.yml's
    own default (3GB) only applies to dbt run by hand."""
    if value := os.environ.get("CUSTOMER_CHUNKS_MEMORY"):
        return value, "CUSTOMER_CHUNKS_MEMORY"
    total = physical_memory()
    if total is None:
        return f"{MEMORY_FLOOR_GB}GB", "the floor: this machine's memory could not be read"
    gb = max(MEMORY_FLOOR_GB, int(total * MEMORY_SHARE / 1e9))
    return f"{gb}GB", f"half of this machine's {total / 1024**3:.1f} GiB"


# --------------------------------------------------------------------------- disk


def building_file(warehouse: Path) -> Path:
    """The file a run builds in, beside ``warehouse``, published over it at the end."""
    return warehouse.with_name(f".{warehouse.stem}.building{warehouse.suffix}")


def spill_directory(database: Path) -> Path:
    """Where DuckDB spills what does not fit in memory_limit while building ``database``:
    its default temp_directory, ``<database>.tmp`` beside it (profiles.yml sets none)."""
    return database.with_name(database.name + ".tmp")


# Peak disk of a full build (the build file plus DuckDB's spill into its temp directory)
# per byte of input Parquet, measured at 1M customers with memory_limit 1GB, the data-to-
# memory ratio of 10M customers at 10GB (bench/results/2026-12-03-spill-1m-proxy.md:
# 10.4 GB for 1.05 GB of Parquet, 3.7x the finished 2.8 GB warehouse; 7.9 GB of it
# DuckDB's spill inside int_customer_activity_by_snapshot). CSV input is larger than
# Parquet for the same rows, so for CSV the estimate errs on the safe side.
BUILD_DISK_PER_INPUT_BYTE = 10.0


def build_disk_estimate(sources) -> int:
    """Bytes a full build of ``sources`` may need on the warehouse's disk at the peak."""
    size = 0
    for source in sources:
        for path in getattr(source, "paths", None) or []:
            with contextlib.suppress(OSError):
                size += Path(path).stat().st_size
    return int(size * BUILD_DISK_PER_INPUT_BYTE)


def warn_if_disk_is_short(sources, where: Path) -> None:
    """Log a warning before the build when ``where`` has less free disk than the
    estimate (the build may still fit: the estimate is for a small memory_limit)."""
    need = build_disk_estimate(sources)
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return
    if need and free < need:
        logger.warning(
            "only %.1f GB free in %s; a build of these inputs may need about %.1f GB at the "
            "peak (the build file plus DuckDB's spill, about %.0fx the inputs' size). Free "
            "disk there, pass --warehouse on a disk with more room, or raise "
            "CUSTOMER_CHUNKS_MEMORY (a larger memory limit spills less).",
            free / 1e9,
            where,
            need / 1e9,
            BUILD_DISK_PER_INPUT_BYTE,
        )


# --------------------------------------------------------------------------- disk full


def is_disk_full(error: BaseException | str) -> bool:
    """True when an exception or an error message says the disk is full."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error)
    return "No space left on device" in text or "ENOSPC" in text


def disk_full_error(step: str, where: Path, warehouse: Path) -> BuildError:
    """The one-line error for a full disk during ``step``."""
    try:
        free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
        room = f" ({free / 1e6:,.0f} MB free there now)"
    except OSError:
        room = ""
    return BuildError(
        f"No space left on device while {step} in {where}{room}; the published warehouse "
        f"{warehouse} was not changed. Fix: free disk space there, pass --warehouse on a "
        "disk with more room, or raise CUSTOMER_CHUNKS_MEMORY (DuckDB spills less). At the "
        "peak a build holds the build file plus DuckDB's spill (<build file>.tmp): "
        f"measured at about {BUILD_DISK_PER_INPUT_BYTE:.0f}x the input Parquet's size "
        "at a small memory limit."
    )


# --------------------------------------------------------------------------- dbt


def _state_dir() -> Path:
    """Where dbt writes target/ and logs/: ``CUSTOMER_CHUNKS_STATE_DIR`` when set (the
    test suite gives each pytest-xdist worker its own, so parallel builds never share a
    run_results.json), else the checkout, or the working directory when the project is
    the read-only copy inside an installed package."""
    if override := os.environ.get("CUSTOMER_CHUNKS_STATE_DIR"):
        return Path(override)
    proj = project_dir()
    return Path.cwd() if proj == PACKAGED else proj


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: ask the kernel to SIGKILL this child when its parent dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the child and everything it started; wait so nothing writes on after."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _pump(stream, name: str, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((name, line.rstrip("\n")))
    lines.put((name, None))


class _Progress:
    """Turns dbt's JSON events into progress lines and remembers what failed."""

    def __init__(self) -> None:
        self.invocation_id: str | None = None
        self.running: tuple[str, float] | None = None
        self.errors: list[str] = []
        self.tests_done = 0
        self.tests_failed = 0
        self.last_tests_line = 0.0
        self.total = 0
        self.done = 0
        self.bar = None

    def event(self, line: str) -> bool:
        """Log what ``line`` (one dbt event) says; True when a line was logged."""
        try:
            event = json.loads(line)
            info, data = event["info"], event.get("data", {})
        except (ValueError, KeyError, TypeError):
            if line.strip():
                logger.info("dbt: %s", line.strip())
            return bool(line.strip())
        self.invocation_id = info.get("invocation_id") or self.invocation_id
        name = info.get("name", "")
        node = data.get("node_info") or {}
        if info.get("level") == "error" and info.get("msg"):
            self.errors.append(" ".join(str(info["msg"]).split()))
        if name == "LogStartLine":
            self.running = (node.get("node_name", "?"), time.monotonic())
            return False
        if name in {"UnableToPartialParse", "FoundStats"}:
            logger.info("dbt: %s", info.get("msg"))
            return True
        if name not in _RESULT_EVENTS:
            return False
        self.running = None
        self.total = int(data.get("total") or data.get("num_models") or self.total)
        self.done = int(data.get("index") or self.done + 1)
        if self.bar is not None:
            self.bar.total, self.bar.n = self.total, self.done
            self.bar.refresh()
        status = str(data.get("status") or node.get("node_status") or "").lower()
        took = float(data.get("execution_time") or 0.0)
        where = f"dbt {self.done}/{self.total}"
        if node.get("resource_type") == "test" or name == "LogTestResult":
            self.tests_done += 1
            if status in _FAILED or status == "warn":
                self.tests_failed += status != "warn"
                logger.warning("%s test %s %s", where, node.get("node_name"), status.upper())
                return True
            if time.monotonic() - self.last_tests_line >= HEARTBEAT_S or self.done == self.total:
                self.last_tests_line = time.monotonic()
                logger.info("%s tests: %d passed so far", where, self.tests_done)
                return True
            return False
        level = logging.WARNING if status in _FAILED else logging.INFO
        logger.log(level, "%s %s %s %.1f s", where, node.get("node_name"), status.upper(), took)
        return True

    def heartbeat(self) -> None:
        if self.running is not None:
            node, since = self.running
            logger.info(
                "dbt %d/%d %s still running (%.0f s)",
                self.done + 1,
                self.total,
                node,
                time.monotonic() - since,
            )
        elif self.total == 0:
            logger.info("dbt: starting (loading dbt, parsing the project)")
        else:
            logger.info("dbt: working (%d/%d nodes done)", self.done, self.total)


@contextlib.contextmanager
def _bar():
    """A tqdm bar of dbt nodes under the log lines when standard output is a terminal
    (nothing in logs, pipes and CI)."""
    if not sys.stdout.isatty():
        yield None
        return
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with (
        logging_redirect_tqdm(loggers=[logging.getLogger("customer_chunks")]),
        tqdm(desc="dbt build", unit="node", leave=False, file=sys.stdout) as bar,
    ):
        yield bar


def _run_results(target: Path, invocation_id: str | None) -> list[dict]:
    """This invocation's node results from target/run_results.json ([] when absent)."""
    try:
        results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if invocation_id and results.get("metadata", {}).get("invocation_id") != invocation_id:
        return []  # a previous run's file: this run failed before writing its own
    return results.get("results", [])


def dbt_build(
    db_path: Path,
    dbt_vars: dict,
    select: str | None = None,
    timeout: float = DBT_TIMEOUT_S,
    full_refresh: bool = False,
    target: str = "target",
    prepare: Callable[[], None] | None = None,
) -> list[dict]:
    """Run `dbt build` against ``db_path`` in a child process, logging progress.

    ``prepare``: called once the child has started, while it imports dbt and parses the
    project (:mod:`customer_chunks.dbt_child`); the build starts when it returns, and
    when it raises the child is stopped before it has opened ``db_path``.

    ``target`` is dbt's target folder (in the checkout or working directory): a command
    whose vars and database path stay the same from one invocation to the next keeps
    its own, so that dbt's partial parsing is not undone by the other commands.
    Returns this invocation's node results (target/run_results.json). Raises BuildError
    naming the first failing node and its message, or the time limit when the build
    runs longer than ``timeout`` seconds (the child's whole process group is killed).
    """
    proj = project_dir()
    state = _state_dir()
    dbt_exe = Path(sys.executable).with_name("dbt")
    args = [
        "--no-use-colors",
        "--log-format",
        "json",
        "--log-format-file",
        "debug",
        "build",
        "--project-dir",
        str(proj),
        "--profiles-dir",
        str(proj),
        "--vars",
        json.dumps(dbt_vars),
    ]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if prepare is None:
        cmd = [str(dbt_exe) if dbt_exe.exists() else "dbt", *args]
    else:
        cmd = [sys.executable, "-m", "customer_chunks.dbt_child", json.dumps(args)]
    env = {
        **os.environ,
        "CUSTOMER_CHUNKS_DB": str(db_path.resolve()),
        "DBT_TARGET_PATH": str(state / target),
        "DBT_LOG_PATH": str(state / "logs"),
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    memory, why = duckdb_memory_limit()
    env["CUSTOMER_CHUNKS_MEMORY"] = memory
    logger.info("DuckDB memory_limit %s (%s; set CUSTOMER_CHUNKS_MEMORY to change it)", memory, why)
    logger.info(
        "dbt build (vars %s; full log: %s)", json.dumps(dbt_vars), state / "logs" / "dbt.log"
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=proj,
        env=env,
        stdin=subprocess.PIPE if prepare is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: killed as one
        preexec_fn=_die_with_parent,
    )
    progress = _Progress()
    stderr_tail: list[str] = []
    lines: queue.Queue = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, "out", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "err", lines), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    if prepare is not None:
        try:
            prepare()
        except BaseException:
            _kill_group(proc)
            raise
        with contextlib.suppress(OSError):  # a child that failed to parse has exited
            proc.stdin.write("go\n")
            proc.stdin.close()
    open_streams, last_output = 2, time.monotonic()
    stack = contextlib.ExitStack()
    try:
        progress.bar = stack.enter_context(_bar())
        while open_streams:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                _kill_group(proc)
                raise BuildError(
                    f"dbt build did not finish within {timeout:.0f} s and was stopped"
                    + (f" (at {progress.running[0]})" if progress.running else "")
                    + "; the published warehouse was not changed. Fix: pass a larger "
                    "--timeout, or look at logs/dbt.log for the step that hangs."
                )
            try:
                stream, line = lines.get(timeout=min(1.0, left))
            except queue.Empty:
                if time.monotonic() - last_output >= HEARTBEAT_S:
                    progress.heartbeat()
                    last_output = time.monotonic()
                continue
            if line is None:
                open_streams -= 1
                continue
            if stream == "out":
                if progress.event(line):
                    last_output = time.monotonic()
            elif line.strip():
                last_output = time.monotonic()
                # Python models print progress (customer_chunks.ml_tables.log) to stderr.
                text = line.strip()
                if len(text) > 9 and text[2] == ":" and text[5] == ":" and text[8] == " ":
                    text = text[9:]  # drop the model's own HH:MM:SS
                stderr_tail = (stderr_tail + [text])[-20:]
                logger.info("  %s", text)
        code = proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        stack.close()
    took = time.monotonic() - started
    results = _run_results(state / target, progress.invocation_id)
    failed = [r for r in results if str(r.get("status")).lower() in _FAILED]
    messages = [str(r.get("message") or "") for r in failed] + progress.errors + stderr_tail
    if code != 0 or failed:
        if any(is_disk_full(m) for m in messages):
            raise BuildError(f"dbt build failed after {took:.0f} s: No space left on device")
        if failed:
            first = failed[0]
            what = f"{first.get('unique_id')}: {' '.join(str(first.get('message')).split())}"
            if len(failed) > 1:
                what += f" (and {len(failed) - 1} more)"
        else:
            what = progress.errors[0] if progress.errors else "see logs/dbt.log"
        raise BuildError(
            f"dbt build failed after {took:.0f} s ({what[:500]}); "
            "the published warehouse was not changed. Details: logs/dbt.log."
        )
    counts: dict[str, int] = {}
    for r in results:
        counts[str(r.get("status"))] = counts.get(str(r.get("status")), 0) + 1
    logger.info(
        "dbt build passed in %.0f s (%s)",
        took,
        ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
    )
    return results


# --------------------------------------------------------------------------- publish


@contextlib.contextmanager
def _only_run(warehouse: Path, command: str = "run"):
    """Hold an exclusive lock on ``warehouse`` for the duration of a run (of a score,
    which has a lock of its own: it only reads the published warehouse)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    suffix = "" if command == "run" else f".{command}"
    lock_path = warehouse.with_name(f".{warehouse.stem}{suffix}.lock")
    with open(lock_path, "a+", encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CustomerChunksError(
                f"another customer-chunks {command} is using {warehouse} right now. "
                "Fix: wait for it to finish, or pass a different --warehouse."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wal(path: Path) -> Path:
    return Path(str(path) + ".wal")


def _built_relations(results: list[dict]) -> set[tuple[str, str]]:
    """(schema, name) of every table and view this dbt run reported as built."""
    built = set()
    for r in results:
        kind = str(r.get("unique_id", "")).split(".", 1)[0]
        relation = r.get("relation_name")
        if kind in {"model", "seed", "snapshot"} and relation and r.get("status") == "success":
            parts = [p.strip('"') for p in relation.split('"."')]
            built.add((parts[-2], parts[-1]))
    return built


def _checkpoint(path: Path, warehouse: Path) -> None:
    """Write everything in ``path``'s .wal into the file itself, or raise."""
    try:
        con = duckdb.connect(str(path))
        try:
            con.execute("checkpoint")
        finally:
            con.close()
    except (duckdb.Error, OSError) as exc:
        if is_disk_full(exc):
            raise disk_full_error("writing the build to disk", path.parent, warehouse) from None
        raise BuildError(
            f"could not checkpoint {path} ({exc}); the published warehouse {warehouse} was "
            "not changed."
        ) from None
    wal = _wal(path)
    if wal.exists() and wal.stat().st_size > 0:
        raise BuildError(
            f"{path} still has {wal.stat().st_size:,} bytes in its write-ahead log after a "
            f"checkpoint; the published warehouse {warehouse} was not changed. Fix: check "
            "free disk space, then run again."
        )


def _first_order(con: duckdb.DuckDBPyConnection) -> str:
    with contextlib.suppress(duckdb.Error):
        row = con.sql("select min(ordered_at) from staging.stg_customer_data__transactions")
        first = row.fetchone()[0]
        if first is not None:
            return f"the first order is at {first}"
    return "no order was staged"


def _verify(building: Path, warehouse: Path, expected: set[tuple[str, str]], as_of) -> None:
    """Open the checkpointed build file read-only: every built table is there and
    dim_customers has rows. Raise BuildError otherwise."""
    try:
        con = duckdb.connect(str(building), read_only=True)
    except (duckdb.Error, OSError) as exc:
        raise BuildError(f"the build file {building} cannot be opened ({exc}).") from None
    try:
        present = set(
            con.sql(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
        )
        missing = sorted(f"{s}.{t}" for s, t in expected - present)
        if missing:
            raise BuildError(
                f"dbt reported success but {len(missing)} tables are missing from the build "
                f"file ({', '.join(missing[:5])}); the published warehouse {warehouse} was "
                "not changed. Fix: check free disk space, then run again."
            )
        customers = con.sql("select count(*) from marts.dim_customers").fetchone()[0]
        if customers == 0:
            when = f"as_of {as_of}" if as_of else "the reference date"
            raise BuildError(
                f"no customer has a purchase before {when} ({_first_order(con)}), so there "
                f"is nothing to segment; the published warehouse {warehouse} was not "
                "changed. Fix: pass a later --as-of (or none), or check the input data."
            )
    finally:
        con.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(building: Path, warehouse: Path, results: list[dict], as_of: str | None) -> None:
    """Checkpoint, verify and atomically move ``building`` over ``warehouse``."""
    _checkpoint(building, warehouse)
    _verify(building, warehouse, _built_relations(results), as_of)
    if _wal(warehouse).exists():
        if _wal(warehouse).stat().st_size > 0:
            # The old file's own unflushed changes: fold them in before the file is
            # replaced, so its log can never be replayed onto the new file.
            _checkpoint(warehouse, warehouse)
        _wal(warehouse).unlink(missing_ok=True)
    try:
        _fsync(building)
        os.replace(building, warehouse)
        _fsync(warehouse.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error("publishing", warehouse.parent, warehouse) from None
        raise


def run(
    sources: dict[str, TableSource],
    warehouse: Path = DEFAULT_WAREHOUSE,
    as_of: str | None = None,
    extra_vars: dict | None = None,
    log=None,
    timeout: float = DBT_TIMEOUT_S,
    append: bool = False,
) -> Path:
    """Load, build and publish. Returns the published warehouse path.

    ``append``: build on a copy of the published warehouse, loading only the input files
    it has not loaded and recomputing the features of the customers they touch (see
    :mod:`customer_chunks.append`); the marts equal a full run's on all the files.

    Progress goes to the ``customer_chunks`` loggers. ``log`` is kept only for callers
    written before that: when given, it also receives every progress message.
    Raises BuildError / InputError (one line each) and leaves the published warehouse
    unchanged on any failure.
    """
    with forward_to(log):
        return _run(sources, Path(warehouse), as_of, dict(extra_vars or {}), timeout, append)


def _start_from_published(building: Path, warehouse: Path, run_vars: dict) -> None:
    """``run --append``: check the vars kept in the warehouse's rows are unchanged, then
    copy the published warehouse to ``building``."""
    if not warehouse.is_file():
        raise CustomerChunksError(
            f"{warehouse} not found: --append adds to a published warehouse. Fix: run "
            "without --append first."
        )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        last = con.execute(
            "select run_vars from marts.run_history order by run_id desc limit 1"
        ).fetchone()
    except duckdb.Error:
        last = None
    finally:
        con.close()
    previous = json.loads(last[0]) if last and last[0] else {}
    changed = [
        f"{name}: {previous.get(name)!r} -> {run_vars.get(name)!r}"
        for name in KEPT_STATE_VARS
        if name in previous and previous.get(name) != run_vars.get(name)
    ]
    if changed:
        raise CustomerChunksError(
            f"--append keeps the rows and features of {warehouse}, which were built with "
            f"other values of {'; '.join(changed)}. Fix: run without --append (a full "
            "rebuild), or pass the earlier values."
        )
    if _wal(warehouse).exists() and _wal(warehouse).stat().st_size > 0:
        _checkpoint(warehouse, warehouse)
    started = time.monotonic()
    shutil.copyfile(warehouse, building)
    logger.info(
        "append: building on a copy of %s (%.1f GB, %.1f s)",
        warehouse,
        building.stat().st_size / 1e9,
        time.monotonic() - started,
    )


def _run(
    sources, warehouse: Path, as_of, dbt_vars: dict, timeout: float, append: bool = False
) -> Path:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    building = building_file(warehouse)
    started = time.monotonic()
    started_at = datetime.now(UTC)
    seconds: dict[str, float] = {}
    with _only_run(warehouse):
        # a build file left by a run that was killed is stale: we hold the lock
        for stale in (building, _wal(building)):
            stale.unlink(missing_ok=True)
        try:
            step = time.monotonic()
            logger.info("step 1/3: check and load the inputs")
            if not append:
                warn_if_disk_is_short(sources, building.parent)
            try:
                if as_of:
                    dbt_vars["as_of"] = as_of
                all_vars = {name: var.default for name, var in project_vars().items()}
                if append:
                    _start_from_published(building, warehouse, {**all_vars, **dbt_vars})
                load_all(building, sources, append=append)
                run_id = carry_forward(
                    building, warehouse, sources, {**all_vars, **dbt_vars}, started_at
                )
            except (duckdb.Error, OSError) as exc:
                if is_disk_full(exc):
                    raise disk_full_error(
                        "loading the inputs", building.parent, warehouse
                    ) from None
                raise
            seconds["load"] = time.monotonic() - step
            logger.info("step 1/3 done in %.1f s", seconds["load"])
            step = time.monotonic()
            logger.info("step 2/3: dbt build (staging, features, RFM, ML, tests)")
            try:
                results = dbt_build(building, dbt_vars, timeout=timeout)
            except BuildError as exc:
                if is_disk_full(exc):
                    raise disk_full_error("building", building.parent, warehouse) from None
                raise
            seconds["dbt_build"] = time.monotonic() - step
            logger.info("step 2/3 done in %.1f s", seconds["dbt_build"])
            step = time.monotonic()
            logger.info("step 3/3: checkpoint, verify and publish")
            try:
                stamp_run(building, run_id, seconds)
            except (duckdb.Error, OSError) as exc:
                if is_disk_full(exc):
                    raise disk_full_error(
                        "writing the build to disk", building.parent, warehouse
                    ) from None
                raise BuildError(
                    f"could not record the run in marts.run_history ({exc}); the published "
                    f"warehouse {warehouse} was not changed."
                ) from None
            publish(building, warehouse, results, dbt_vars.get("as_of"))
            logger.info("step 3/3 done in %.1f s", time.monotonic() - step)
        finally:
            for leftover in (building, _wal(building)):
                leftover.unlink(missing_ok=True)
    logger.info("published %s in %.0f s", warehouse, time.monotonic() - started)
    return warehouse


# --------------------------------------------------------------------------- score

# The models that stage the changed customers' rows, compute their features and assign
# them to the stored centres: of the staging models segment_scores_touched's ancestors
# that read the inputs (not the run-history ones), the run parameters, the touched
# customers, the activity and features, segment_scores (in the scratch warehouse, the
# changed customers) and segment_scores_touched. What they read and do not build is in
# SCORE_COPIED or is a raw table (tests/test_append.py checks it).
SCORE_SELECT = (
    "+segment_scores_touched,path:models/staging/customer_data int_run_parameters "
    "int_customers_touched path:models/intermediate/activity "
    "int_customer_features_by_snapshot segment_scores segment_scores_touched"
)
# score's vars (macros/snapshot_dates.sql: score_changed_only) and dbt target folder:
# both the same on every score, so dbt parses the project in full only once.
SCORE_VARS = {"score_changed_only": True}
SCORE_TARGET = "target-score"


def score(
    sources: dict[str, TableSource],
    warehouse: Path,
    out: Path,
    as_of: str | None = None,
    timeout: float = DBT_TIMEOUT_S,
    changed_only: bool = True,
) -> Path:
    """Assign the customers that ``sources`` change to the stored segments of a
    published ``warehouse`` in SQL, without refitting and without changing the
    warehouse. ``sources`` are new input files, as for ``run --append``: files the
    warehouse has loaded are skipped by hash. A customer has changed when a new file
    has a row for them; one whose features move only because as_of moved has not (their
    score stays the last run's; ``changed_only=False`` rescores everyone: in a copy of
    the warehouse it replaces the inputs with ``sources``).
    The new rows go into a scratch warehouse holding only the changed customers' rows
    (:func:`_changed_customers_warehouse`), where dbt builds :data:`SCORE_SELECT` in full
    (no tests: they describe a full build) with :data:`SCORE_VARS`, which compute the
    activity and features at the ``current`` snapshot only, and ``out`` (Parquet:
    customer_id, stable_segment_id, segment_name, squared_distance) gets one row per
    changed customer with a purchase.
    The published warehouse is only read: a failure anywhere leaves it as it was.
    Scales with the new rows and the changed customers' history, plus one filtered read
    of the published raw tables (bench/results/append-1m.md)."""
    warehouse, out = Path(warehouse), Path(out)
    if not warehouse.is_file():
        raise CustomerChunksError(
            f"{warehouse} not found. Fix: run `customer-chunks run` first; score assigns "
            "customers to the segments of a published warehouse."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    # The scratch folder's path is part of dbt's profile (the database path): the same
    # path on every score lets dbt reuse its parse. A lock keeps two scores of one
    # warehouse from sharing it; what a killed score left there is removed.
    scratch = warehouse.parent / f".{warehouse.name}.score"
    with _only_run(warehouse, "score"):
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        try:
            n = _score_in(scratch, warehouse, sources, out, as_of, timeout, changed_only)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    which = "changed customers" if changed_only else "customers"
    logger.info("scored %s %s against %s: %s", f"{n:,}", which, warehouse, out)
    return out


# What score's scratch warehouse copies whole from the published one: the ledger and
# manifest of the loaded files (so only new files load), the last run's parameters (its
# reference dates) and the stored fit segment_scores_touched reads. The other relations
# the score models read are the raw tables, copied for the changed customers only.
SCORE_COPIED = (
    "raw.loaded_files",
    "raw.load_manifest",
    "raw.rejected_lines",
    "intermediate.int_run_parameters",
    "marts.preprocessing_parameters",
    "marts.segment_centroids",
)
# The customer key of a raw row, as every staging model computes it
# (models/staging/customer_data/base/*_checked.sql; tests/test_one_home.py checks it).
RAW_CUSTOMER_KEY = "nullif(trim(cast(customer_id as varchar)), '')"


def _changed_customers_warehouse(
    copy: Path, warehouse: Path, sources: dict[str, TableSource]
) -> None:
    """score's scratch warehouse at ``copy``: the relations of :data:`SCORE_COPIED`, the
    new rows of ``sources`` (loaded as ``run --append`` loads them, row ids after the
    published ones), and of the published raw rows only those of the changed customers
    (a customer key of a new row). Every score model's output for a customer depends only
    on that customer's rows and on the run's reference dates, which the published
    warehouse's latest order and signup dates (raw.append_state) keep those of a build on
    all the rows; so dbt builds the score models in full on a few rows per changed
    customer instead of every customer's. Reads the published raw tables once."""
    started = time.monotonic()
    published = _literal(str(warehouse))
    con = duckdb.connect(str(copy))
    try:
        con.execute(f"attach {published} as published (read_only)")
        for relation in SCORE_COPIED:
            con.execute(f"create schema if not exists {relation.split('.')[0]}")
            con.execute(f"create table {relation} as select * from published.{relation}")
        for table in CONTRACT:  # empty: load_all appends the new rows after them
            con.execute(f"create table raw.{table} as select * from published.raw.{table} limit 0")
    except duckdb.CatalogException as exc:
        raise CustomerChunksError(
            f"{warehouse} lacks a table score reads ({str(exc).splitlines()[0]}): it was "
            "published by an older version. Fix: run `customer-chunks run` again first."
        ) from None
    finally:
        con.close()
    load_all(copy, sources, append=True)
    con = duckdb.connect(str(copy))
    try:
        con.execute(f"attach {published} as published (read_only)")
        marks = dict(con.execute("select * from raw.append_watermarks").fetchall())
        new_rows = " union ".join(
            f"select {RAW_CUSTOMER_KEY} as customer_id from raw.{table} "
            f"where _row_id > {int(marks.get(table, 0))}"
            for table in CONTRACT
        )
        con.execute(
            f"create temp table changed as select * from ({new_rows}) as keys "
            "where customer_id is not null"
        )
        relations = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw' and table_catalog = current_database()"
            ).fetchall()
        }
        kept = {}
        for table in CONTRACT:
            earlier = f"{table}__batch0" if f"{table}__batch0" in relations else table
            kept[table] = con.execute(
                f"insert into raw.{earlier} select * from published.raw.{table} "
                f"where {RAW_CUSTOMER_KEY} in (select customer_id from changed)"
            ).fetchone()[0]
        last_order, last_signup = con.execute(
            "select last_order_date, last_signup_date from intermediate.int_run_parameters"
        ).fetchone()
        con.execute(
            "update raw.append_state set published_last_order_date = ?, "
            "published_last_signup_date = ?",
            [last_order, last_signup],
        )
        changed = con.execute("select count(*) from changed").fetchone()[0]
    except duckdb.BinderException as exc:
        raise CustomerChunksError(
            f"{warehouse} lacks a column score reads ({str(exc).splitlines()[0]}): it was "
            "published by an older version. Fix: run `customer-chunks run` again first."
        ) from None
    finally:
        con.close()
    logger.info(
        "score: scratch warehouse with the %s changed customers' rows (%s) in %.1f s",
        f"{changed:,}",
        ", ".join(f"{t} {n:,}" for t, n in kept.items()),
        time.monotonic() - started,
    )


def _score_in(
    scratch: Path,
    warehouse: Path,
    sources: dict[str, TableSource],
    out: Path,
    as_of: str | None,
    timeout: float,
    changed_only: bool,
) -> int:
    """:func:`score` in ``scratch``; returns the number of customers scored."""
    copy = scratch / warehouse.name  # same catalog name: the views refer to it

    def prepare() -> None:  # while dbt starts and parses the project
        started = time.monotonic()
        if changed_only:
            _changed_customers_warehouse(copy, warehouse, sources)
            return
        shutil.copyfile(warehouse, copy)
        logger.info("score: copied %s (%.1f s)", warehouse, time.monotonic() - started)
        load_all(copy, sources)

    previous = os.environ.get("DBT_EXCLUDE_RESOURCE_TYPES")
    os.environ["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test test"
    try:
        dbt_build(
            copy,
            {**SCORE_VARS, "as_of": as_of} if as_of else SCORE_VARS,
            select=SCORE_SELECT,
            timeout=timeout,
            full_refresh=True,
            target=SCORE_TARGET,
            prepare=prepare,
        )
    finally:
        if previous is None:
            os.environ.pop("DBT_EXCLUDE_RESOURCE_TYPES", None)
        else:
            os.environ["DBT_EXCLUDE_RESOURCE_TYPES"] = previous
    con = duckdb.connect(str(copy))
    try:
        target = str(out).replace("'", "''")
        con.execute(f"attach {_literal(str(warehouse))} as published (read_only)")
        con.execute(
            "copy (select scores.customer_id, scores.stable_segment_id, "
            "matches.segment_name, scores.squared_distance "
            "from marts.segment_scores_touched as scores "
            "left join published.marts.segment_matches as matches "
            "on scores.stable_segment_id = matches.stable_segment_id "
            f"order by scores.customer_id) to '{target}' (format parquet)"
        )
        n = con.execute("select count(*) from marts.segment_scores_touched").fetchone()[0]
    finally:
        con.close()
    return n
