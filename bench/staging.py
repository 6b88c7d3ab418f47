"""Time the SQL staging models one by one: wall and CPU seconds per node.

    python -m bench.staging --data DIR --work DIR [--memory 3GB] [--profile]

Loads DIR (``customer-chunks load``) into a DuckDB file under --work, compiles the
staging models with dbt (``dbt compile``, which reads the raw columns), then runs each
staging model's compiled SQL in dependency order on one DuckDB connection with the
settings of profiles.yml, as a full build does (``create table ... as`` for tables,
``create view`` for views). CPU seconds are this process's (DuckDB runs in it), so a
node's CPU time is its own even on a shared machine. ``--profile`` writes DuckDB's
query tree of each table node (EXPLAIN ANALYZE) beside the results.

Writes ``<work>/staging-<rows>.json`` and prints a table. dbt's own overhead per node
(about 0.1 s) and the data tests are not included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _profile_settings() -> dict[str, str]:
    """The DuckDB settings of profiles.yml's duckdb target, env vars resolved by dbt's
    own rule (env_var(name, default))."""
    text = (ROOT / "profiles.yml").read_text()
    settings = yaml.safe_load(text)["customer_chunks"]["outputs"]["duckdb"]["settings"]
    resolved = {}
    for key, value in settings.items():
        value = str(value)
        found = re.search(r"env_var\('([A-Z_]+)',\s*'([^']*)'\)", value)
        if found:
            value = os.environ.get(found.group(1), found.group(2))
        resolved[key] = value
    return resolved


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ordered_staging_nodes(manifest: dict) -> list[dict]:
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/staging/")
    }
    done: list[str] = []

    def visit(uid: str) -> None:
        if uid in done:
            return
        for dep in nodes[uid]["depends_on"]["nodes"]:
            if dep in nodes:
                visit(dep)
        done.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    return [nodes[uid] for uid in done]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--profile", action="store_true", help="write EXPLAIN ANALYZE trees")
    parser.add_argument("--select", default="path:models/staging")
    args = parser.parse_args(argv)

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    db = work / "customer_chunks.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "CUSTOMER_CHUNKS_DB": str(db),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    started = time.monotonic()
    subprocess.run(
        [str(bin_dir / "customer-chunks"), "load", "--data", str(args.data)]
        + ["--warehouse", str(db)],
        check=True,
        env=env,
        cwd=ROOT,
    )
    load_s = time.monotonic() - started
    subprocess.run(
        [
            str(bin_dir / "dbt"),
            "--quiet",
            "compile",
            "--project-dir",
            str(ROOT),
            "--profiles-dir",
            str(ROOT),
            "--select",
            args.select,
        ],
        check=True,
        env=env,
        cwd=ROOT,
    )
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    settings = _profile_settings()
    con = duckdb.connect(str(db))
    for key, value in settings.items():
        con.execute(f"set {key} = '{value}'")
    con.execute(f"set temp_directory = '{db}.tmp'")
    rows = {
        name: con.execute(f"select count(*) from raw.{name}").fetchone()[0]
        for name in ("customers", "transactions", "web_events", "engagement_events")
    }
    results = []
    for node in _ordered_staging_nodes(manifest):
        if "compiled_code" not in node:  # not in --select: dbt did not compile it
            continue
        relation = node["relation_name"]
        schema = relation.rsplit(".", 1)[0]
        con.execute(f"create schema if not exists {schema}")
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        sql = node["compiled_code"]
        if args.profile and kind == "table":
            con.execute("set enable_profiling = 'query_tree'")
            con.execute(f"set profiling_output = '{work / node['name']}.profile.txt'")
        wall0, cpu0 = time.monotonic(), _cpu()
        con.execute(f"create or replace {kind} {relation} as (\n{sql}\n)")
        wall, cpu = time.monotonic() - wall0, _cpu() - cpu0
        if args.profile and kind == "table":
            con.execute("set enable_profiling = 'no_output'")
            con.execute("reset profiling_output")
        out_rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
        results.append(
            {"node": node["name"], "kind": kind, "wall_s": wall, "cpu_s": cpu, "rows": out_rows}
        )
        line = f"{node['name']:<55} {kind:<5} {wall:8.1f} s {cpu:8.1f} CPU-s {out_rows:>12,}"
        print(line, flush=True)
    con.close()
    report = {
        "data": str(args.data),
        "raw_rows": rows,
        "settings": settings,
        "load_s": load_s,
        "load_avg_after": os.getloadavg(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "duckdb": duckdb.__version__,
        "nodes": results,
        "total_wall_s": sum(r["wall_s"] for r in results),
        "total_cpu_s": sum(r["cpu_s"] for r in results),
    }
    out = work / f"staging-{rows['customers']}.json"
    out.write_text(json.dumps(report, indent=2))
    print(
        f"total {report['total_wall_s']:.1f} s, {report['total_cpu_s']:.1f} CPU-s; "
        f"load average {os.getloadavg()[0]:.1f}; {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
