"""Appending one day and rescoring the customers it changes, against a full run
(issue 14 item 5, issue 16 item 6).

For N customers (default 1M; the data of ``bench.run_bench``, seed 1, generated when
missing), the event tables are split by day: ``day`` holds every event of the last day
with a staged order (the day before as_of), ``base`` everything else. Then, on one
warehouse, each command measured like ``bench.run_bench`` (wall time, peak memory of the
process tree, CPU used by other processes):

1. ``customer-chunks run --data base``: the full run (all but one day of the inputs);
2. ``customer-chunks score --data day``: the customers the day changes, their features
   recomputed and assigned to the stored centres in SQL (scratch copy, warehouse
   unchanged);
3. ``customer-chunks run --append --data day``: the day appended and published (every
   model after the features, ML included, still runs on all customers).

Writes ``<out>/append-<N>.json`` and ``.md``. Run: ``python -m bench.append --customers
1000000`` (``make bench-append``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench.run_bench import (
    BIN,
    CACHE,
    RESULTS,
    ensure_data,
    label,
    machine,
    measured,
    say,
    summary,
)

EVENT_TIME = {"transactions": "ordered_at", "web_events": "occurred_at"}
EVENT_TIME["engagement_events"] = "occurred_at"


def split_last_day(folder: Path, out: Path) -> dict:
    """``out/base`` (all but the last day) and ``out/day`` (the last day of orders:
    the day of the latest order with a real, not future, timestamp). Cached."""
    facts_path = out / "split.json"
    if facts_path.is_file():
        return json.loads(facts_path.read_text())
    shutil.rmtree(out, ignore_errors=True)
    (out / "base").mkdir(parents=True)
    (out / "day").mkdir()
    shutil.copy(folder / "customers.parquet", out / "base" / "customers.parquet")
    con = duckdb.connect()
    try:
        day = con.execute(
            "select cast(max(ordered_at) as date) from "
            f"read_parquet('{folder}/transactions.parquet') "
            "where ordered_at <= now()"
        ).fetchone()[0]
        facts = {"day": str(day), "rows": {}}
        for table, column in EVENT_TIME.items():
            src = f"read_parquet('{folder / f'{table}.parquet'}')"
            in_day = f"coalesce(cast({column} as date) = date '{day}' and {column} <= now(), false)"
            for part, where in (("base", f"not {in_day}"), ("day", in_day)):
                target = out / part / f"{table}.parquet"
                con.execute(f"copy (select * from {src} where {where}) to '{target}'")
                rows = con.execute(f"select count(*) from read_parquet('{target}')").fetchone()
                facts["rows"][f"{part}.{table}"] = rows[0]
    finally:
        con.close()
    facts_path.write_text(json.dumps(facts, indent=2))
    return facts


def markdown(result: dict) -> str:
    n = result["customers"]
    m = result["machine"]
    runs = result["runs"]
    full = runs["full_run"]["seconds"]
    full_cpu = runs["full_run"]["cpu_seconds"]
    lines = [
        f"# Appending a day and rescoring at {label(n)} customers",
        "",
        f"Measured {result['started_at']} with `{result['command']}` on {m['cpu']}, "
        f"{m['cores']} cores, {m['memory_gib']} GiB, {m['os']}; Python {m['python']}, "
        f"DuckDB {m['versions']['duckdb']}, dbt-core {m['versions']['dbt-core']}. "
        f"Synthetic data (seed 1, Parquet) split into the last day of orders "
        f"({result['split']['day']}) and everything before it.",
        "",
        "| step | what | wall s | share of the full run's wall s | CPU s (its tree) | share of "
        "the full run's CPU s | peak tree MiB | CPU s used by others meanwhile |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    what = {
        "full_run": "`run --data base`: full run on all but the last day",
        "score_changed": f"`score --data day`: {result['scored_customers']:,} changed customers "
        "rescored in SQL",
        "append_day": "`run --append --data day`: the day appended, published",
    }
    for key, text in what.items():
        r = runs[key]
        lines.append(
            f"| {key} | {text} | {r['seconds']:.1f} | {r['seconds'] / full:.1%} | "
            f"{r['cpu_seconds']:.0f} | {r['cpu_seconds'] / full_cpu:.1%} | "
            f"{r['peak_tree_mib']:,.0f} | {r['other_cpu_seconds']:.0f} |"
        )
    rows = result["split"]["rows"]
    lines += [
        "",
        "Rows in the day: "
        + ", ".join(f"{t} {rows[f'day.{t}']:,}" for t in EVENT_TIME)
        + f"; the base: {rows['base.transactions']:,} transaction lines. "
        f"Touched by the append: {result['touched_customers']:,} customers "
        f"({result['touched_customers'] / n:.2%} of {n:,}).",
        "",
        "Stages of the append run (seconds, from its log): "
        + ", ".join(f"{k} {v}" for k, v in result["append_stage_seconds"].items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.append", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--wait-for-idle", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--memory-cap-gib", type=float, default=20.0)
    args = parser.parse_args(argv)
    n = args.customers
    started = datetime.now(UTC).isoformat(timespec="seconds")
    folder, _ = ensure_data(n, args)
    split = split_last_day(folder, CACHE / f"{n}-append")
    base, day = CACHE / f"{n}-append" / "base", CACHE / f"{n}-append" / "day"
    work = CACHE / f"{n}-append" / "warehouse"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    warehouse = work / "w.duckdb"
    cli = str(BIN / "customer-chunks")
    commands = {
        "full_run": [cli, "run", "--data", base, "--warehouse", warehouse],
        "score_changed": [
            cli,
            "score",
            "--data",
            day,
            "--warehouse",
            warehouse,
            "--out",
            work / "scores.parquet",
        ],
        "append_day": [cli, "run", "--append", "--data", day, "--warehouse", warehouse],
    }
    runs = {}
    for key, command in commands.items():
        result = measured([str(c) for c in command], f"{label(n)} {key}", f"{n}-{key}", args)
        if not result.ok:
            raise SystemExit(f"{key} failed ({result.detail}); see bench/cache/logs")
        runs[key] = summary(result)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        touched = con.execute("select count(*) from intermediate.int_customers_touched").fetchone()
        stages = con.execute(
            "select stage_seconds from marts.run_history order by run_id desc limit 1"
        ).fetchone()
    finally:
        con.close()
    scored = duckdb.sql(f"select count(*) from read_parquet('{work / 'scores.parquet'}')")
    result = {
        "command": "python -m bench.append " + " ".join(sys.argv[1:] if argv is None else argv),
        "started_at": started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "customers": n,
        "split": split,
        "runs": runs,
        "touched_customers": touched[0],
        "scored_customers": scored.fetchone()[0],
        "append_stage_seconds": json.loads(stages[0]),
        "ratios": {
            key: round(runs[key]["seconds"] / runs["full_run"]["seconds"], 4)
            for key in ("score_changed", "append_day")
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"append-{label(n).lower()}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    say(f"wrote {stem}.json and .md")
    say(stem.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
