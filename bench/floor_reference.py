"""The floor reference: the least work that could be called a segmentation.

One DuckDB aggregation query computes recency, frequency and monetary per customer
straight from the transactions Parquet file, then one scikit-learn K-Means (k = 4) fits
on every customer's log-scaled features. No input checks, no other table, no tests, no
warehouse. The benchmark compares the pipeline's wall time with this one's.

Run: ``python bench/floor_reference.py DATA_DIR``. Prints ``[floor] <step>: <rows> rows,
done in <s> s`` lines, the format the benchmark parses.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

RFM_SQL = """
with lines as (
    select customer_id, order_id, ordered_at, quantity * unit_price as amount
    from read_parquet(?)
    where customer_id is not null and quantity > 0 and unit_price > 0
)
select
    customer_id,
    date_diff('day', max(ordered_at)::date, (select max(ordered_at)::date + 1 from lines))
        as recency_days,
    count(distinct order_id) as frequency,
    sum(amount) as monetary
from lines
group by customer_id
order by customer_id
"""


@contextmanager
def step(name: str, rows: int):
    started = time.perf_counter()
    print(f"[floor] {name}: {rows:,} rows ...", flush=True)
    yield
    took = time.perf_counter() - started
    print(f"[floor] {name}: {rows:,} rows, done in {took:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with transactions.parquet")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    path = str(args.data / "transactions.parquet")
    with step("duckdb rfm query", 0):
        rfm = duckdb.sql(RFM_SQL.replace("?", "'" + path.replace("'", "''") + "'")).df()
    n = len(rfm)
    with step("kmeans fit (k=4)", n):
        X = rfm[["recency_days", "frequency", "monetary"]].to_numpy(dtype=float)
        X = StandardScaler().fit_transform(np.log1p(np.clip(X, 0, None)))
        KMeans(n_clusters=4, n_init=1, random_state=0).fit(X)
    print(f"[floor] done: {n:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
