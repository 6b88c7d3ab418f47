"""End to end on UCI Online Retail (541,909 real order lines), checked independently.

The independent computation is plain pandas over the CSV, applying the rules the
dbt YAML documents: lines need a customer; exact repeats of a line (every mapped
column equal) are quarantined; a purchase line has quantity > 0 and price > 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_chunks import sources
from customer_chunks.run import run

from support import ROOT, query

pytestmark = [pytest.mark.e2e, pytest.mark.shared_data]

MAPPED = ["InvoiceNo", "CustomerID", "InvoiceDate", "StockCode", "Quantity", "UnitPrice"]


@pytest.fixture(scope="module")
def warehouse(online_retail_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("online_retail") / "w.duckdb"
    run(
        sources.from_source_file(ROOT / "examples" / "online_retail.yml"),
        warehouse=path,
        log=lambda m: None,
    )
    return path


@pytest.fixture(scope="module")
def lines(online_retail_path) -> pd.DataFrame:
    return pd.read_csv(
        online_retail_path,
        dtype={"InvoiceNo": str, "StockCode": str, "Description": str, "Country": str},
        keep_default_na=False,
        na_values={"CustomerID": [""]},
    )


def test_source_figures_reproduce(lines):
    # SOURCE.md's published figures, to make sure the independent reading is right.
    assert len(lines) == 541_909
    clean = lines[lines.CustomerID.notna() & (lines.Quantity > 0) & (lines.UnitPrice > 0)]
    assert clean.CustomerID.nunique() == 4_338
    assert round((clean.Quantity * clean.UnitPrice).sum(), 2) == 8_911_407.90


def test_customers_revenue_and_frequency_match_independent_computation(warehouse, lines):
    with_customer = lines[lines.CustomerID.notna()]
    deduplicated = with_customer.drop_duplicates(subset=MAPPED, keep="first")
    purchases = deduplicated[(deduplicated.Quantity > 0) & (deduplicated.UnitPrice > 0)]
    expected = (
        purchases.assign(
            revenue=purchases.Quantity * purchases.UnitPrice,
            customer_id=purchases.CustomerID.astype("int64").astype(str),
        )
        .groupby("customer_id")
        .agg(gross_revenue=("revenue", "sum"), frequency=("InvoiceNo", "nunique"))
        .sort_index()
    )
    got = (
        query(warehouse, "select customer_id, gross_revenue, frequency from marts.dim_customers")
        .set_index("customer_id")
        .sort_index()
    )
    assert len(got) == 4_338
    assert list(got.index) == list(expected.index)
    np.testing.assert_allclose(got.gross_revenue, expected.gross_revenue, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(got.frequency.to_numpy(), expected.frequency.to_numpy())
    assert got.frequency.sum() == 18_532
    # The duplicate rule removes repeated lines' revenue: less than the 8,911,407.90 before it.
    assert got.gross_revenue.sum() < 8_911_407.90


def test_row_accounting_balances_and_reasons_match(warehouse, lines):
    acc = query(warehouse, "select * from marts.row_accounting").set_index("table_name")
    assert acc.loc["transactions", "rows_read"] == 541_909
    assert acc.is_balanced.all()
    assert (acc.rows_read == acc.rows_staged + acc.rows_quarantined).all()
    reasons = (
        query(
            warehouse,
            "select quarantine_reason, row_count from marts.quarantine_summary where table_name = 'transactions'",
        )
        .set_index("quarantine_reason")
        .row_count
    )
    assert reasons["missing_customer_id"] == lines.CustomerID.isna().sum() == 135_080
    with_customer = lines[lines.CustomerID.notna()]
    assert reasons["duplicate"] == with_customer.duplicated(subset=MAPPED).sum()


def test_customers_derived_from_transactions_with_one_country_each(warehouse, lines):
    countries = query(warehouse, "select customer_id, country from marts.dim_customers")
    assert countries.country.notna().all()
    first_country = (
        lines[lines.CustomerID.notna()]
        .assign(customer_id=lambda d: d.CustomerID.astype("int64").astype(str))
        .drop_duplicates("customer_id")
        .set_index("customer_id")
        .Country
    )
    merged = countries.set_index("customer_id").join(first_country)
    assert (merged.country == merged.Country).all()


def test_rfm_scores_are_monotone_in_their_metric(warehouse):
    df = query(
        warehouse,
        "select recency_days, frequency, monetary, r_score, f_score, m_score from marts.dim_customers",
    )
    # Equal values share a score, and a higher value never gets a lower F/M (or higher R).
    for metric, score, sign in [
        ("recency_days", "r_score", -1),
        ("frequency", "f_score", 1),
        ("monetary", "m_score", 1),
    ]:
        assert df.groupby(metric)[score].nunique().max() == 1
        ordered = df.sort_values(metric)[score].to_numpy() * sign
        assert (np.diff(ordered) >= 0).all()
    assert set(df.r_score) == {1, 2, 3, 4, 5}


def test_every_ml_table_is_produced(warehouse):
    for table in [
        "kmeans_candidates",
        "model_validation",
        "segment_profiles",
        "pca_components",
        "hierarchy_linkage",
        "high_value_model_metrics",
        "high_value_roc_curve",
        "feature_importances",
        "preprocessing_parameters",
    ]:
        assert query(warehouse, f"select count(*) as n from marts.{table}").n.iloc[0] > 0, table
    dim = query(
        warehouse,
        "select segment_id, segment_name, high_value_probability from marts.dim_customers",
    )
    assert dim.segment_id.notna().all() and dim.segment_name.notna().all()
    # Online Retail has no web or email data: those features are dropped, not imputed.
    used = query(
        warehouse,
        "select feature from marts.preprocessing_parameters where model_name = 'segmentation' and is_used",
    )
    assert "web_sessions_90d" not in set(used.feature) and "monetary" in set(used.feature)
    assert dim.high_value_probability.between(0, 1).all()
