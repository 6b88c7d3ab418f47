"""End to end on generated data: every row accounted for, features checked against an
independent pandas computation, reruns identical, failed runs publish nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from customer_chunks import sources
from customer_chunks.errors import BuildError
from customer_chunks.generate import PERSONAS, generate, planted_personas
from customer_chunks.run import run

from support import ROOT, query

pytestmark = pytest.mark.e2e
QUIET = {"log": lambda message: None}


def _make_default(name: str) -> int:
    """A ``NAME ?= N`` default of the Makefile, the one home of `make run`'s demo size."""
    match = re.search(rf"^{name} \?= (\d+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile: no '{name} ?= <number>' line"
    return int(match.group(1))


# The demo that `make run` builds (as csv here, which also carries unparseable timestamps).
CUSTOMERS = _make_default("CUSTOMERS")
SEED = _make_default("SEED")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo_data")
    counts = generate(n_customers=CUSTOMERS, seed=SEED, out_dir=data, file_format="csv")
    warehouse = tmp_path_factory.mktemp("demo_wh") / "w.duckdb"
    run(sources.from_data_dir(data), warehouse=warehouse, **QUIET)
    return data, counts, warehouse


def test_every_row_is_accounted_for(demo):
    data, counts, warehouse = demo
    acc = query(warehouse, "select * from marts.row_accounting").set_index("table_name")
    for table in ["transactions", "customers", "web_events", "engagement_events"]:
        assert acc.loc[table, "rows_read"] == counts[table]
    assert (acc.rows_read == acc.rows_staged + acc.rows_quarantined).all()


def test_planted_dirty_rows_are_quarantined_with_their_reason(demo):
    _, counts, warehouse = demo
    dirty = counts["dirty"]
    summary = query(
        warehouse, "select table_name, quarantine_reason, row_count from marts.quarantine_summary"
    )
    got = {(r.table_name, r.quarantine_reason): r.row_count for r in summary.itertuples()}
    assert got[("transactions", "missing_customer_id")] == dirty["missing_customer_id"]
    assert got[("transactions", "negative_price")] == dirty["negative_unit_price"]
    assert got[("transactions", "future_timestamp")] == dirty["future_ordered_at"]
    assert got[("transactions", "unparseable_timestamp")] == dirty["unparseable_ordered_at"] > 0
    assert got[("transactions", "duplicate")] >= dirty["duplicate_lines"] > 0
    customer_dupes = got.get(("customers", "duplicate"), 0) + got.get(
        ("customers", "duplicate_customer_id"), 0
    )
    assert customer_dupes == dirty["duplicate_customers"]


def independent_features(data: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """The documented feature rules, recomputed in pandas from the CSV."""
    t = pd.read_csv(
        data / "transactions.csv", dtype={"customer_id": str, "order_id": str, "ordered_at": str}
    )
    t = t[t.customer_id.notna()]
    t["ts"] = pd.to_datetime(t.ordered_at, errors="coerce", format="%Y-%m-%d %H:%M:%S")
    t = t[t.ts.notna() & (t.ts <= pd.Timestamp.now()) & (t.unit_price >= 0)]
    t = t.drop_duplicates(
        subset=[
            "order_id",
            "customer_id",
            "ordered_at",
            "product_id",
            "category",
            "quantity",
            "unit_price",
        ]
    )
    t = t[t.ts < as_of]
    t["amount"] = t.quantity * t.unit_price
    buy = t[(t.quantity > 0) & (t.unit_price > 0)]
    ret = t[t.quantity < 0]
    out = buy.groupby("customer_id").agg(
        frequency=("order_id", "nunique"),
        gross_revenue=("amount", "sum"),
        last=("ts", "max"),
        first=("ts", "min"),
        distinct_categories=("category", "nunique"),
    )
    out["returned_revenue"] = (
        (-ret.groupby("customer_id").amount.sum()).reindex(out.index).fillna(0.0)
    )
    out["monetary"] = out.gross_revenue - out.returned_revenue
    out["recency_days"] = (as_of.normalize() - out["last"].dt.normalize()).dt.days
    out["tenure_days"] = (as_of.normalize() - out["first"].dt.normalize()).dt.days
    return out.sort_index()


def test_features_match_independent_computation(demo):
    data, _, warehouse = demo
    got = (
        query(warehouse, "select * from marts.dim_customers").set_index("customer_id").sort_index()
    )
    as_of = pd.Timestamp(got.as_of_date.iloc[0])
    expected = independent_features(data, as_of)
    assert list(got.index) == list(expected.index)
    for column in ["frequency", "recency_days", "tenure_days", "distinct_categories"]:
        np.testing.assert_array_equal(
            got[column].to_numpy(), expected[column].to_numpy(), err_msg=column
        )
    for column in ["gross_revenue", "returned_revenue", "monetary"]:
        np.testing.assert_allclose(
            got[column], expected[column], rtol=1e-9, atol=1e-6, err_msg=column
        )


def test_optional_features_present_and_in_range(demo):
    _, _, warehouse = demo
    df = query(warehouse, "select * from marts.dim_customers")
    assert df.web_sessions_90d.notna().all() and df.emails_sent.notna().all()
    assert df.engagement_score.between(0, 100).all()
    assert df.age.notna().mean() > 0.9


def test_rerun_gives_identical_dim_customers(demo, tmp_path):
    data, _, warehouse = demo
    again = tmp_path / "again.duckdb"
    run(sources.from_data_dir(data), warehouse=again, **QUIET)
    first = query(warehouse, "select * from marts.dim_customers order by customer_id")
    second = query(again, "select * from marts.dim_customers order by customer_id")
    pd.testing.assert_frame_equal(first, second)


def test_missing_optional_tables_leave_their_columns_null(demo, tmp_path):
    data, _, _ = demo
    only = tmp_path / "only_transactions"
    only.mkdir()
    shutil.copy(data / "transactions.csv", only / "transactions.csv")
    warehouse = tmp_path / "w.duckdb"
    run(sources.from_data_dir(only), warehouse=warehouse, **QUIET)
    df = query(warehouse, "select * from marts.dim_customers")
    assert len(df) > 1000
    for column in ["web_sessions_90d", "email_open_rate", "engagement_score", "age", "country"]:
        assert df[column].isna().all(), column


def test_failed_build_leaves_the_published_warehouse_intact(demo, tmp_path):
    data, _, warehouse = demo
    published = tmp_path / "published.duckdb"
    shutil.copy(warehouse, published)
    before = query(published, "select count(*) as n, sum(monetary) as m from marts.dim_customers")
    with pytest.raises(BuildError, match="published warehouse was not changed"):
        # A non-numeric horizon makes the SQL invalid, so dbt build fails part-way.
        run(
            sources.from_data_dir(data),
            warehouse=published,
            extra_vars={"high_value_horizon_days": "'x'"},
            **QUIET,
        )
    after = query(published, "select count(*) as n, sum(monetary) as m from marts.dim_customers")
    pd.testing.assert_frame_equal(before, after)
    assert not list(tmp_path.glob(".published.building*"))


def test_ml_marts_are_complete_and_consistent(demo):
    _, _, warehouse = demo
    dim = query(warehouse, "select * from marts.dim_customers")
    validation = query(warehouse, "select * from marts.model_validation")
    assert set(validation.algorithm) == {"kmeans", "hierarchical", "dbscan"}
    assert validation.is_chosen.sum() == 1
    assert validation.loc[validation.algorithm == "kmeans", "silhouette"].iloc[0] > 0
    chosen_k = query(warehouse, "select k from marts.kmeans_candidates where is_chosen").k.tolist()
    assert len(chosen_k) == 1 and dim.kmeans_segment_id.nunique() == chosen_k[0]
    # Segment 1 has the highest mean monetary value, and ids are 1..k.
    means = dim.groupby("kmeans_segment_id").monetary.mean()
    assert list(means.index) == list(range(1, chosen_k[0] + 1))
    assert means.is_monotonic_decreasing
    assert (dim.is_outlier == (dim.dbscan_cluster_id == -1)).all()
    profiles = query(warehouse, "select * from marts.segment_profiles where algorithm = 'kmeans'")
    assert profiles.n_customers.sum() == len(dim)
    assert profiles.segment_name.is_unique and profiles.suggested_action.notna().all()
    assert not profiles.segment_name.str.contains(r" \d+$").any()  # never "Lost 2"
    assert profiles.description.str.contains("Sets it apart: ").all()
    assert dim[["pca_1", "pca_2", "pca_3"]].notna().all().all()
    # the recommendation and its reason are recorded, and dim_customers follows it
    chosen = validation.loc[validation.is_chosen].iloc[0]
    assert chosen.algorithm in {"kmeans", "hierarchical"}
    assert chosen.note.startswith("chosen: ")
    column = f"{chosen.algorithm}_segment_id"
    assert (dim.segment_id == dim[column]).all()
    candidates = query(warehouse, "select * from marts.kmeans_candidates")
    assert candidates.agreement.between(-1, 1).all()
    assert candidates.hierarchical_silhouette.notna().all()
    # the segmentation used only the var's features; nothing demographic
    used = query(
        warehouse,
        "select feature from marts.preprocessing_parameters where model_name = 'segmentation'",
    ).feature.tolist()
    assert "age" not in used and "monetary" in used


def test_demo_segments_recover_the_planted_personas(demo):
    _, _, warehouse = demo
    dim = query(warehouse, "select customer_id, segment_id from marts.dim_customers")
    # Issue 12 item 4: a new user's first look shows groups that are really there. The
    # demo plants no outliers; never-buyers (browser) have no row in dim_customers.
    truth = dim.customer_id.map(planted_personas(CUSTOMERS, SEED))
    assert truth.notna().all()
    assert set(truth) == {p.name for p in PERSONAS if p.max_orders != 0}
    assert adjusted_rand_score(truth, dim.segment_id) >= 0.9
    assert dim.segment_id.nunique() == truth.nunique()
    linkage = query(warehouse, "select * from marts.hierarchy_linkage order by step")
    assert linkage.distance.is_monotonic_increasing and linkage.n_members.iloc[-1] == len(dim)


def test_high_value_model_is_trained_and_scores_everyone(demo):
    _, _, warehouse = demo
    dim = query(
        warehouse, "select high_value_probability, is_predicted_high_value from marts.dim_customers"
    )
    assert dim.high_value_probability.between(0, 1).all()
    metrics = query(warehouse, "select * from marts.high_value_model_metrics").set_index("fold")
    # The generator plants behaviour that predicts future spend: the model must find it.
    assert metrics.loc["mean", "roc_auc"] > 0.75
    assert {"1", "2", "3", "4", "5", "mean", "std", "holdout"} <= set(metrics.index)
    roc = query(warehouse, "select * from marts.high_value_roc_curve order by fpr, tpr")
    assert roc.fpr.iloc[0] == 0 and roc.tpr.iloc[-1] == 1 and len(roc) > 10
    importances = query(warehouse, "select * from marts.feature_importances order by rank")
    assert importances["rank"].tolist() == list(range(1, len(importances) + 1))


def test_reports_and_dashboard_render_from_the_real_warehouse(demo, tmp_path, browser_check):
    from customer_chunks.reporting import build_reports

    _, _, warehouse = demo
    paths = build_reports(warehouse, tmp_path / "reports")
    shots = Path(__file__).resolve().parents[1] / "output" / "screenshots"
    for name in ("segmentation_report_html", "dashboard_html"):
        result = browser_check(paths[name], shots / f"demo_{name}.png")
        assert result["ok"], result["problems"]
        assert result["plots"] or result["images"]
    assert paths["segmentation_report_pdf"].read_bytes()[:4] == b"%PDF"
    # Every mart is filled here, so no section may fall back to "not available".
    assert ": not available.</strong>" not in paths["segmentation_report_html"].read_text()
