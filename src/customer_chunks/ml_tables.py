"""Glue between the dbt Python models and :mod:`customer_chunks.ml`.

A dbt model has exactly one output table, but one segmentation run produces several
(customer segments, validation, profiles, PCA, linkage, ...), and fitting twice would
double the slowest step. So the run model (``ml_segmentation_run``) returns one row with
a column per output, each holding that output's rows as a list of structs
(:func:`pack`). A mart reads its output back in SQL with the ``ml_output`` macro (an
``unnest`` on DuckDB) and casts it to its contract with ``contract_columns``: the
output's columns, types and docs are declared once, in the mart's YAML
(``python_models/ml/README.md`` explains the choice and how to add an output).

Cost, measured on a million customer_segments rows (10 columns) on 2 shared cores, three
runs each: pack and store 1.7-2.4 s, unnest into a table 2.3-3.6 s, peak RSS 675-708
MiB; the Parquet bytes and unpack model this replaced took 0.8-1.3 s and 3.0-5.7 s at
636-673 MiB.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pandas as pd
import pyarrow as pa

from customer_chunks.ml.pipeline import EXTRA_FEATURES_ATTR


def pack(frames: dict[str, pd.DataFrame]) -> pa.Table:
    """One row with a column per frame, named after it: the frame's rows as a list of
    structs whose fields are its columns, with the types Arrow gives the pandas dtypes
    (an all-null column of an empty frame is Arrow ``null``; the mart's cast types it).

    O(total rows) time and one copy of the data in memory.
    """
    columns = {}
    for name in sorted(frames):
        table = pa.Table.from_pandas(frames[name].reset_index(drop=True), preserve_index=False)
        if table.num_columns == 0:
            raise ValueError(f"ML output {name!r} has no columns; every output needs at least one")
        rows = pa.StructArray.from_arrays(
            [column.combine_chunks() for column in table.columns], names=table.column_names
        )
        offsets = pa.array([0, len(rows)], type=pa.int64())
        columns[name] = pa.LargeListArray.from_arrays(offsets, rows)
    return pa.table(columns)


def log(message: str) -> None:
    """Progress lines from inside dbt Python models (dbt shows the model's stdout)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def current_features(features_by_snapshot: Any, extra_features: Any = None) -> pd.DataFrame:
    """Customer features as of as_of, sorted by customer_id, from the relation
    int_customer_features_by_snapshot (the model must call dbt.ref itself: dbt finds a
    Python model's parents by reading its source).

    ``extra_features``, the relation stg_customer_data__customer_extra_features (long:
    customer_id, feature_name, feature_value), adds one column per extra feature of a
    customer_features input (see :func:`with_extra_features`).
    """
    current = features_by_snapshot.filter("snapshot_name = 'current'")
    frame = current.order("customer_id").df()
    if extra_features is None:
        return frame
    return with_extra_features(frame, extra_features.df())


def with_extra_features(frame: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one row per customer) with a column per ``feature_name`` of ``extra``
    (long rows: customer_id, feature_name, feature_value), NaN where a customer has no
    value. Raises ValueError when an extra name is already a column (the source-file
    schema refuses such names; this guards the join). O(rows of extra)."""
    if extra.empty:
        return frame
    wide = extra.pivot(index="customer_id", columns="feature_name", values="feature_value")
    clash = sorted(set(wide.columns) & set(frame.columns))
    if clash:
        raise ValueError(f"extra features {clash} clash with feature columns")
    wide = wide.astype("float64")
    wide.columns = [str(c) for c in wide.columns]
    joined = frame.join(wide, on="customer_id")
    # run_segmentation reads the names from here (profiles describe segments with them)
    joined.attrs[EXTRA_FEATURES_ATTR] = list(wide.columns)
    return joined
