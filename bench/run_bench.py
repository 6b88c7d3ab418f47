"""`make bench`: time and measure the pipeline end to end against two references.

For each size (default 100,000 and 1,000,000 customers):

1. generate the data once into ``bench/cache/<N>/`` (Parquet, seed 1; reused when present);
2. ``customer-chunks run`` into ``bench/cache/<N>.duckdb``, split into stages (input
   checks and loading, dbt start-up, SQL features, each ML step, marts, tests, publish)
   with wall seconds and peak memory (PSS) of the whole process tree per stage;
3. ``customer-chunks export --to all`` (Parquet + Tableau Hyper) unless ``--skip-exports``;
4. the floor (``bench/floor_reference.py``: one DuckDB RFM query + one K-Means);
5. the notebook (``bench/notebook_reference.py``: pandas + scikit-learn doing the same
   work) unless ``--skip-notebook``, stopped at ``--notebook-timeout`` seconds.

Every process runs alone (2 cores: anything beside it would slow it down), and is
stopped when its tree memory passes ``--memory-cap-gib``. Results go to
``bench/results/latest.json`` (everything measured) and ``bench/results/latest.md``
(the tables for the README); each child's full output to ``bench/cache/logs/``.

Run: ``.venv/bin/python -m bench.run_bench [--sizes 100000,1000000] [--skip-notebook]
[--skip-exports]``. Timings are reported against the targets, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/run_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import MIB, DiskSampler, RunResult, run_measured, wait_for_idle  # noqa: E402
from bench.stages import (  # noqa: E402
    CLV,
    EXPORTS,
    LOAD,
    ML_HIGH_VALUE,
    ML_SEGMENTATION,
    PIPELINE_STAGES,
    StageTracker,
    read_dbt_nodes,
)
from customer_chunks.run import building_file, spill_directory  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CACHE = BENCH / "cache"
RESULTS = BENCH / "results"
# Where `customer-chunks run` has dbt write run_results.json and manifest.json when it
# runs from a checkout (customer_chunks.run: DBT_TARGET_PATH = <project>/target).
# read_dbt_nodes checks that the file is the run's own, so a wrong place shows as a note.
DBT_TARGET = ROOT / "target"
BIN = Path(sys.executable).parent
TABLES = ("transactions", "customers", "web_events", "engagement_events")
GIB = 1024**3

# Targets (reported as met / missed, never asserted).
TARGET_SECONDS_1M = 300.0
TARGET_PEAK_MIB_1M = 4 * 1024
TARGET_CLV_SECONDS_1M = 30.0  # the CLV stage (summary SQL, fits, scoring, CLV marts)
TARGET_ML_SECONDS_1M = 60.0  # the ML segmentation and ML high-value stages together
TARGET_VS_NOTEBOOK = 3.0  # at least this many times faster than the notebook
TARGET_VS_FLOOR = 3.0  # at most this many times the floor
TARGET_GROWTH = 10.0  # 1M time / 100k time, no worse than linear
# 10M customers (about 480M lines) on the same 2-core machine: the baseline for Spark.
TARGET_SECONDS_10M = 3600.0
TARGET_PEAK_MIB_10M = 16 * 1024
# DuckDB's memory_limit per size, unless CUSTOMER_CHUNKS_MEMORY is set: the limit each
# memory target is measured at (`customer-chunks run` alone takes half the machine's
# memory, customer_chunks.run.duckdb_memory_limit). 3GB keeps 1M inside its 4 GiB; why 13GB
# at 10M (peaks and spill at 10GB and 13GB): bench/results/2026-12-03-10m-*.md and the
# README, Ten million customers. Other sizes: the CLI's default.
MEMORY_LIMITS = {100_000: "3GB", 1_000_000: "3GB", 10_000_000: "13GB"}


def label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


def say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- machine


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    os_name = platform.platform()
    try:
        release = Path("/etc/os-release").read_text(encoding="utf-8")
        if match := re.search(r'^PRETTY_NAME="?([^"\n]+)"?', release, re.M):
            os_name = f"{match[1]} ({platform.system()} {platform.release()})"
    except OSError:
        pass
    versions = {}
    for package in (
        "duckdb",
        "dbt-core",
        "dbt-duckdb",
        "scikit-learn",
        "pandas",
        "numpy",
        "pyarrow",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory / GIB, 1),
        "os": os_name,
        "python": platform.python_version(),
        "versions": versions,
    }


# --------------------------------------------------------------------------- children


def child_env(customers: int | None = None) -> dict[str, str]:
    """The environment of a measured command; with ``customers``, DuckDB's memory_limit
    of :data:`MEMORY_LIMITS` for that size unless the caller set one."""
    env = dict(os.environ)
    if customers in MEMORY_LIMITS:
        env.setdefault("CUSTOMER_CHUNKS_MEMORY", MEMORY_LIMITS[customers])
    env["PYTHONUNBUFFERED"] = "1"  # lines (and so stage changes) arrive as they happen
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


class Progress:
    """Pass a child's output through with a prefix; a heartbeat line every 30 s."""

    def __init__(self, prefix: str, tracker: StageTracker | None = None, every: float = 30.0):
        self.prefix = prefix
        self.tracker = tracker
        self.every = every
        self.last = 0.0
        self.rss = 0

    def line(self, elapsed: float, text: str) -> None:
        if self.tracker is not None:
            self.tracker.line(elapsed, text)
        self.last = elapsed
        say(f"[{self.prefix} {elapsed:7.1f}s] {text.strip()}")

    def sample(self, elapsed: float, rss: int) -> None:
        if self.tracker is not None:
            self.tracker.sample(elapsed, rss)
        self.rss = rss
        if elapsed - self.last >= self.every:
            self.last = elapsed
            where = f" in {self.tracker.stage}" if self.tracker is not None else ""
            say(f"[{self.prefix} {elapsed:7.1f}s] ... still running{where}, {rss / MIB:,.0f} MiB")


