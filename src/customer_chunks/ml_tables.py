"""Glue between the dbt Python models and :mod:`customer_chunks.ml`.

A dbt model has exactly one output table, but one segmentation run produces several
(customer segments, validation, profiles, PCA, linkage, ...), and fitting twice would
double the slowest step. So the run model (``ml_segmentation_run``) stores each output
frame as one row - its name and the frame as Parquet bytes - and a thin model per output
(``ml_customer_segments``, ``ml_model_validation``, ...) unpacks its row. The frames
arrive unchanged (Parquet keeps the types) and every output is still a dbt node with
lineage, docs and tests.

Packing costs one Parquet encode/decode: about a second for a million customers.
"""

from __future__ import annotations

import io
import json
import sys
import time
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

OUTPUT_NAME = "output_name"
PAYLOAD = "payload"


def pack(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per frame: (output_name, Parquet bytes)."""
    rows = []
    for name in sorted(frames):
        buffer = io.BytesIO()
        table = pa.Table.from_pandas(frames[name].reset_index(drop=True), preserve_index=False)
        pq.write_table(table, buffer, compression="zstd")
        rows.append({OUTPUT_NAME: name, PAYLOAD: buffer.getvalue()})
    return pd.DataFrame(rows, columns=[OUTPUT_NAME, PAYLOAD])


def unpack(relation: Any, name: str) -> pa.Table:
    """The frame called ``name`` from a packed relation (a DuckDB relation or DataFrame)."""
    if hasattr(relation, "filter"):
        escaped = name.replace("'", "''")
        row = relation.filter(f"{OUTPUT_NAME} = '{escaped}'").fetchone()
        payload = None if row is None else row[1]
    else:
        match = relation.loc[relation[OUTPUT_NAME] == name, PAYLOAD]
        payload = None if match.empty else match.iloc[0]
    if payload is None:
        raise KeyError(f"the segmentation run has no output named {name!r}")
    return pq.read_table(io.BytesIO(bytes(payload)))


def config_value(dbt: Any, key: str, cast: type, default: Any = None) -> Any:
    """A model config value set from a dbt var in YAML (rendered as text); None stays None."""
    raw = dbt.config.get(key)
    if raw is None or str(raw).strip().lower() in {"", "none", "null"}:
        return default
    return cast(json.loads(str(raw))) if cast is not str else str(raw)


def log(message: str) -> None:
    """Progress lines from inside dbt Python models (dbt shows the model's stdout)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def current_features(features_by_snapshot: Any) -> pd.DataFrame:
    """Customer features as of as_of, sorted by customer_id, from the relation
    int_customer_features_by_snapshot (the model must call dbt.ref itself: dbt finds a
    Python model's parents by reading its source)."""
    current = features_by_snapshot.filter("snapshot_name = 'current'")
    return current.order("customer_id").df()
