"""Rescoring against the last fit versus a full run (issue 16, item 6).

Takes a warehouse published by ``customer-chunks run`` and, on a scratch copy of it,
times ``dbt build --full-refresh --select path:models/intermediate/activity
int_customer_features_by_snapshot segment_scores`` (the activity folder holds the
incremental per-customer activity models): the SQL features of EVERY customer
recomputed from the staged inputs and every customer assigned to the nearest stored
centre in SQL (no Python, no refit). Rescoring only the customers new rows change is
``customer-chunks score`` (timed by ``bench.append``). The
full run's time is the run's own record in marts.run_history (load + dbt build).

Run: ``.venv/bin/python -m bench.rescore WAREHOUSE`` (after ``customer-chunks run``).
Prints one line per measurement and writes nothing into the warehouse itself.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from customer_chunks.run import dbt_build

# The models and their data tests; not the features model's unit tests, which need the
# staging views built in the same invocation.
SELECT = "path:models/intermediate/activity int_customer_features_by_snapshot segment_scores"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_file():
        print("usage: python -m bench.rescore WAREHOUSE (a published warehouse file)")
        return 2
    warehouse = Path(args[0])
    logging.basicConfig(level=logging.WARNING)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        run_id, stages, vars_json, n = con.execute(
            "select run_id, stage_seconds, run_vars, n_customers from marts.run_history "
            "order by run_id desc limit 1"
        ).fetchone()
    finally:
        con.close()
    stages = json.loads(stages)
    full = sum(stages.values())
    as_of = json.loads(vars_json).get("as_of")
    with tempfile.TemporaryDirectory(dir=warehouse.parent) as scratch:
        copy = Path(scratch) / warehouse.name  # same catalog name: the views refer to it
        shutil.copyfile(warehouse, copy)
        os.environ["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test"  # dbt's --exclude-resource-type
        started = time.monotonic()
        dbt_build(copy, {"as_of": as_of} if as_of else {}, select=SELECT, full_refresh=True)
        took = time.monotonic() - started
    print(f"customers: {n:,} (run {run_id})")
    print(f"full run (load + dbt build): {full:.1f} s {stages}")
    print(f"rescore all customers in SQL (features + segment_scores): {took:.1f} s")
    print(f"rescore / full run: {took / full:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