def measured(
    command: list[str],
    prefix: str,
    log_name: str,
    args: argparse.Namespace,
    tracker: StageTracker | None = None,
    timeout: float | None = None,
    dbt_target: Path | None = None,
    warehouse: Path | None = None,
    customers: int | None = None,
) -> RunResult:
    """Run ``command`` alone and measured; with ``warehouse`` (and a ``tracker``) also
    sample, every second, the disk the run's build uses: DuckDB's spill, the build file,
    the free disk (:class:`bench.measure.DiskSampler`). ``customers``: the size, for
    DuckDB's memory_limit (:func:`child_env`)."""
    progress = Progress(prefix, tracker)
    (CACHE / "logs").mkdir(parents=True, exist_ok=True)
    busy = wait_for_idle(args.wait_for_idle, say=lambda m: say(f"[{prefix}] {m}"))
    if busy >= 0.25:
        say(f"[{prefix}] starting anyway: other processes use {busy:.1f} cores")
    disk = contextlib.nullcontext(None)
    if warehouse is not None and tracker is not None:
        building = building_file(warehouse)
        disk = DiskSampler(building, spill_directory(building), tracker.disk_sample)
    with disk as sampler:
        result = run_measured(
            command,
            cwd=ROOT,
            env=child_env(customers),
            timeout=timeout,
            memory_cap=int(args.memory_cap_gib * GIB),
            on_line=progress.line,
            on_sample=progress.sample,
            log_path=CACHE / "logs" / f"{log_name}.log",
        )
    if sampler is not None:
        say(
            f"[{prefix}] disk: peak DuckDB temp (spill) {sampler.peak_temp / MIB:,.0f} MiB, "
            f"peak build file {sampler.peak_database / MIB:,.0f} MiB, least free "
            f"{(sampler.least_free or 0) / GIB:,.1f} GiB"
        )
    if tracker is not None:
        nodes = None
        if dbt_target is not None:
            nodes, why = read_dbt_nodes(dbt_target, result.started_at)
            if why:
                tracker.notes.append(why)
                say(f"[{prefix}] no per-node split: {why}")
        tracker.finish(result.seconds, nodes)
    state = "ok" if result.ok else f"{result.status}: {result.detail}"
    say(
        f"[{prefix}] {state}; {result.seconds:.1f} s, peak tree memory "
        f"{result.peak_tree_rss / MIB:,.0f} MiB, largest process "
        f"{result.largest_process_rss / MIB:,.0f} MiB; CPU {result.cpu_seconds:.0f} s, "
        f"other processes {result.other_cpu_seconds:.0f} s"
    )
    return result


