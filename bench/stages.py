"""Follow a run's output line by line and split its wall time and memory into stages.

The time between two consecutive stage changes goes to the stage that was current, so
the stages of a run add up to its wall time exactly. Each memory sample goes to the
stage current when it was taken, so a stage's peak is the highest tree RSS seen while
it ran. Stage changes come from lines the tools already print:

* ``customer-chunks run``: ``loaded <table>: ... (x s)`` while checking and loading,
  ``dbt build (vars ...)``, then dbt's ``N of M START <node>`` / ``N of M OK|PASS ...
  [OK in x s]`` lines (one dbt thread, so nodes run one after another), the ML progress
  lines ``[customer_chunks.ml] <step>: <rows> rows ...`` / ``..., done in x s`` printed
  by the dbt Python models, ``Finished running ...`` and ``published ...``;
* the reference scripts in this folder print ``[notebook] <step>: <rows> rows ...`` /
  ``..., done in x s`` lines in the same format.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

MIB = 1024 * 1024

LOAD = "input checks and loading"
DBT_START = "dbt start-up (parse, compile)"
SEEDS = "dbt seeds"
STAGING = "SQL staging views"
FEATURES = "SQL features (intermediate tables)"
ML_SEGMENTATION = "ML segmentation (ml_segmentation_run)"
ML_HIGH_VALUE = "ML high-value model (ml_high_value_run)"
ML_UNPACK = "ML outputs unpacked (12 small Python models)"
CLV = "CLV (summary SQL, BG/NBD + Gamma-Gamma fit, scoring, CLV marts)"
MARTS = "marts (SQL tables)"
TESTS = "dbt data and unit tests"
DBT_OVERHEAD = "dbt between nodes (bookkeeping, docs)"
WRAP_UP = "dbt wrap-up and publish"
EXPORTS = "exports (Parquet + Tableau Hyper)"
OTHER = "other dbt nodes"

PIPELINE_STAGES = [
    LOAD,
    DBT_START,
    SEEDS,
    STAGING,
    FEATURES,
    ML_SEGMENTATION,
    ML_HIGH_VALUE,
    ML_UNPACK,
    CLV,
    MARTS,
    TESTS,
    DBT_OVERHEAD,
    OTHER,
    WRAP_UP,
    EXPORTS,
]

_NODE_START = re.compile(r"\b(?P<index>\d+) of (?P<total>\d+) START (?P<what>.*?)[\s.]*\[RUN\]$")
_NODE_END = re.compile(
    r"\b(?P<index>\d+) of (?P<total>\d+) (?P<result>OK|PASS|WARN|FAIL|ERROR|SKIP)\b.*?"
    r"\[(?P<status>[^\]]*?)(?: in (?P<seconds>[\d.]+)s)?\]$"
)
_LOADED = re.compile(r"^loaded (?P<table>\w+): (?P<rows>[\d,]+) rows .*\((?P<seconds>[\d.]+) s\)$")
_STEP_START = re.compile(r"\[(?P<who>[\w.]+)\] (?P<step>.+?): (?P<rows>[\d,]+) rows \.\.\.$")
_STEP_END = re.compile(
    r"\[(?P<who>[\w.]+)\] (?P<step>.+?): (?P<rows>[\d,]+) rows, done in (?P<seconds>[\d.]+) s$"
)
_EXPORTED = re.compile(
    r"^marts\.(?P<table>\S+) -> (?P<target>[\w ]+?): (?P<rows>[\d,]+) rows in "
    r"(?P<seconds>[\d.]+) s"
)


def _is_clv_model(model: str) -> bool:
    """The customer-lifetime-value models (int_clv_*, int_customers_clv_*, ml_clv_*,
    clv_* marts, customer_lifetime_value): one stage, so its cost shows on its own."""
    return "clv" in model.split("_") or model == "customer_lifetime_value"


def classify_node(what: str) -> tuple[str, str, str]:
    """(stage, kind, name) of a dbt node from the text after START."""
    words = what.split()
    if what.startswith("seed file"):
        return SEEDS, "seed", words[-1]
    if what.startswith("test "):
        return TESTS, "test", words[-1]
    if what.startswith("unit_test "):
        return TESTS, "unit_test", words[-1]
    if " model " in what:
        name = words[-1]
        language = words[0]
        kind = f"{language} {words[1]} model"
        schema = name.split(".", 1)[0]
        if _is_clv_model(name.split(".", 1)[-1]):
            return CLV, kind, name
        if schema == "staging":
            return STAGING, kind, name
        if schema == "intermediate":
            return FEATURES, kind, name
        if schema == "ml":
            if name.endswith("ml_segmentation_run"):
                return ML_SEGMENTATION, kind, name
            if name.endswith("ml_high_value_run"):
                return ML_HIGH_VALUE, kind, name
            return ML_UNPACK, kind, name
        if schema == "marts":
            return MARTS, kind, name
    return OTHER, words[0] if words else "?", words[-1] if words else what


@dataclass
class Node:
    """One dbt node (model, seed or test) or one ML / reference step."""

    name: str
    kind: str
    stage: str
    started: float
    seconds: float | None = None  # our clock, START line to result line
    reported_seconds: float | None = None  # what the tool printed
    peak_rss: int = 0
    rows: int | None = None
    result: str | None = None


@dataclass
class StageTracker:
    """Attribute wall time and RSS samples of one run to stages (thread-safe)."""

    first_stage: str
    seconds: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    steps: list[Node] = field(default_factory=list)
    loaded: dict[str, dict] = field(default_factory=dict)
    exported: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stage = self.first_stage
        self._since = 0.0
        self._open_nodes: dict[int, Node] = {}
        self._open_steps: dict[str, Node] = {}
        self._last_rss = 0  # latest sample: the starting peak of a stage, node or step

    # ------------------------------------------------------------------ state

    @property
    def stage(self) -> str:
        return self._stage

    def switch(self, elapsed: float, stage: str) -> None:
        with self._lock:
            self._switch(elapsed, stage)

    def _switch(self, elapsed: float, stage: str) -> None:
        if stage == self._stage:
            return
        self.seconds[self._stage] = self.seconds.get(self._stage, 0.0) + elapsed - self._since
        self._stage, self._since = stage, elapsed
        self.peaks[stage] = max(self.peaks.get(stage, 0), self._last_rss)

    def finish(self, elapsed: float) -> None:
        """Close the current stage at ``elapsed`` (the run's wall time)."""
        with self._lock:
            self.seconds[self._stage] = self.seconds.get(self._stage, 0.0) + elapsed - self._since
            self._since = elapsed

    def sample(self, elapsed: float, rss: int) -> None:
        with self._lock:
            self._last_rss = rss
            self.peaks[self._stage] = max(self.peaks.get(self._stage, 0), rss)
            for node in self._open_nodes.values():
                node.peak_rss = max(node.peak_rss, rss)
            for step in self._open_steps.values():
                step.peak_rss = max(step.peak_rss, rss)

    # ------------------------------------------------------------------ parsing

    def line(self, elapsed: float, text: str) -> None:
        """Update the stages from one output line of the run."""
        stripped = text.strip()
        with self._lock:
            self._line(elapsed, stripped)

    def _line(self, elapsed: float, text: str) -> None:
        # dbt lines arrive as "HH:MM:SS  <message>" (indented by the CLI).
        message = re.sub(r"^\d\d:\d\d:\d\d\s+", "", text)
        if match := _LOADED.match(message):
            self.loaded[match["table"]] = {
                "rows": int(match["rows"].replace(",", "")),
                "seconds": float(match["seconds"]),
            }
            return
        if message.startswith("dbt build (vars"):
            self._switch(elapsed, DBT_START)
            return
        if match := _NODE_START.search(message):
            stage, kind, name = classify_node(match["what"])
            node = Node(name=name, kind=kind, stage=stage, started=elapsed)
            node.peak_rss = self._last_rss
            self._open_nodes[int(match["index"])] = node
            self.nodes.append(node)
            self._switch(elapsed, stage)
            return
        if match := _NODE_END.search(message):
            node = self._open_nodes.pop(int(match["index"]), None)
            if node is not None:
                node.seconds = elapsed - node.started
                node.result = match["result"]
                if match["seconds"]:
                    node.reported_seconds = float(match["seconds"])
            if not self._open_nodes:
                self._switch(elapsed, DBT_OVERHEAD)
            return
        if match := _STEP_END.search(message):
            step = self._open_steps.pop(match["step"], None)
            if step is None:
                step = Node(match["step"], match["who"], self._stage, elapsed)
                self.steps.append(step)
            step.seconds = elapsed - step.started
            step.reported_seconds = float(match["seconds"])
            step.rows = int(match["rows"].replace(",", ""))
            return
        if match := _STEP_START.search(message):
            step = Node(match["step"], match["who"], self._stage, elapsed)
            step.rows = int(match["rows"].replace(",", ""))
            step.peak_rss = self._last_rss
            self._open_steps[match["step"]] = step
            self.steps.append(step)
            return
        if message.startswith("Finished running"):
            self._switch(elapsed, WRAP_UP)
            return
        if match := _EXPORTED.match(message):
            target = match["target"].split()[0]
            entry = self.exported.setdefault(target, {"tables": 0, "rows": 0, "seconds": 0.0})
            entry["tables"] += 1
            entry["rows"] += int(match["rows"].replace(",", ""))
            entry["seconds"] += float(match["seconds"])

    # ------------------------------------------------------------------ results

    def stage_table(self) -> list[dict]:
        """[{stage, seconds, peak_mib}] for every stage that took time, in run order."""
        order = PIPELINE_STAGES + [s for s in self.seconds if s not in PIPELINE_STAGES]
        return [
            {
                "stage": stage,
                "seconds": round(self.seconds[stage], 2),
                "peak_mib": round(self.peaks.get(stage, 0) / MIB, 1),
            }
            for stage in order
            if stage in self.seconds
        ]

    def node_table(self) -> list[dict]:
        return [_node_dict(n) for n in self.nodes]

    def step_table(self) -> list[dict]:
        return [_node_dict(s) for s in self.steps]


def _node_dict(node: Node) -> dict:
    return {
        "name": node.name,
        "kind": node.kind,
        "stage": node.stage,
        "seconds": None if node.seconds is None else round(node.seconds, 2),
        "reported_seconds": node.reported_seconds,
        "peak_mib": round(node.peak_rss / MIB, 1),
        "rows": node.rows,
        "result": node.result,
    }
