"""The Spark steps after `customer-chunks load --target spark`, in one process and so one
JVM: `dbt build --target spark` of the SQL layer, the ML job (customer_chunks.spark_score
--local) and `dbt build --target spark -s tag:spark_ml`.

Run by tests/test_engines_equality.py as a child process (dbt in-process in pytest does
not mix with DuckDB, see ../shared/MACHINE_NOTES.md):

    python tests/spark_chain.py TARGET_ROOT

with CUSTOMER_CHUNKS_SPARK_DIR set. Each step is the same call a user makes from the
command line (dbt's own entry point, spark_score.main); they share the JVM that dbt-spark's
session starts (`getOrCreate`), which saves two JVM starts (~30 s each) against separate
processes. Writes TARGET_ROOT/chain.json: whether each dbt build succeeded ("sql_layer",
"spark_ml") and the ML job's exit status ("ml_job"); a step not run is null (the ML steps
are skipped when the SQL layer's build fails). The dbt steps write their run_results.json
under TARGET_ROOT/target and TARGET_ROOT/target-ml.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dbt.cli.main import dbtRunner

from customer_chunks import engines, spark_score

ML_JOB_ARGS = ["--local", "--k", "3"]


def dbt(*args: str) -> bool:
    """One dbt invocation in this process (the command line of engines.dbt_command)."""
    return dbtRunner().invoke(engines.dbt_command(*args)[1:]).success


def build(target_path: Path, *selection: str) -> bool:
    return dbt(
        "build",
        "--target",
        "spark",
        *selection,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
    )


def main(target_root: Path) -> int:
    outcome: dict[str, bool | int | None] = {"sql_layer": None, "ml_job": None, "spark_ml": None}
    outcome["sql_layer"] = build(
        target_root / "target", "--exclude", *engines.SQL_LAYER_EXCLUDE.split()
    )
    if outcome["sql_layer"]:
        outcome["ml_job"] = spark_score.main(ML_JOB_ARGS)
        if outcome["ml_job"] == 0:
            outcome["spark_ml"] = build(target_root / "target-ml", "-s", "tag:spark_ml")
    (target_root / "chain.json").write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