def summary(result: RunResult) -> dict:
    return {
        "status": result.status,
        "detail": result.detail or None,
        "seconds": round(result.seconds, 2),
        "peak_tree_mib": round(result.peak_tree_rss / MIB, 1),
        "largest_process_mib": round(result.largest_process_rss / MIB, 1),
        "rss_samples": result.samples,
        "cpu_seconds": round(result.cpu_seconds, 1),
        "other_cpu_seconds": round(result.other_cpu_seconds, 1),
        "load_average_before": result.load_average_before,
    }


def steps_of(result: RunResult, who: str) -> list[dict]:
    tracker = StageTracker(first_stage=who)
    for elapsed, text in result.lines:
        tracker.line(elapsed, text)
    tracker.finish(result.seconds)
    return tracker.step_table()


# --------------------------------------------------------------------------- per size


def ensure_data(n: int, args: argparse.Namespace) -> tuple[Path, float | None]:
    folder = CACHE / str(n)
    if all((folder / f"{t}.parquet").is_file() for t in TABLES):
        say(f"[{label(n)} data] using the cached data in {folder.relative_to(ROOT)}")
        return folder, None
    command = [BIN / "customer-chunks", "generate", "--customers", str(n), "--seed", "1"]
    command += ["--out", folder, "--format", "parquet"]
    result = measured(command, f"{label(n)} generate", f"{n}-generate", args)
    if not result.ok:
        raise SystemExit(f"generating {n:,} customers failed ({result.detail}); see the log")
    return folder, round(result.seconds, 2)


def data_facts(folder: Path) -> dict:
    import pyarrow.parquet as pq

    rows = {t: pq.ParquetFile(folder / f"{t}.parquet").metadata.num_rows for t in TABLES}
    size = sum((folder / f"{t}.parquet").stat().st_size for t in TABLES)
    return {"rows": rows, "parquet_mib": round(size / MIB, 1)}


