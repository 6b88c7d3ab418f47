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

writes ``<date>-spark-vs-duckdb-<size>.json`` and ``.md``. Scratch files go to --work
(default a temporary folder, removed after).
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

from bench.measure import MIB, run_measured
from bench.run_bench import label, machine
from customer_chunks import engines
from customer_chunks.run import project_dir

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
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    args = parser.parse_args(argv)
    from importlib import metadata

    work = args.work or Path(tempfile.mkdtemp(prefix="cc-spark-bench-"))
    try:
        result = {
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "pyspark": metadata.version("pyspark"),
            **bench(args.customers, work, args.timeout),
        }
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
