"""Split a run's wall time and memory into stages, dbt nodes and ML steps.

Two sources, read after the run (memory samples are kept with their times meanwhile):

* **dbt's own record of each node**: ``target/run_results.json`` gives every node's
  compile start and execute end (UTC), ``target/manifest.json`` its resource type,
  schema, language and materialisation. The run uses one dbt thread, so nodes run one
  after another; the time between one node's end and the next one's start is dbt's
  bookkeeping. Exposures are no-op nodes and count as bookkeeping.
* **the run's output lines**, with the time each arrived: ``loaded <table>: ... (x s)``
  while checking and loading, ``dbt build (vars ...)`` (dbt starts), ``step 3/3: ...``
  (checkpoint, verify and publish), the ML steps' ``[customer_chunks.ml] <step>: <rows>
  rows ...`` / ``..., done in x s`` lines (the reference scripts here print
  ``[notebook] ...`` / ``[floor] ...`` the same way) and the exports'
  ``marts.<table> -> <target>: <rows> rows in x s`` lines.

The stage changes form one timeline from 0 to the run's wall time, and each interval
goes to the stage current in it, so the stages add up to the wall time exactly. A
stage's (node's, step's) peak memory is the highest sample taken while it ran, or the
last sample before it started when it was shorter than the sampling interval.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

MIB = 1024 * 1024

LOAD = "input checks and loading"
DBT_START = "dbt start-up (parse, compile)"
DBT_UNSPLIT = "dbt build (no per-node results from dbt)"
SEEDS = "dbt seeds"
STAGING = "SQL staging (input checks, repeats, typed views)"
FEATURES = "SQL features (intermediate tables)"
ML_SEGMENTATION = "ML segmentation (ml_segmentation_run)"
ML_HIGH_VALUE = "ML high-value model (ml_high_value_run)"
CLV = "CLV (summary SQL, BG/NBD + Gamma-Gamma fit, scoring, CLV marts)"
MARTS = "marts (SQL tables)"
TESTS = "dbt data and unit tests"
DBT_OVERHEAD = "dbt between nodes (bookkeeping, exposures)"
OTHER = "other dbt nodes"
DBT_WRAP_UP = "dbt wrap-up (after the last node)"
PUBLISH = "checkpoint, verify and publish"
EXPORTS = "exports (Parquet + Tableau Hyper)"

PIPELINE_STAGES = [
    LOAD,
    DBT_START,
    DBT_UNSPLIT,
    SEEDS,
    STAGING,
    FEATURES,
    ML_SEGMENTATION,
    ML_HIGH_VALUE,
    CLV,
    MARTS,
    TESTS,
    DBT_OVERHEAD,
    OTHER,
    DBT_WRAP_UP,
    PUBLISH,
    EXPORTS,
]

_LOADED = re.compile(r"^loaded (?P<table>\w+): (?P<rows>[\d,]+) rows .*\((?P<seconds>[\d.]+) s\)$")
_STEP_START = re.compile(r"\[(?P<who>[\w.]+)\] (?P<step>.+?): (?P<rows>[\d,]+) rows \.\.\.$")
_STEP_END = re.compile(
    r"\[(?P<who>[\w.]+)\] (?P<step>.+?): (?P<rows>[\d,]+) rows, done in (?P<seconds>[\d.]+) s$"
)
_EXPORTED = re.compile(
    r"^marts\.(?P<table>\S+) -> (?P<target>[\w ]+?): (?P<rows>[\d,]+) rows in "
    r"(?P<seconds>[\d.]+) s"
)
_DBT_NODE = re.compile(r"^dbt (?P<index>\d+)/(?P<total>\d+) (?P<what>.+)$")
# The CLI's own clock in front of each line: "HH:MM:SS " (ML lines are indented after it).
_CLOCK = re.compile(r"^\d\d:\d\d:\d\d\s+")


def _is_clv_model(model: str) -> bool:
    """The customer-lifetime-value models (int_clv_*, int_customers_clv_*, ml_clv_*,
    clv_* marts, customer_lifetime_value): one stage, so its cost shows on its own."""
    return "clv" in model.split("_") or model == "customer_lifetime_value"


def classify(unique_id: str, manifest_node: dict | None) -> tuple[str, str, str]:
    """(stage, kind, name) of the dbt node ``unique_id`` from its manifest entry."""
    resource = unique_id.split(".", 1)[0]
    node = manifest_node or {}
    bare = node.get("name") or unique_id.rsplit(".", 1)[-1]
    if resource == "seed":
        return SEEDS, "seed", f"{node.get('schema', '?')}.{bare}"
    if resource in ("test", "unit_test"):
        return TESTS, resource, bare
    if resource == "exposure":
        return DBT_OVERHEAD, "exposure", bare
    if resource == "model":
        config = node.get("config") or {}
        kind = f"{node.get('language', '?')} {config.get('materialized', '?')} model"
        schema = node.get("schema", "?")
        name = f"{schema}.{bare}"
        if _is_clv_model(bare):
            return CLV, kind, name
        if bare == "ml_segmentation_run":
            return ML_SEGMENTATION, kind, name
        if bare == "ml_high_value_run":
            return ML_HIGH_VALUE, kind, name
        stage = {"staging": STAGING, "intermediate": FEATURES, "marts": MARTS}.get(schema)
        if stage is not None:
            return stage, kind, name
        return OTHER, kind, name
    return OTHER, resource, bare


@dataclass
class Node:
    """One dbt node (model, seed, test, ...) or one ML / reference step."""

    name: str
    kind: str
    stage: str
    started: float | None  # seconds since the run started (our clock)
    ended: float | None = None
    reported_seconds: float | None = None  # what the tool itself measured
    peak_rss: int = 0
    peak_temp: int | None = None  # bytes in DuckDB's temp directory (spill), if sampled
    peak_database: int | None = None  # bytes of the building database file and its WAL
    least_free: int | None = None  # free bytes on the warehouse's disk
    rows: int | None = None
    result: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def read_dbt_nodes(target: Path, started_at: float) -> tuple[list[Node], str | None]:
    """The dbt nodes of the run that started at ``started_at`` (wall clock, seconds since
    the epoch) from ``target/run_results.json`` and ``target/manifest.json``, timed on
    the run's clock (seconds since ``started_at``). Returns (nodes, None), or ([], why)
    when there is no record of this run (a file missing, or left by an earlier run)."""
    try:
        results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [], f"no dbt results to read ({exc})"
    invoked = results.get("metadata", {}).get("invocation_started_at")
    if not invoked or _epoch(invoked) < started_at:
        return [], f"{target / 'run_results.json'} is from an earlier run (started {invoked})"
    known = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    known.update(manifest.get("exposures", {}))
    nodes = []
    for result in results.get("results", []):
        unique_id = result["unique_id"]
        stage, kind, name = classify(unique_id, known.get(unique_id))
        timing = {t["name"]: t for t in result.get("timing") or []}
        first = timing.get("compile") or timing.get("execute")
        last = timing.get("execute") or timing.get("compile")
        node = Node(name=name, kind=kind, stage=stage, started=None, result=result["status"])
        if first and last and first.get("started_at") and last.get("completed_at"):
            node.started = _epoch(first["started_at"]) - started_at
            node.ended = _epoch(last["completed_at"]) - started_at
        node.reported_seconds = round(float(result.get("execution_time") or 0.0), 3)
        nodes.append(node)
    return nodes, None


@dataclass
class StageTracker:
    """Collect one run's output lines and memory samples (thread-safe), then split it
    into stages with :meth:`finish`."""

    first_stage: str
    seconds: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    # stage -> (peak temp, peak database, least free disk) bytes, when the disk was sampled
    disk_peaks: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    steps: list[Node] = field(default_factory=list)
    loaded: dict[str, dict] = field(default_factory=dict)
    exported: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._marks: list[tuple[float, str]] = [(0.0, self.first_stage)]
        self._open_steps: dict[str, Node] = {}
        self._sample_times: list[float] = []
        self._sample_rss: list[int] = []
        # disk samples (every second): DuckDB's temp directory, the database, free disk
        self._disk_times: list[float] = []
        self._disk: list[tuple[int, int, int]] = []
        self._where = self.first_stage

    @property
    def stage(self) -> str:
        """Where the run is, as far as its lines tell (for progress messages)."""
        return self._where

    # ------------------------------------------------------------------ while it runs

    def sample(self, elapsed: float, rss: int) -> None:
        with self._lock:
            self._sample_times.append(elapsed)
            self._sample_rss.append(rss)

    def disk_sample(self, elapsed: float, temp: int, database: int, free: int) -> None:
        """Bytes in DuckDB's temp directory (its spill), of the database file (+ WAL) and
        free on their disk at ``elapsed``."""
        with self._lock:
            self._disk_times.append(elapsed)
            self._disk.append((temp, database, free))

    def line(self, elapsed: float, text: str) -> None:
        """Take one output line of the run."""
        message = _CLOCK.sub("", text.strip())
        with self._lock:
            self._line(elapsed, message)

    def _line(self, elapsed: float, message: str) -> None:
        if match := _LOADED.match(message):
            self.loaded[match["table"]] = {
                "rows": int(match["rows"].replace(",", "")),
                "seconds": float(match["seconds"]),
            }
        elif message.startswith("dbt build (vars"):
            self._marks.append((elapsed, DBT_START))
            self._where = "dbt build"
        elif message.startswith("step 3/3"):
            self._marks.append((elapsed, PUBLISH))
            self._where = PUBLISH
        elif match := _DBT_NODE.match(message):
            self._where = f"dbt, {match['index']}/{match['total']} {match['what']}"
        elif match := _STEP_END.search(message):
            step = self._open_steps.pop(match["step"], None)
            if step is None:
                step = Node(match["step"], match["who"], "", started=None)
                self.steps.append(step)
            step.ended = elapsed
            step.reported_seconds = float(match["seconds"])
            step.rows = int(match["rows"].replace(",", ""))
        elif match := _STEP_START.search(message):
            step = Node(match["step"], match["who"], "", started=elapsed)
            step.rows = int(match["rows"].replace(",", ""))
            self._open_steps[match["step"]] = step
            self.steps.append(step)
        elif match := _EXPORTED.match(message):
            target = match["target"].split()[0]
            entry = self.exported.setdefault(target, {"tables": 0, "rows": 0, "seconds": 0.0})
            entry["tables"] += 1
            entry["rows"] += int(match["rows"].replace(",", ""))
            entry["seconds"] += float(match["seconds"])

    # ------------------------------------------------------------------ after it ran

    def finish(self, elapsed: float, dbt_nodes: list[Node] | None = None) -> None:
        """Split the run (``elapsed`` = its wall time) into stages, with ``dbt_nodes``
        (from :func:`read_dbt_nodes`) placing every dbt node on the run's clock."""
        with self._lock:
            marks = list(self._marks)
            self.nodes = list(dbt_nodes or [])
            timed = sorted((n for n in self.nodes if n.started is not None), key=_start)
            dbt_started = any(stage == DBT_START for _, stage in marks)
            if dbt_started and not timed:
                marks = [(t, DBT_UNSPLIT if s == DBT_START else s) for t, s in marks]
            for node in timed:
                marks.append((node.started, node.stage))
                marks.append((node.ended, DBT_OVERHEAD))
            if timed:
                marks.append((max(n.ended for n in timed), DBT_WRAP_UP))
            # Stable sort: at equal times the later mark (a node's start after the
            # previous node's end) wins.
            marks.sort(key=lambda mark: mark[0])
            seconds: dict[str, float] = {}
            peaks: dict[str, int] = {}
            self.disk_peaks = {}
            for (start, stage), (end, _) in zip(marks, marks[1:] + [(elapsed, "")], strict=True):
                start, end = min(max(start, 0.0), elapsed), min(max(end, 0.0), elapsed)
                if end <= start:
                    continue
                seconds[stage] = seconds.get(stage, 0.0) + end - start
                peaks[stage] = max(peaks.get(stage, 0), self._peak(start, end))
                disk = self._disk_peak(start, end)
                before = self.disk_peaks.get(stage)
                if disk is not None and before is not None:
                    disk = (
                        max(disk[0], before[0]),
                        max(disk[1], before[1]),
                        min(disk[2], before[2]),
                    )
                self.disk_peaks[stage] = disk if disk is not None else before
            self.seconds, self.peaks = seconds, peaks
            for node in self.nodes:
                if node.started is not None:
                    node.peak_rss = self._peak(node.started, node.ended)
                    disk = self._disk_peak(node.started, node.ended)
                    if disk is not None:
                        node.peak_temp, node.peak_database, node.least_free = disk
            for step in self.steps:
                if step.started is not None:
                    step.stage = _stage_at(marks, step.started)
                    step.peak_rss = self._peak(step.started, step.ended or elapsed)

    def _peak(self, start: float, end: float) -> int:
        """Highest sample in [start, end], or the last one before start."""
        lo = bisect.bisect_left(self._sample_times, start)
        hi = bisect.bisect_right(self._sample_times, end)
        window = self._sample_rss[max(lo - 1, 0) : hi] if self._sample_rss else []
        return max(window, default=0)

    def _disk_peak(self, start: float, end: float) -> tuple[int, int, int] | None:
        """(peak temp, peak database, least free) over the disk samples in [start, end]
        and the last one before start; None when the disk was not sampled."""
        if not self._disk:
            return None
        lo = bisect.bisect_left(self._disk_times, start)
        hi = bisect.bisect_right(self._disk_times, end)
        window = self._disk[max(lo - 1, 0) : hi]
        return (
            max(d[0] for d in window),
            max(d[1] for d in window),
            min(d[2] for d in window),
        )

    # ------------------------------------------------------------------ results

    def stage_table(self) -> list[dict]:
        """[{stage, seconds, peak_mib}] for every stage that took time, in run order."""
        order = PIPELINE_STAGES + [s for s in self.seconds if s not in PIPELINE_STAGES]
        return [
            {
                "stage": stage,
                "seconds": round(self.seconds[stage], 2),
                "peak_mib": round(self.peaks.get(stage, 0) / MIB, 1),
                **_disk_dict(self.disk_peaks.get(stage)),
            }
            for stage in order
            if stage in self.seconds
        ]

    def node_table(self) -> list[dict]:
        return [_node_dict(n) for n in self.nodes]

    def step_table(self) -> list[dict]:
        return [_node_dict(s) for s in self.steps]