def bench_size(n: int, args: argparse.Namespace) -> dict:
    name = label(n)
    folder, generate_seconds = ensure_data(n, args)
    facts = data_facts(folder)
    out: dict = {
        "customers": n,
        "transaction_lines": facts["rows"]["transactions"],
        "input_rows": facts["rows"],
        "input_parquet_mib": facts["parquet_mib"],
        "generate_seconds": generate_seconds,
        "memory_limit": child_env(n).get("CUSTOMER_CHUNKS_MEMORY", "the CLI's default"),
    }

    warehouse = CACHE / f"{n}.duckdb"
    tracker = StageTracker(first_stage=LOAD)
    command = [BIN / "customer-chunks", "run", "--data", folder, "--warehouse", warehouse]
    # the CLI stops `dbt build` at its own default (an hour): give it the bench's limit
    command += ["--timeout", str(args.pipeline_timeout)]
    run = measured(
        command,
        f"{name} run",
        f"{n}-run",
        args,
        tracker,
        args.pipeline_timeout,
        DBT_TARGET,
        warehouse,
        customers=n,
    )
    customers_segmented = None
    for _, text in run.lines:
        if match := re.search(r"segmentation of ([\d,]+) customers", text):
            customers_segmented = int(match[1].replace(",", ""))
    stages = tracker.stage_table()
    nodes = tracker.node_table()
    ml_steps = [s for s in tracker.step_table() if s["kind"] == "customer_chunks.ml"]
    out["customers_with_purchase"] = customers_segmented
    out["pipeline"] = {
        **summary(run),
        "loaded": tracker.loaded,
        "stage_notes": tracker.notes,
        "stages": stages,
        "ml_steps": ml_steps,
        "dbt_nodes": nodes,
    }

    exports = None
    if not args.skip_exports and run.ok:
        export_tracker = StageTracker(first_stage=EXPORTS)
        command = [BIN / "customer-chunks", "export", "--to", "all", "--warehouse", warehouse]
        command += ["--out", CACHE / f"{n}-exports"]
        exports = measured(command, f"{name} export", f"{n}-export", args, export_tracker)
        out["exports"] = {**summary(exports), "targets": export_tracker.exported}
        stages.append(
            {
                "stage": EXPORTS,
                "seconds": round(exports.seconds, 2),
                "peak_mib": round(exports.peak_tree_rss / MIB, 1),
            }
        )
    run_seconds = run.seconds if run.ok else None
    end_to_end = None
    if run.ok and (exports is None or exports.ok):
        end_to_end = run.seconds + (exports.seconds if exports is not None else 0.0)
    peak = max([run.peak_tree_rss] + ([exports.peak_tree_rss] if exports else []))
    largest = max([run.largest_process_rss] + ([exports.largest_process_rss] if exports else []))
    out["totals"] = {
        "run_seconds": None if run_seconds is None else round(run_seconds, 2),
        "export_seconds": None if exports is None else round(exports.seconds, 2),
        "end_to_end_seconds": None if end_to_end is None else round(end_to_end, 2),
        "includes_exports": exports is not None,
        "peak_tree_mib": round(peak / MIB, 1),
        "largest_process_mib": round(largest / MIB, 1),
    }

    floor = measured(
        [sys.executable, BENCH / "floor_reference.py", folder],
        f"{name} floor",
        f"{n}-floor",
        args,
        timeout=args.notebook_timeout,
    )
    out["floor"] = {**summary(floor), "steps": steps_of(floor, "floor")}

    reused = (args.reuse_notebook or {}).get("sizes", {}).get(str(n), {}).get("notebook")
    if args.skip_notebook:
        out["notebook"] = {"status": "skipped"}
    elif reused and reused.get("status") not in (None, "skipped"):
        # a result that was itself reused keeps the date of the run that measured it
        started_at = reused.get("reused_from_run_started_at") or args.reuse_notebook.get(
            "started_at"
        )
        say(f"[{name} notebook] reusing the result of the run started {started_at}")
        out["notebook"] = {**reused, "reused_from_run_started_at": started_at}
    else:
        notebook = measured(
            [sys.executable, BENCH / "notebook_reference.py", folder],
            f"{name} notebook",
            f"{n}-notebook",
            args,
            timeout=args.notebook_timeout,
        )
        out["notebook"] = {
            **summary(notebook),
            "timeout_seconds": args.notebook_timeout,
            "steps": steps_of(notebook, "notebook"),
        }

    ratios: dict = {"basis": "customer-chunks run wall time (exports excluded)"}
    nb = out["notebook"]
    if run_seconds is not None and nb.get("status") == "ok":
        ratios["pipeline_over_notebook"] = round(run_seconds / nb["seconds"], 3)
        ratios["notebook_over_pipeline"] = round(nb["seconds"] / run_seconds, 3)
    elif run_seconds is not None and nb.get("status") in ("timeout", "out_of_memory"):
        # The notebook took at least its recorded time: the pipeline is at least this fast.
        ratios["pipeline_over_notebook_at_most"] = round(run_seconds / nb["seconds"], 3)
    if run_seconds is not None and floor.ok:
        ratios["pipeline_over_floor"] = round(run_seconds / floor.seconds, 3)
    out["ratios"] = ratios
    return out


# --------------------------------------------------------------------------- targets


