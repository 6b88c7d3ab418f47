"""The same work on DuckDB and on Spark local[2]: the SQL layer and the ML step (issue 17).

For one generated size, each stage runs as a measured child process (wall time, peak PSS
of its process tree, CPU seconds other processes used meanwhile: bench/measure.py):

* load: ``customer-chunks load`` checks and loads the inputs into DuckDB's raw.*; for
  Spark, raw.* is then copied (Parquet + ``dbt run-operation``, customer_chunks.engines);
* SQL layer: ``dbt build --exclude <engines.SQL_LAYER_EXCLUDE>`` (staging with
  quarantine, features, RFM, the marts without ML, their data and unit tests);
* ML step: on DuckDB the two dbt Python models (segments + PCA, high value); on Spark the
  job ``customer_chunks.spark_score --local`` (fit on driver samples, mapInPandas);
* Spark only: the ``tag:spark_ml`` models (staging of the job's table, dim_customers_spark
  and their tests).

    python -m bench.spark_vs_duckdb --customers 100000 --out bench/results

writes ``<date>-spark-vs-duckdb-<size>.json`` and ``.md``, with how far the two engines'
results agree (:func:`agreement`). Scratch files go to --work (default a temporary
folder, removed after); ``--agreement-of WORK --result JSON`` adds the agreement of a kept
--work folder to a result written before.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

from bench.measure import MIB, run_measured
from bench.run_bench import label, machine
from customer_chunks import engines
from customer_chunks.ml.features import FEATURE_COLUMNS
from customer_chunks.run import project_dir
from customer_chunks.spark_score import OUTPUT_COLUMNS, OUTPUT_TABLE

PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("customer-chunks"))
ML_MODELS = "ml_segmentation_run ml_high_value_run"


def _dbt(*args: str, target: str, work: Path, name: str) -> list[str]:
    return engines.dbt_command(
        *args,
        "--target",
        target,
        "--target-path",
        str(work / f"target-{name}"),
        "--log-path",
        str(work / f"logs-{name}"),
    )


def _step(
    name: str, engine: str, command: list[str], env: dict, work: Path, timeout: float
) -> dict:
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {engine}: {name}", flush=True)
    log = work / f"{engine}-{len(list(work.glob('*.log')))}.log"
    result = run_measured(command, cwd=project_dir(), env=env, timeout=timeout, log_path=log)
    row = {
        "engine": engine,
        "stage": name,
        "status": result.status,
        "seconds": round(result.seconds, 1),
        "peak_tree_mib": round(result.peak_tree_rss / MIB),
        "other_cpu_seconds": round(result.other_cpu_seconds, 1),
        "load_average_before": result.load_average_before,
    }
    print(f"    {row}", flush=True)
    if not result.ok:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise SystemExit(f"{engine} {name} failed ({result.status}, {result.detail}):\n{tail}")
    return row


def bench(customers: int, work: Path, timeout: float) -> dict:
    data = work / "data"
    duck = work / "duckdb"
    spark_dir = work / "spark"
    duck.mkdir(parents=True)
    env = {**engines.spark_env(), "CUSTOMER_CHUNKS_SPARK_DIR": str(spark_dir)}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    gen = [CLI, "generate", "--customers", str(customers), "--seed", "1", "--out", str(data)]
    _step("generate input (not compared)", "-", [*gen, "--format", "parquet"], env, work, timeout)
    loaded = duck / "loaded.duckdb"
    rows = []
    load = [CLI, "load", "--data", str(data), "--warehouse", str(loaded)]
    rows.append(_step("load raw.* (input checks)", "duckdb", load, env, work, timeout))
    build = duck / "build.duckdb"
    shutil.copy(loaded, build)
    duck_env = {**env, "CUSTOMER_CHUNKS_DB": str(build)}
    sql_layer = ("build", "--exclude", engines.SQL_LAYER_EXCLUDE)
    rows.append(
        _step(
            "SQL layer (dbt build)",
            "duckdb",
            _dbt(*sql_layer, target="duckdb", work=work, name="duck-sql"),
            duck_env,
            work,
            timeout,
        )
    )
    rows.append(
        _step(
            "ML step (segments + PCA, high value)",
            "duckdb",
            _dbt("run", "-s", *ML_MODELS.split(), target="duckdb", work=work, name="duck-ml"),
            duck_env,
            work,
            timeout,
        )
    )
    copy = [
        PYTHON,
        "-c",
        f"from customer_chunks.engines import load_target; load_target({str(loaded)!r}, 'spark')",
    ]
    rows.append(
        _step("copy raw.* to Spark (Parquet + run-operation)", "spark", copy, env, work, timeout)
    )
    rows.append(
        _step(
            "SQL layer (dbt build)",
            "spark",
            _dbt(*sql_layer, target="spark", work=work, name="spark-sql"),
            env,
            work,
            timeout,
        )
    )
    job = [PYTHON, "-m", "customer_chunks.spark_score", "--local"]
    rows.append(_step("ML step (segments + PCA, high value)", "spark", job, env, work, timeout))
    rows.append(
        _step(
            "spark_ml marts (dbt build -s tag:spark_ml)",
            "spark",
            _dbt("build", "-s", "tag:spark_ml", target="spark", work=work, name="spark-marts"),
            env,
            work,
            timeout,
        )
    )
    return {"customers": customers, "stages": rows}


def agreement(work: Path) -> dict:
    """How far the engines' results on the same input agree, from the files a run left in
    ``work`` (DuckDB's warehouse and the Spark warehouse's Parquet, read without a JVM):
    customers on each side and on one side only, then over the shared customers the
    count of differing K-Means segments and high-value flags and the largest absolute
    difference of each PCA coordinate, the high-value probability and each current
    feature (with the count of customers whose feature differs by more than 1e-9)."""
    con = duckdb.connect(str(work / "duckdb" / "build.duckdb"), read_only=True)

    def spark(name: str) -> str:
        schema, table = name.split(".")
        return f"read_parquet('{work / 'spark' / 'tables' / f'{schema}.db' / table}/*.parquet')"

    features = "intermediate.int_customer_features_by_snapshot"
    con.execute(
        "create temp view duck as select s.*, h.high_value_probability, h.is_predicted_high_value"
        " from (select unnest(customer_segments, recursive := true) from ml.ml_segmentation_run) s"
        " join (select unnest(scores, recursive := true) from ml.ml_high_value_run) h"
        " using (customer_id)"
    )
    con.execute(f"create temp view spark as select * from {spark(OUTPUT_TABLE)}")
    con.execute(
        f"create temp view duck_f as select * from {features} where snapshot_name = 'current'"
    )
    con.execute(
        f"create temp view spark_f as select * from {spark(features)}"
        " where snapshot_name = 'current'"
    )
    counts = con.execute(
        "select (select count(*) from duck), (select count(*) from spark),"
        " (select count(*) from duck anti join spark using (customer_id)),"
        " (select count(*) from spark anti join duck using (customer_id))"
    ).fetchone()
    result = {
        "customers_duckdb": counts[0],
        "customers_spark": counts[1],
        "only_duckdb": counts[2],
        "only_spark": counts[3],
    }
    numeric = [c for c, kind in OUTPUT_COLUMNS.items() if kind == "double"]
    row = con.execute(
        "select count(*) filter (d.kmeans_segment_id != s.kmeans_segment_id),"
        " count(*) filter (d.is_predicted_high_value != s.is_predicted_high_value),"
        + ", ".join(f"max(abs(d.{c} - s.{c}))" for c in numeric)
        + " from duck d join spark s using (customer_id)"
    ).fetchone()
    result["kmeans_segment_differs"] = row[0]
    result["high_value_flag_differs"] = row[1]
    result["max_abs_difference"] = dict(zip(numeric, row[2:], strict=True))
    result["kmeans_k"], result["feature_rows"] = con.execute(
        "select (select count(distinct kmeans_segment_id) from duck), (select count(*) from duck_f)"
    ).fetchone()
    # every feature in one pass over the joined rows: a max and a count per column
    differences = [
        f"abs(cast(d.{column} as double) - cast(s.{column} as double))"
        for column in FEATURE_COLUMNS
    ]
    found = con.execute(
        "select "
        + ", ".join(f"max({d}), count(*) filter ({d} > 1e-9)" for d in differences)
        + " from duck_f d join spark_f s using (customer_id)"
    ).fetchone()
    result["features"] = {
        column: {"max_abs_difference": found[2 * i], "rows_beyond_1e-9": found[2 * i + 1]}
        for i, column in enumerate(FEATURE_COLUMNS)
    }
    con.close()
    return result


def agreement_markdown(found: dict) -> list[str]:
    differing = {c: v for c, v in found["features"].items() if v["rows_beyond_1e-9"]}
    largest = ", ".join(f"{c} {v:.2g}" for c, v in found["max_abs_difference"].items())
    return [
        "",
        "## Agreement of the results (computed from the run's warehouses)",
        "",
        f"- Customers scored: DuckDB {found['customers_duckdb']:,}, Spark"
        f" {found['customers_spark']:,}; on one side only: {found['only_duckdb']} and"
        f" {found['only_spark']}.",
        f"- K-Means segment (k = {found['kmeans_k']} on DuckDB) differs for"
        f" {found['kmeans_segment_differs']} customers; the high-value flag for"
        f" {found['high_value_flag_differs']}.",
        f"- Largest absolute difference: {largest}.",
        f"- Current features ({found['feature_rows']:,} rows on DuckDB): "
        + (
            "; ".join(
                f"{c} differs by more than 1e-9 on {v['rows_beyond_1e-9']:,} rows"
                f" (at most {v['max_abs_difference']:.2g})"
                for c, v in differing.items()
            )
            if differing
            else "every feature within 1e-9"
        )
        + ".",
    ]


def markdown(result: dict) -> str:
    m = result["machine"]
    n = result["customers"]
    lines = [
        f"# DuckDB against Spark local[2], {label(n)} customers",
        "",
        f"Measured {result['measured_at']} with `python -m bench.spark_vs_duckdb --customers {n}`"
        f" on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}; Python"
        f" {m['python']}, pyspark {result['pyspark']}. Synthetic data (`customer-chunks"
        " generate --seed 1`, Parquet). Each stage is one child process: wall time, peak PSS"
        " of its process tree, CPU seconds other processes used meanwhile (the machine is"
        " shared; a large figure there means the timing is inflated), load average before.",
        "",
        "| engine | stage | s | peak MiB | other CPU s | load before |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in result["stages"]:
        lines.append(
            f"| {row['engine']} | {row['stage']} | {row['seconds']:.1f} | {row['peak_tree_mib']}"
            f" | {row['other_cpu_seconds']:.1f} | {row['load_average_before']:.2f} |"
        )
    total = {}
    for row in result["stages"]:
        if row["engine"] != "-":
            total[row["engine"]] = total.get(row["engine"], 0.0) + row["seconds"]
    lines += [
        "",
        "Totals (load + SQL layer + ML step; Spark also copies raw.* and builds its mart): "
        + ", ".join(f"{engine} {seconds:.0f} s" for engine, seconds in total.items())
        + ". Spark's load row is DuckDB's: the input checks run in DuckDB on every target.",
    ]
    if "agreement" in result:
        lines += agreement_markdown(result["agreement"])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    parser.add_argument(
        "--agreement-of", type=Path, help="a kept --work folder: add its agreement to --result"
    )
    parser.add_argument("--result", type=Path, help="the .json that --agreement-of completes")
    args = parser.parse_args(argv)
    from importlib import metadata

    if args.agreement_of:
        if not args.result:
            parser.error("--agreement-of needs --result, the .json of that run")
        result = json.loads(args.result.read_text())
        result["agreement"] = agreement(args.agreement_of)
        args.result.write_text(json.dumps(result, indent=2) + "\n")
        args.result.with_suffix(".md").write_text(markdown(result))
        print(markdown(result))
        return 0

    work = args.work or Path(tempfile.mkdtemp(prefix="cc-spark-bench-"))
    try:
        result = {
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "pyspark": metadata.version("pyspark"),
            **bench(args.customers, work, args.timeout),
        }
        result["agreement"] = agreement(work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{result['measured_at'][:10]}-spark-vs-duckdb-{label(args.customers)}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    raise SystemExit(main())