def _start(node: Node) -> float:
    return node.started if node.started is not None else 0.0


def _stage_at(marks: list[tuple[float, str]], when: float) -> str:
    """The stage current at ``when`` on a sorted timeline of marks."""
    index = bisect.bisect_right([t for t, _ in marks], when) - 1
    return marks[max(index, 0)][1]


def _node_dict(node: Node) -> dict:
    return {
        "name": node.name,
        "kind": node.kind,
        "stage": node.stage,
        "started": None if node.started is None else round(node.started, 2),
        "seconds": None if node.seconds is None else round(node.seconds, 2),
        "reported_seconds": node.reported_seconds,
        "peak_mib": round(node.peak_rss / MIB, 1),
        **_disk_dict(
            None
            if node.peak_temp is None
            else (node.peak_temp, node.peak_database or 0, node.least_free or 0)
        ),
        "rows": node.rows,
        "result": node.result,
    }


def _disk_dict(disk: tuple[int, int, int] | None) -> dict:
    """The disk columns of a stage or node: {} when the disk was not sampled."""
    if disk is None:
        return {}
    temp, database, free = disk
    return {
        "peak_temp_mib": round(temp / MIB, 1),
        "peak_database_mib": round(database / MIB, 1),
        "least_free_disk_mib": round(free / MIB, 1),
    }