def targets(sizes: dict[str, dict]) -> list[dict]:
    rows = []

    def add(name: str, target: str, measured_text: str, met: bool | None) -> None:
        rows.append({"target": name, "goal": target, "measured": measured_text, "met": met})

    for key, seconds, mib in (
        ("1000000", TARGET_SECONDS_1M, TARGET_PEAK_MIB_1M),
        ("10000000", TARGET_SECONDS_10M, TARGET_PEAK_MIB_10M),
    ):
        if key not in sizes:
            continue
        name = label(int(key))
        e2e = sizes[key]["totals"]["end_to_end_seconds"]
        add(
            f"{name} customers end to end",
            f"<= {seconds:.0f} s",
            "did not finish" if e2e is None else f"{e2e:.0f} s",
            None if e2e is None else e2e <= seconds,
        )
        peak = sizes[key]["totals"]["peak_tree_mib"]
        add(
            f"{name} customers peak memory (process tree)",
            f"<= {mib:,} MiB",
            f"{peak:,.0f} MiB",
            peak <= mib,
        )
    big = sizes.get("1000000")
    if big is not None:
        took = {st["stage"]: st["seconds"] for st in big["pipeline"]["stages"]}
        if CLV in took:
            add(
                "1M customers CLV stage",
                f"<= {TARGET_CLV_SECONDS_1M:.0f} s",
                f"{took[CLV]:.1f} s",
                took[CLV] <= TARGET_CLV_SECONDS_1M,
            )
        if ML_SEGMENTATION in took and ML_HIGH_VALUE in took:
            ml = took[ML_SEGMENTATION] + took[ML_HIGH_VALUE]
            add(
                "1M customers ML segmentation + high-value model",
                f"<= {TARGET_ML_SECONDS_1M:.0f} s",
                f"{took[ML_SEGMENTATION]:.1f} + {took[ML_HIGH_VALUE]:.1f} = {ml:.1f} s",
                ml <= TARGET_ML_SECONDS_1M,
            )
    for key, size in sizes.items():
        name = label(int(key))
        ratios = size["ratios"]
        if "notebook_over_pipeline" in ratios:
            speedup = ratios["notebook_over_pipeline"]
            add(
                f"{name}: faster than the notebook",
                f">= {TARGET_VS_NOTEBOOK:.0f}x",
                f"{speedup:.2f}x",
                speedup >= TARGET_VS_NOTEBOOK,
            )
        elif "pipeline_over_notebook_at_most" in ratios:
            bound = 1 / ratios["pipeline_over_notebook_at_most"]
            add(
                f"{name}: faster than the notebook",
                f">= {TARGET_VS_NOTEBOOK:.0f}x",
                f"notebook did not finish ({size['notebook']['status']}); >= {bound:.2f}x",
                None if bound < TARGET_VS_NOTEBOOK else True,
            )
        if "pipeline_over_floor" in ratios:
            ratio = ratios["pipeline_over_floor"]
            add(
                f"{name}: time vs the floor",
                f"<= {TARGET_VS_FLOOR:.0f}x",
                f"{ratio:.1f}x",
                ratio <= TARGET_VS_FLOOR,
            )
    small, large = sizes.get("100000"), sizes.get("1000000")
    if small and large:
        a, b = small["totals"]["end_to_end_seconds"], large["totals"]["end_to_end_seconds"]
        if a and b:
            add(
                "growth 100k -> 1M (time ratio)",
                f"<= {TARGET_GROWTH:.0f}",
                f"{b / a:.1f}",
                b / a <= TARGET_GROWTH,
            )
    return rows


# --------------------------------------------------------------------------- report


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _run_cell(run: dict) -> str:
    if run["status"] == "ok":
        return _s(run["seconds"])
    return f"{run['status']} after {run['seconds']:,.0f} s ({run['detail']})"


def _reference(ref: dict) -> str:
    status = ref.get("status")
    if status == "skipped" or status is None:
        return "skipped"
    reused = " (reused)" if ref.get("reused_from_run_started_at") else ""
    if status == "ok":
        return f"{ref['seconds']:,.1f} s, {ref['peak_tree_mib']:,.0f} MiB{reused}"
    return f"{status} after {ref['seconds']:,.0f} s ({ref['peak_tree_mib']:,.0f} MiB){reused}"


