"""Run a child process and measure it: wall time, and peak memory of its process tree.

Memory is measured two ways, because neither alone answers "how much RAM does this
need":

* the tree's memory: a thread reads the proportional set size (PSS, from
  ``/proc/<pid>/smaps_rollup``) of the child and every descendant every ``interval``
  seconds (0.2 s; longer when one sample costs more than 1/20 of that, as it does for a
  process of several GB, so the sampler takes at most 5% of a core) and sums them; the
  peak of that sum is what the machine must hold at once (``dbt`` runs as a subprocess
  of the CLI, so the CLI's own RSS is not the answer). PSS splits a page shared by
  several processes between them, so a short-lived fork of the 3 GB dbt process (a
  library starting a helper) is not counted twice, as a sum of RSS did once (4.7 GiB
  summed for a 3.5 GiB process). Where smaps_rollup cannot be read the RSS from
  ``/proc/<pid>/stat`` is used. Sampling can miss a spike shorter than the interval;
* the largest single process: ``ru_maxrss`` of the child as returned by ``os.wait4``,
  which the kernel tracks exactly and which covers the child's reaped descendants too.

CPU: the tree's CPU seconds, and the CPU seconds everything else on the machine used
meanwhile (busy time in ``/proc/stat`` minus the tree's): on a 2-core machine anything
else running skews the timings, and this says how much did. The tree's CPU is the larger
of ``os.wait4``'s figure (the child and the descendants it reaped) and the sum of each
descendant's own CPU time as last sampled: a process nobody reaps, such as the JVM that
pyspark starts, is in the second only (without it a Spark stage's own JVM showed up as
"other processes").

Every output line is handed to ``on_line(elapsed_seconds, line)`` as it arrives, so a
caller can follow stages, attribute samples to them (``on_sample``) and print progress.
The child runs in its own process group: a run over its time or memory cap is stopped
with SIGKILL to that group (and only that group).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
SAMPLER_SHARE = 20  # the sampler waits at least 20x what its last sample cost (<= 5% of a core)


@dataclass
class RunResult:
    """What one child run took. Memory in bytes; ``status`` is ``ok``, ``failed``,
    ``timeout`` or ``out_of_memory``."""

    command: list[str]
    status: str
    returncode: int | None
    seconds: float
    peak_tree_rss: int
    largest_process_rss: int
    samples: int
    cpu_seconds: float = 0.0
    other_cpu_seconds: float = 0.0
    load_average_before: float = 0.0
    detail: str = ""
    started_at: float = 0.0  # wall clock (time.time()) when the child was started
    lines: list[tuple[float, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def wait_for_idle(
    max_wait: float, threshold: float = 0.25, window: float = 3.0, say=print
) -> float:
    """Wait until the machine's other processes use under ``threshold`` cores (measured
    over ``window`` seconds), at most ``max_wait`` seconds; return the cores last seen
    busy. On a 2-core machine a benchmark beside another heavy process measures both."""
    waited, busy = 0.0, 0.0
    while True:
        before = busy_cpu_seconds()
        time.sleep(window)
        busy = (busy_cpu_seconds() - before) / window
        if busy < threshold or waited >= max_wait:
            return busy
        if waited == 0.0:
            say(
                f"waiting (up to {max_wait:.0f} s) for the machine to go idle: "
                f"other processes use {busy:.1f} cores"
            )
        waited += window


def _proc_table() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, resident bytes, own CPU seconds) for every process we can read."""
    table: dict[int, tuple[int, int, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                raw = handle.read()
        except OSError:  # the process ended while we looked
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        # After "pid (comm) ": state, ppid, ... (stat(5) field n is index n - 3 here):
        # utime 14 and stime 15 (clock ticks), rss 24 (pages).
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        table[int(entry.name)] = (int(fields[1]), int(fields[21]) * PAGE_SIZE, cpu)
    return table


def _pss(pid: int) -> int | None:
    """Proportional set size of ``pid`` in bytes, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def tree_rss(root: int, cpu_seen: dict[int, float] | None = None) -> tuple[int, int, int]:
    """(summed PSS, largest single RSS, process count) of ``root`` and its descendants;
    a process whose PSS cannot be read counts with its RSS. With ``cpu_seen``, each
    process's own CPU seconds are recorded there (pid -> seconds, the latest sample)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total = largest = count = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid not in table:
            continue
        _, rss, cpu = table[pid]
        if cpu_seen is not None:
            cpu_seen[pid] = cpu
        pss = _pss(pid)
        total += rss if pss is None else pss
        largest = max(largest, rss)
        count += 1
        stack.extend(children.get(pid, ()))
    return total, largest, count


def run_measured(
    command: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    memory_cap: int | None = None,
    on_line: Callable[[float, str], None] | None = None,
    on_sample: Callable[[float, int], None] | None = None,
    log_path: Path | None = None,
    interval: float = 0.2,
) -> RunResult:
    """Run ``command`` to completion (or to its cap) and measure it.

    ``timeout`` is in seconds and ``memory_cap`` in bytes of tree RSS; reaching either
    kills the child's process group and sets ``status`` accordingly. stdout and stderr
    are merged. O(1) memory per line beyond the kept ``lines``.
    """
    command = [str(c) for c in command]
    with open("/proc/loadavg", encoding="ascii") as handle:
        load_before = float(handle.read().split()[0])
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    started_at = time.time()  # to place the child's own timestamps on our clock
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,
    )
    state = {"peak": 0, "largest": 0, "samples": 0, "killed": ""}
    cpu_seen: dict[int, float] = {}
    done = threading.Event()

    def kill(reason: str) -> None:
        if not state["killed"]:
            state["killed"] = reason
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def sample() -> None:
        while not done.is_set():
            elapsed = time.perf_counter() - started
            cost = time.thread_time()
            total, largest, count = tree_rss(proc.pid, cpu_seen)
            cost = time.thread_time() - cost
            if count:
                state["peak"] = max(state["peak"], total)
                state["largest"] = max(state["largest"], largest)
                state["samples"] += 1
                if on_sample is not None:
                    on_sample(elapsed, total)
            if timeout is not None and elapsed > timeout:
                kill("timeout")
            if memory_cap is not None and total > memory_cap:
                kill("out_of_memory")
            # Reading smaps_rollup walks the process's page tables: 14 ms of CPU for a
            # 0.9 GB dbt process (measured during a 10M run), growing with its size;
            # every 0.2 s that was 12% of a core taken from the run being measured.
            done.wait(max(interval, cost * SAMPLER_SHARE))

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    lines: list[tuple[float, str]] = []
    log_file = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            elapsed = time.perf_counter() - started
            lines.append((elapsed, line))
            if log_file is not None:
                log_file.write(f"{elapsed:9.2f} {line}\n")
                log_file.flush()
            if on_line is not None:
                on_line(elapsed, line)
        _, wait_status, usage = os.wait4(proc.pid, 0)
    finally:
        done.set()
        sampler.join()
        if log_file is not None:
            log_file.close()
    seconds = time.perf_counter() - started
    busy = busy_cpu_seconds() - busy_before
    cpu = max(usage.ru_utime + usage.ru_stime, sum(cpu_seen.values()))
    proc.returncode = os.waitstatus_to_exitcode(wait_status)
    largest = max(state["largest"], usage.ru_maxrss * 1024)  # ru_maxrss is in KiB on Linux
    if state["killed"]:
        status = state["killed"]
        detail = (
            f"stopped after {seconds:.0f} s (cap {timeout:.0f} s)"
            if status == "timeout"
            else f"stopped at {state['peak'] / MIB:,.0f} MiB tree RSS "
            f"(cap {memory_cap / MIB:,.0f} MiB)"
        )
    elif proc.returncode == -signal.SIGKILL:
        status, detail = "out_of_memory", "killed by SIGKILL (the kernel's OOM killer?)"
    elif proc.returncode != 0:
        status, detail = "failed", f"exit status {proc.returncode}"
    else:
        status, detail = "ok", ""
    return RunResult(
        command=command,
        status=status,
        returncode=proc.returncode,
        seconds=seconds,
        peak_tree_rss=state["peak"],
        largest_process_rss=largest,
        samples=state["samples"],
        cpu_seconds=cpu,
        other_cpu_seconds=max(0.0, busy - cpu),
        load_average_before=load_before,
        detail=detail,
        lines=lines,
        started_at=started_at,
    )


# --------------------------------------------------------------------------- disk


def allocated_bytes(path: Path) -> int:
    """Bytes allocated on disk to ``path``: a file, or the files directly in a folder
    (DuckDB's temp directory is flat); 0 when it does not exist. Allocated blocks, not
    the apparent size, so sparse temp files count for what they take."""
    try:
        if not path.is_dir():
            return path.stat().st_blocks * 512
        total = 0
        for entry in os.scandir(path):
            with contextlib.suppress(OSError):  # a temp file removed while we look
                total += entry.stat(follow_symlinks=False).st_blocks * 512
        return total
    except OSError:
        return 0


class DiskSampler:
    """Every ``every`` seconds, call ``on_sample(elapsed, temp, database, free)`` with the
    bytes in DuckDB's temp directory ``temp_dir`` (its spill), of the ``database`` file
    and its WAL, and free on their disk. Cheap: a stat per file, no page-table walk."""

    def __init__(
        self,
        database: Path,
        temp_dir: Path,
        on_sample: Callable[[float, int, int, int], None],
        every: float = 1.0,
    ) -> None:
        self.database, self.temp_dir = database, temp_dir
        self.on_sample, self.every = on_sample, every
        self.peak_temp = self.peak_database = 0
        self.least_free: int | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="disk-sampler", daemon=True)

    def __enter__(self) -> DiskSampler:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        wal = self.database.with_name(self.database.name + ".wal")
        while not self._done.is_set():
            temp = allocated_bytes(self.temp_dir)
            database = allocated_bytes(self.database) + allocated_bytes(wal)
            free = shutil.disk_usage(self.database.parent).free
            self.peak_temp = max(self.peak_temp, temp)
            self.peak_database = max(self.peak_database, database)
            self.least_free = free if self.least_free is None else min(self.least_free, free)
            self.on_sample(time.perf_counter() - self._started, temp, database, free)
            self._done.wait(self.every)
