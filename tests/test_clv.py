"""Customer lifetime value end to end: the CDNOW sample through the normal input path
(examples/cdnow_sample.yml) reproduces the published summary and fits, and awkward data
leaves the CLV columns null with a NOTE while every mart is still published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customer_chunks import sources
from customer_chunks.run import run

from support import ROOT, SHARED_DATA, query

pytestmark = pytest.mark.e2e

CDNOW = SHARED_DATA / "cdnow_sample"
CLV_MARTS = [
    "clv_model_parameters",
    "customer_lifetime_value",
    "clv_validation_by_frequency",
    "clv_validation_metrics",
]
CLV_COLUMNS = [
    "probability_alive",
    "expected_purchases",
    "expected_average_spend",
    "lifetime_value",
]
# Fader, Hardie & Lee (2005); Fader & Hardie (2013): ../shared/data/cdnow_sample/SOURCE.md
PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}


@pytest.fixture(scope="module")
def cdnow_warehouse(tmp_path_factory) -> Path:
    if not (CDNOW / "CDNOW_sample.txt").exists():
        pytest.skip(
            f"CDNOW sample not found in {CDNOW}: these tests need ../shared/data beside the "
            "checkout (see README, Tests)."
        )
    path = tmp_path_factory.mktemp("cdnow") / "w.duckdb"
    # The normal input path, as a user would run it. The 21 same-day repeats of
    # identical lines are real purchases: with no order id the default duplicate rule
    # (quarantine_duplicates: auto) stages them.
    subprocess.run(
        [
            str(Path(sys.executable).with_name("customer-chunks")),
            "run",
            "--source",
            str(ROOT / "examples" / "cdnow_sample.yml"),
            "--warehouse",
            str(path),
            "--var",
            "clv_calibration_end=1997-09-30",
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return path


@pytest.mark.shared_data
def test_cdnow_summary_equals_the_published_summary_for_every_customer(cdnow_warehouse):
    expected = pd.read_csv(
        CDNOW / "cdnow_customers_summary_with_transactions.csv", dtype={"ID": str}
    ).set_index("ID")
    got = query(
        cdnow_warehouse,
        """select customer_id, repeat_purchase_days, recency_time, age_time, mean_repeat_spend
        from intermediate.int_customers_clv_summary_by_snapshot
        where snapshot_name = 'calibration'""",
    ).set_index("customer_id")
    assert len(got) == 2_357
    assert sorted(got.index) == sorted(expected.index)
    got = got.loc[expected.index]
    np.testing.assert_array_equal(got.repeat_purchase_days.to_numpy(), expected.x.to_numpy())
    np.testing.assert_array_equal(got.recency_time.round(2).to_numpy(), expected.t_x.to_numpy())
    np.testing.assert_array_equal(got.age_time.round(2).to_numpy(), expected["T"].to_numpy())
    repeat = expected.x > 0
    assert got.mean_repeat_spend[~repeat].isna().all()
    np.testing.assert_allclose(
        got.mean_repeat_spend[repeat].to_numpy(), expected.zbar[repeat].to_numpy(), atol=0.005
    )


@pytest.mark.shared_data
def test_cdnow_fit_reproduces_the_published_parameters(cdnow_warehouse):
    params = query(cdnow_warehouse, "select * from marts.clv_model_parameters")
    assert params.is_converged.all() and params.note.isna().all()
    estimates = params.set_index("parameter").estimate
    for name, value in PUBLISHED.items():
        assert estimates[name] == pytest.approx(value, rel=0.01), name
    by_model = params.groupby("model").first()
    assert by_model.log_likelihood["bg_nbd"] == pytest.approx(-9582.4, abs=0.1)
    assert by_model.n_customers["bg_nbd"] == 2_357
    assert by_model.n_customers["gamma_gamma"] == 946


@pytest.mark.shared_data
def test_cdnow_scores_and_validation(cdnow_warehouse):
    accounting = query(
        cdnow_warehouse,
        "select rows_read, rows_staged from marts.row_accounting where table_name = 'transactions'",
    )
    assert accounting.rows_read.tolist() == [6_919] and accounting.rows_staged.tolist() == [6_919]
    clv = query(cdnow_warehouse, "select * from marts.customer_lifetime_value")
    assert len(clv) == 2_357
    assert clv[CLV_COLUMNS].notna().all().all()
    assert clv.probability_alive.between(0, 1).all() and (clv.lifetime_value >= 0).all()
    # dim_customers holds the customers with a priced purchase line: the 8 whose only
    # order was a $0.00 CD are in customer_lifetime_value only.
    dim = query(
        cdnow_warehouse, f"select customer_id, {', '.join(CLV_COLUMNS)} from marts.dim_customers"
    )
    assert len(dim) == 2_349
    merged = dim.merge(clv, on="customer_id", suffixes=("", "_clv"))
    for column in CLV_COLUMNS:
        np.testing.assert_allclose(merged[column], merged[f"{column}_clv"])
    buckets = query(
        cdnow_warehouse, "select * from marts.clv_validation_by_frequency order by frequency_bucket"
    )
    assert buckets.frequency_bucket.tolist() == list(range(8))
    assert buckets.customers.sum() == 2_357
    # The classic plot: predictions follow the actual hold-out purchases upwards.
    assert buckets.mean_predicted_purchases.is_monotonic_increasing
    assert buckets.mean_actual_purchases.iloc[-1] > 5 * buckets.mean_actual_purchases.iloc[0]
    metrics = query(cdnow_warehouse, "select * from marts.clv_validation_metrics").iloc[0]
    assert metrics.holdout_days == 273 and metrics.customers_predicted == 2_357
    assert 0.5 < metrics.correlation < 1 and 0 < metrics.mean_absolute_error < 1.5


HEADER = "order_id,customer_id,ordered_at,product_id,category,quantity,unit_price\n"


def build(tmp_path: Path, lines: list[str], extra_vars: dict) -> tuple[Path, list[str]]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "transactions.csv").write_text(HEADER + "".join(line + "\n" for line in lines))
    messages: list[str] = []
    warehouse = tmp_path / "w.duckdb"
    run(
        sources.from_data_dir(data), warehouse=warehouse, extra_vars=extra_vars, log=messages.append
    )
    return warehouse, messages


@pytest.mark.parametrize(
    ("lines", "calibration_end", "reason"),
    [
        pytest.param(
            [f"o{d},solo,2024-01-{d:02d} 10:00:00,p,x,1,5.0" for d in (1, 5, 20)],
            "2024-01-10",
            "did not converge",
            id="single customer",
        ),
        pytest.param(
            [f"o{i},c{i},2023-0{i}-01 10:00:00,p,x,1,{i}.0" for i in range(1, 8)],
            "2023-06-15",
            "no customer made a repeat purchase",
            id="no repeat buyers",
        ),
        pytest.param(
            [f"o{i},c{i % 4},2024-03-01 1{i}:00:00,p,x,1,{i}.0" for i in range(8)],
            "2024-03-01",
            "no customer made a repeat purchase",
            id="all purchases on one day",
        ),
        pytest.param(
            ["o1,a,2024-03-01 10:00:00,p,x,1,5.0", "o2,b,2024-03-02 10:00:00,p,x,1,5.0"],
            None,
            "no customer with a purchase before the calibration end",
            id="calibration end before every purchase",
        ),
    ],
)
def test_awkward_data_leaves_clv_null_and_publishes_every_mart(
    tmp_path, lines, calibration_end, reason
):
    extra = {"clv_calibration_end": calibration_end} if calibration_end else {}
    warehouse, messages = build(tmp_path, lines, extra)
    for mart in CLV_MARTS:
        query(warehouse, f"select * from marts.{mart}")  # published, even if empty
    params = query(warehouse, "select * from marts.clv_model_parameters")
    bg_nbd = params[params.model == "bg_nbd"]
    assert len(bg_nbd) == 4 and not bg_nbd.is_converged.any()
    assert bg_nbd.note.str.contains(reason).all(), bg_nbd.note.tolist()
    dim = query(warehouse, f"select {', '.join(CLV_COLUMNS)} from marts.dim_customers")
    assert len(dim) > 0 and dim.isna().all().all()
    assert any("NOTE: CLV bg_nbd" in m for m in messages)
