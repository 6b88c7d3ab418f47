"""Rescoring the 1% of customers who changed, and appending their new rows, against a
full run (issue 16 item 6, issue 14 item 5).

For N customers (default 1M; the data of ``bench.run_bench``, seed 1, generated when
missing), a seeded random ``--changed`` share (default 1%) of the customers with an
order each lose every order line and event of the last day they ordered on to the
folder ``changes``; ``base`` holds everything else (:func:`split_changed`). So
``changes`` is new rows for exactly those customers. Then, on one warehouse, each
command measured like ``bench.run_bench`` (wall time, CPU seconds and peak memory of the
process tree, CPU used by other processes):

1. ``customer-chunks run --data base``: the full run;
2. ``customer-chunks score --data changes``: the changed customers' features recomputed
   and assigned to the stored centres in SQL (in a scratch warehouse holding the
   changed customers' rows; the warehouse is unchanged);
3. ``customer-chunks run --append --data changes``: the rows appended and published
   (every model after the features, ML included, still runs on all customers);
   ``--skip-append`` leaves it out.

``--reuse-full-run`` keeps the warehouse and the full run's measurement of an earlier
invocation (score does not change the warehouse), to time score again. Not part of
``make bench``, which already takes about 40 minutes: this is a second full run at 1M
on other data. Writes ``<out>/append-<N>.json`` and ``.md``. Run: ``python -m
bench.append --customers 1000000`` (``make bench-append``).
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
    DBT_TARGET,
    RESULTS,
    ensure_data,
    label,
    machine,
    measured,
    say,
    summary,
)
from customer_chunks.run import SCORE_TARGET

EVENT_TIME = {"transactions": "ordered_at", "web_events": "occurred_at"}
EVENT_TIME["engagement_events"] = "occurred_at"
TARGET_SHARE = 0.05  # issue 16, item 6: score the changed 1% in <= 5% of a full run


def split_changed(folder: Path, out: Path, changed: int, seed: int = 1) -> dict:
    """``out/base`` and ``out/changes``: ``changed`` customers with an order before now,
    chosen at random (seeded: ordered by the MD5 of ``<seed>:<customer_id>``), each lose
    every order line, web event and engagement event of the last day they ordered on to
    ``changes``; ``base`` keeps everything else. ``changes`` is then new rows for exactly
    those customers, the way a day of new activity arrives for a few of them. Cached."""
    facts_path = out / "split.json"
    if facts_path.is_file():
        facts = json.loads(facts_path.read_text())
        if facts.get("changed") == changed and facts.get("seed") == seed:
            return facts
    shutil.rmtree(out, ignore_errors=True)
    (out / "base").mkdir(parents=True)
    (out / "changes").mkdir()
    shutil.copy(folder / "customers.parquet", out / "base" / "customers.parquet")
    con = duckdb.connect()
    try:
        con.execute(
            "create temp table chosen as "
            "select customer_id, cast(max(ordered_at) as date) as day "
            f"from read_parquet('{folder}/transactions.parquet') "
            "where customer_id is not null and ordered_at <= now() group by 1 "
            f"order by md5('{seed}:' || cast(customer_id as varchar)) limit {changed}"
        )
        facts = {"changed": changed, "seed": seed, "rows": {}}
        for table, column in EVENT_TIME.items():
            src = f"read_parquet('{folder / f'{table}.parquet'}')"
            moved = (
                f"coalesce(({table}.customer_id, cast({table}.{column} as date)) in "
                "(select (customer_id, day) from chosen), false)"
            )
            for part, where in (("base", f"not {moved}"), ("changes", moved)):
                target = out / part / f"{table}.parquet"
                con.execute(f"copy (select * from {src} as {table} where {where}) to '{target}'")
                rows = con.execute(f"select count(*) from read_parquet('{target}')").fetchone()
                facts["rows"][f"{part}.{table}"] = rows[0]
        facts["changed_customers"] = con.execute(
            "select count(distinct customer_id) from read_parquet("
            f"['{out}/changes/transactions.parquet', '{out}/changes/web_events.parquet'], "
            "union_by_name = true)"
        ).fetchone()[0]
    finally:
        con.close()
    facts_path.write_text(json.dumps(facts, indent=2))
    return facts


def markdown(result: dict) -> str:
    n = result["customers"]
    m = result["machine"]
    runs = result["runs"]
    split = result["split"]
    full = runs["full_run"]["seconds"]
    full_cpu = runs["full_run"]["cpu_seconds"]
    lines = [
        f"# Rescoring the {split['changed_customers']:,} customers who changed, "
        f"at {label(n)} customers",
        "",
        f"Measured {result['started_at']} to {result['finished_at']} with "
        f"`{result['command']}` on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"{m['os']}; Python {m['python']}, DuckDB {m['versions']['duckdb']}, dbt-core "
        f"{m['versions']['dbt-core']}. Synthetic data (seed 1, Parquet): a seeded random "
        f"{split['changed_customers'] / n:.1%} of the customers each lose the order lines "
        "and events of the last day they ordered on to a separate folder, `changes`; the "
        "full run reads the rest (`base`), then `score` and `run --append` read `changes` "
        "(new rows for those customers only). The machine is shared: the last column is "
        "the CPU other processes used meanwhile.",
        "",
        "| step | what | wall s | share of the full run's wall s | CPU s (its tree) | share of "
        "the full run's CPU s | peak tree MiB | CPU s used by others meanwhile |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    what = {
        "full_run": "`run --data base`: full run, every customer",
        "score_changed": f"`score --data changes`: {result['scored_customers']:,} changed "
        "customers rescored in SQL against the last fit (the first score on this "
        "warehouse path: dbt parses the project in full)",
        "score_again": "the same `score` again (dbt's parse of the project reused)",
        "append_changes": "`run --append --data changes`: the changes appended, published",
    }
    for key, text in what.items():
        if key not in runs:
            continue
        r = runs[key]
        lines.append(
            f"| {key} | {text} | {r['seconds']:.1f} | {r['seconds'] / full:.1%} | "
            f"{r['cpu_seconds']:.0f} | {r['cpu_seconds'] / full_cpu:.1%} | "
            f"{r['peak_tree_mib']:,.0f} | {r['other_cpu_seconds']:.0f} |"
        )
    rows = split["rows"]
    met = {
        f"{key} {unit}": runs[key][field] / runs["full_run"][field] <= TARGET_SHARE
        for key in ("score_changed", "score_again")
        if key in runs
        for unit, field in (("wall", "seconds"), ("CPU", "cpu_seconds"))
    }
    lines += [
        "",
        "Rows in `changes`: "
        + ", ".join(f"{t} {rows[f'changes.{t}']:,}" for t in EVENT_TIME)
        + f"; in `base`: {rows['base.transactions']:,} transaction lines. "
        + f"Target (issue 16, item 6): score at most {TARGET_SHARE:.0%} of the full run: "
        + ", ".join(f"{k} {'met' if v else 'missed'}" for k, v in met.items())
        + ".",
    ]
    if "full_run_reused_from" in result:
        lines += [
            "",
            f"The full run was measured earlier ({result['full_run_reused_from']}) and "
            "reused (`--reuse-full-run`): score leaves the warehouse as it was.",
        ]
    if result.get("append_stage_seconds"):
        lines += [
            "",
            "Stages of the append run (seconds, from its log): "
            + ", ".join(f"{k} {v}" for k, v in result["append_stage_seconds"].items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.append", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--changed", type=float, default=0.01, help="share of customers with new rows"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--wait-for-idle", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--memory-cap-gib", type=float, default=20.0)
    parser.add_argument(
        "--skip-append", action="store_true", help="time the full run and score only"
    )
    parser.add_argument(
        "--reuse-full-run",
        action="store_true",
        help="keep the warehouse and the full run's measurement of an earlier "
        "invocation with the same data (score does not change the warehouse)",
    )
    args = parser.parse_args(argv)
    n = args.customers
    started = datetime.now(UTC).isoformat(timespec="seconds")
    folder, _ = ensure_data(n, args)
    work_root = CACHE / f"{n}-changed"
    split = split_changed(folder, work_root, changed=round(n * args.changed))
    base, changes = work_root / "base", work_root / "changes"
    work = work_root / "warehouse"
    warehouse = work / "w.duckdb"
    full_record = work / "full_run.json"
    reuse = args.reuse_full_run and full_record.is_file() and warehouse.is_file()
    if not reuse:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
    cli = str(BIN / "customer-chunks")
    score = [cli, "score", "--data", changes, "--warehouse", warehouse]
    score += ["--out", work / "scores.parquet"]
    commands = {
        "full_run": [cli, "run", "--data", base, "--warehouse", warehouse],
        "score_changed": score,
        # The same score again: dbt reuses its parse of the first (partial parsing), as
        # every score after the first on a warehouse does.
        "score_again": score,
        "append_changes": [cli, "run", "--append", "--data", changes, "--warehouse", warehouse],
    }
    runs = {}
    for key, command in commands.items():
        if key == "full_run" and reuse:
            runs[key] = json.loads(full_record.read_text())
            say(f"[{label(n)} full_run] reusing {full_record}")
            continue
        if key == "append_changes" and args.skip_append:
            continue
        if key == "score_changed":  # the first score parses the project in full
            shutil.rmtree(DBT_TARGET.with_name(SCORE_TARGET), ignore_errors=True)
        result = measured(
            [str(c) for c in command], f"{label(n)} {key}", f"{n}-{key}", args, customers=n
        )
        if not result.ok:
            raise SystemExit(f"{key} failed ({result.detail}); see bench/cache/logs")
        runs[key] = summary(result)
        if key == "full_run":
            full_record.write_text(json.dumps({**runs[key], "measured_at": started}, indent=2))
    scored = duckdb.sql(f"select count(*) from read_parquet('{work / 'scores.parquet'}')")
    result = {
        "command": "python -m bench.append " + " ".join(sys.argv[1:] if argv is None else argv),
        "started_at": started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "customers": n,
        "split": split,
        "runs": runs,
        "scored_customers": scored.fetchone()[0],
        "ratios": {
            key: {
                "wall": round(runs[key]["seconds"] / runs["full_run"]["seconds"], 4),
                "cpu": round(runs[key]["cpu_seconds"] / runs["full_run"]["cpu_seconds"], 4),
            }
            for key in ("score_changed", "score_again", "append_changes")
            if key in runs
        },
    }
    if reuse:
        result["full_run_reused_from"] = runs["full_run"].get("measured_at", "unknown")
    if "append_changes" in runs:
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            stages = con.execute(
                "select stage_seconds from marts.run_history order by run_id desc limit 1"
            ).fetchone()
        finally:
            con.close()
        result["append_stage_seconds"] = json.loads(stages[0])
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"append-{label(n).lower()}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    say(f"wrote {stem}.json and .md")
    say(stem.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