def _steps_by_name(
    step_lists: list[list[dict]], drop: str
) -> tuple[list[str], list[dict[str, dict]]]:
    """Step names in first-seen order (``drop`` removed, e.g. the chosen k) and, per
    size, the steps by that name, so one table row lines the sizes up."""
    order: list[str] = []
    per = []
    for steps in step_lists:
        by_name = {}
        for step in steps:
            name = re.sub(drop, "", step["name"]).strip()
            by_name[name] = step
            if name not in order:
                order.append(name)
        per.append(by_name)
    return order, per


def markdown(result: dict) -> str:
    m = result["machine"]
    sizes = result["sizes"]
    keys = list(sizes)
    names = [label(int(k)) for k in keys]
    v = m["versions"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {result['finished_at']} with `{result['command']}` on {m['cpu']}, "
        f"{m['cores']} cores, {m['memory_gib']} GiB, {m['os']}; Python {m['python']}, "
        f"DuckDB {v['duckdb']}, dbt-core {v['dbt-core']}, dbt-duckdb {v['dbt-duckdb']}, "
        f"scikit-learn {v['scikit-learn']}, pandas {v['pandas']}. Synthetic data "
        "(`customer-chunks generate --seed 1`, Parquet). Memory is the peak of the whole "
        "process tree's summed proportional set size (PSS: CLI + dbt, shared pages split "
        "between the processes sharing them), sampled every 0.2 s; the largest single "
        "process's peak RSS is exact (kernel `ru_maxrss`).",
        "",
        "## Summary",
        "",
        "| | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
    ]

    def row(title: str, cells: list[str]) -> None:
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    row("customers (with a purchase)", [
        f"{s['customers']:,} ({_count(s['customers_with_purchase'])})" for s in sizes.values()
    ])  # fmt: skip
    row("transaction lines", [f"{s['transaction_lines']:,}" for s in sizes.values()])
    row("DuckDB memory_limit", [s.get("memory_limit", "-") for s in sizes.values()])
    row("`customer-chunks run` (s)", [_run_cell(s["pipeline"]) for s in sizes.values()])
    row("exports (s)", [_s(s["totals"]["export_seconds"]) for s in sizes.values()])
    row("**end to end (s)**", [_s(s["totals"]["end_to_end_seconds"]) for s in sizes.values()])
    row(
        "**peak memory, process tree (PSS, MiB)**",
        [_mib(s["totals"]["peak_tree_mib"]) for s in sizes.values()],
    )
    row(
        "largest single process (MiB)",
        [_mib(s["totals"]["largest_process_mib"]) for s in sizes.values()],
    )
    row(
        "CPU s used by other processes during the run",
        [_s(s["pipeline"].get("other_cpu_seconds")) for s in sizes.values()],
    )
    row("notebook (pandas + scikit-learn)", [_reference(s["notebook"]) for s in sizes.values()])
    row("floor (1 DuckDB query + 1 K-Means)", [_reference(s["floor"]) for s in sizes.values()])
    cells = []
    for s in sizes.values():
        r = s["ratios"]
        if "notebook_over_pipeline" in r:
            cells.append(f"{r['notebook_over_pipeline']:.2f}x")
        elif "pipeline_over_notebook_at_most" in r:
            cells.append(f">= {1 / r['pipeline_over_notebook_at_most']:.2f}x")
        else:
            cells.append("-")
    row("speed-up vs the notebook (notebook s / run s)", cells)
    row("pipeline / floor (run s / floor s)", [
        f"{s['ratios']['pipeline_over_floor']:.1f}x" if "pipeline_over_floor" in s["ratios"]
        else "-" for s in sizes.values()
    ])  # fmt: skip
    lines += [
        "",
        "Ratios use the `customer-chunks run` time (neither reference exports). End to end = "
        "run + exports.",
        "",
        "## Stages",
        "",
        "| stage | " + " | ".join(f"{n} s | {n} MiB" for n in names) + " |",
        "| --- | " + " | ".join("---: | ---:" for _ in names) + " |",
    ]
    by_size = [{st["stage"]: st for st in s["pipeline"]["stages"]} for s in sizes.values()]
    for stage in PIPELINE_STAGES:
        if not any(stage in b for b in by_size):
            continue
        cells = []
        for b in by_size:
            st = b.get(stage)
            cells += [_s(st and st["seconds"]), _mib(st and st["peak_mib"])]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    totals = []
    for s in sizes.values():
        totals += [_s(s["totals"]["end_to_end_seconds"]), _mib(s["totals"]["peak_tree_mib"])]
    lines.append("| **total** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    for key, s in sizes.items():
        for note in s["pipeline"].get("stage_notes", []):
            lines += ["", f"{label(int(key))}: dbt's time is not split into nodes: {note}."]

    # ML steps
    lines += [
        "",
        "## ML steps (inside the two dbt Python models)",
        "",
        "| step | " + " | ".join(f"{n} s | {n} MiB" for n in names) + " |",
        "| --- | " + " | ".join("---: | ---:" for _ in names) + " |",
    ]
    order, per = _steps_by_name(
        [s["pipeline"]["ml_steps"] for s in sizes.values()], r"\(k=\d+\)|\(\d+ clusters\)"
    )
    for step_name in order:
        cells = []
        for d in per:
            stp = d.get(step_name)
            cells += [_s(stp and stp["reported_seconds"]), _mib(stp and stp["peak_mib"])]
        lines.append(f"| {step_name} | " + " | ".join(cells) + " |")

    # Slowest dbt nodes at the largest size
    last_key = keys[-1]
    nodes = [nd for nd in sizes[last_key]["pipeline"]["dbt_nodes"] if nd["seconds"] is not None]
    nodes.sort(key=lambda nd: nd["seconds"], reverse=True)
    others = [{nd["name"]: nd for nd in s["pipeline"]["dbt_nodes"]} for s in sizes.values()]
    lines += [
        "",
        f"## Slowest dbt nodes at {names[-1]} (of {len(nodes)})",
        "",
        "| node | kind | " + " | ".join(f"{n} s" for n in names) + f" | {names[-1]} MiB |",
        "| --- | --- | " + " | ".join("---:" for _ in names) + " | ---: |",
    ]
    for nd in nodes[:20]:
        cells = [_s(o.get(nd["name"], {}).get("seconds")) for o in others]
        lines.append(
            f"| `{nd['name']}` | {nd['kind']} | "
            + " | ".join(cells)
            + f" | {_mib(nd['peak_mib'])} |"
        )
    kinds: dict[str, float] = {}
    for nd in nodes:
        kinds[nd["kind"]] = kinds.get(nd["kind"], 0.0) + nd["seconds"]
    lines += [
        "",
        f"dbt node time at {names[-1]} by kind: "
        + ", ".join(f"{k} {v:,.0f} s" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])),
    ]

    # Disk: DuckDB's spill (its temp directory) and the build file, sampled every second
    if any("peak_temp_mib" in nd for nd in nodes):
        pipeline = sizes[last_key]["pipeline"]
        spilling = sorted(nodes, key=lambda nd: nd.get("peak_temp_mib", 0), reverse=True)
        lines += [
            "",
            f"## Disk at {names[-1]}: DuckDB's spill and the build file",
            "",
            "Sampled every second: the bytes allocated in DuckDB's temp directory (what "
            "it spills beyond memory_limit), the build file with its WAL, and the free "
            "disk. A node's or stage's peak is the highest sample while it ran.",
            "",
            "| stage | peak temp MiB | peak build file MiB | least free GiB |",
            "| --- | ---: | ---: | ---: |",
        ]
        for st in pipeline["stages"]:
            if "peak_temp_mib" in st:
                lines.append(
                    f"| {st['stage']} | {_mib(st['peak_temp_mib'])} | "
                    f"{_mib(st['peak_database_mib'])} | "
                    f"{st['least_free_disk_mib'] / 1024:,.1f} |"
                )
        lines += [
            "",
            "| node (most spill first) | s | peak temp MiB | peak build file MiB |",
            "| --- | ---: | ---: | ---: |",
        ]
        for nd in spilling[:10]:
            if not nd.get("peak_temp_mib"):
                break
            lines.append(
                f"| `{nd['name']}` | {_s(nd['seconds'])} | {_mib(nd['peak_temp_mib'])} | "
                f"{_mib(nd['peak_database_mib'])} |"
            )
    # References
    for ref in ("notebook", "floor"):
        if all(s[ref].get("status") == "skipped" for s in sizes.values()):
            continue
        lines += [
            "",
            f"## {ref.capitalize()} reference steps",
            "",
            "| step | " + " | ".join(f"{n} s" for n in names) + " |",
            "| --- | " + " | ".join("---:" for _ in names) + " |",
        ]
        order, per = _steps_by_name([s[ref].get("steps", []) for s in sizes.values()], r"\(k=\d+\)")
        for step_name in order:
            cells = []
            for d in per:
                stp = d.get(step_name)
                if stp is None:
                    cells.append("-")
                elif stp["reported_seconds"] is None:
                    cells.append("not finished")
                else:
                    cells.append(_s(stp["reported_seconds"]))
            lines.append(f"| {step_name} | " + " | ".join(cells) + " |")

    lines += ["", "## Targets", "", "| target | goal | measured | |", "| --- | --- | --- | --- |"]
    for t in result["targets"]:
        mark = {True: "met", False: "**missed**", None: "n/a"}[t["met"]]
        lines.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {mark} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", default="100000,1000000", help="customers, comma list")
    parser.add_argument("--skip-notebook", action="store_true", help="do not run the notebook")
    parser.add_argument("--skip-exports", action="store_true", help="do not time the exports")
    parser.add_argument(
        "--notebook-timeout",
        type=float,
        default=1800.0,
        help="stop a reference run after this many seconds (default %(default)s)",
    )
    parser.add_argument(
        "--pipeline-timeout",
        type=float,
        default=3600.0,
        help="stop the pipeline run after this many seconds (default %(default)s)",
    )
    parser.add_argument(
        "--memory-cap-gib",
        type=float,
        default=20.0,
        help="stop any run whose process tree exceeds this much memory (default %(default)s)",
    )
    parser.add_argument(
        "--reuse-notebook",
        type=Path,
        metavar="RESULTS_JSON",
        help="take the notebook results from an earlier results file instead of re-running "
        "it (it takes up to --notebook-timeout per size); marked as reused",
    )
    parser.add_argument(
        "--wait-for-idle",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other processes to stop using the "
        "CPU (default %(default)s; 0 = do not wait)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    if args.reuse_notebook is not None:
        args.reuse_notebook = json.loads(args.reuse_notebook.read_text())
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: dict = {
        "command": "python -m bench.run_bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "targets_definition": {
            "end_to_end_seconds_1m": TARGET_SECONDS_1M,
            "peak_tree_mib_1m": TARGET_PEAK_MIB_1M,
            "end_to_end_seconds_10m": TARGET_SECONDS_10M,
            "peak_tree_mib_10m": TARGET_PEAK_MIB_10M,
            "clv_stage_seconds_1m": TARGET_CLV_SECONDS_1M,
            "ml_segmentation_plus_high_value_seconds_1m": TARGET_ML_SECONDS_1M,
            "min_speedup_vs_notebook": TARGET_VS_NOTEBOOK,
            "max_ratio_vs_floor": TARGET_VS_FLOOR,
            "max_growth_100k_to_1m": TARGET_GROWTH,
        },
        "sizes": {},
    }
    for n in sorted(args.size_list):
        say(f"=== {label(n)} customers ===")
        result["sizes"][str(n)] = bench_size(n, args)
        result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        result["targets"] = targets(result["sizes"])
        result["bench_seconds"] = round(time.perf_counter() - started, 1)
        (args.out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "latest.md").write_text(markdown(result))
    say(f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    say((args.out / "latest.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
