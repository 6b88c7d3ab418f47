"""Awkward data never crashes a run: it logs a note, takes the documented fallback and
still publishes the feature marts."""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_chunks import sources
from customer_chunks.run import run

from support import query

pytestmark = pytest.mark.e2e

HEADER = "order_id,customer_id,ordered_at,product_id,category,quantity,unit_price\n"


def build(tmp_path: Path, lines: list[str]) -> tuple[Path, list[str]]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "transactions.csv").write_text(HEADER + "".join(line + "\n" for line in lines))
    messages: list[str] = []
    warehouse = tmp_path / "w.duckdb"
    run(sources.from_data_dir(data), warehouse=warehouse, log=messages.append)
    return warehouse, messages


def test_single_customer(tmp_path):
    warehouse, messages = build(tmp_path, ["o1,solo,2024-01-01 10:00:00,p,x,1,5.0"])
    dim = query(warehouse, "select * from marts.dim_customers")
    assert len(dim) == 1
    assert dim.segment_id.tolist() == [1] and not dim.is_outlier.iloc[0]
    assert dim.high_value_probability.isna().all()
    notes = query(warehouse, "select note from marts.high_value_model_metrics")
    assert notes.note.str.contains("no model|no positive|training", regex=True).all()
    assert any("NOTE" in m for m in messages)


def test_fewer_customers_than_clusters_and_no_purchase_in_horizon(tmp_path):
    lines = [f"o{i},c{i},2024-03-0{i} 10:00:00,p,x,{i},{i * 2}.0" for i in range(1, 4)]
    warehouse, messages = build(tmp_path, lines)
    dim = query(warehouse, "select * from marts.dim_customers")
    assert len(dim) == 3
    assert dim.kmeans_segment_id.between(1, 3).all()
    candidates = query(warehouse, "select k from marts.kmeans_candidates")
    assert candidates.k.max() <= 3
    assert any("clamped" in m or "NOTE" in m for m in messages)
    # Everyone bought within the 90-day horizon, so nobody is in the training snapshot.
    assert dim.high_value_probability.isna().all()


def test_constant_features(tmp_path):
    lines = [f"o{i},c{i:02d},2024-03-01 10:00:00,p,x,1,5.0" for i in range(30)]
    warehouse, _ = build(tmp_path, lines)
    dim = query(warehouse, "select * from marts.dim_customers")
    assert len(dim) == 30
    assert dim.segment_id.nunique() == 1
    dropped = query(
        warehouse,
        "select feature, drop_reason from marts.preprocessing_parameters where model_name = 'segmentation' and not is_used",
    )
    assert "monetary" in set(dropped.feature)
    assert dropped.drop_reason.notna().all()
