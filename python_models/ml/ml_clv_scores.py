"""Score every customer on their summary up to the day before as_of with the fitted
CLV models: P(alive), expected purchases and CLV over the horizon, expected spend."""

from customer_chunks.ml.clv import score_customers
from customer_chunks.ml.settings import required
from customer_chunks.ml_tables import log


def model(dbt, session):
    dbt.config(materialized="table")
    summary = dbt.ref("int_customers_clv_summary_by_snapshot")
    periods = dbt.ref("int_clv_periods").df().iloc[0]
    return score_customers(
        summary.filter("snapshot_name = 'current'").df(),
        dbt.ref("ml_clv_parameters").df(),
        horizon=periods["horizon_weeks"] * 7 / periods["time_unit_days"],
        discount_rate=required("clv_discount_rate", dbt.config.get("clv_discount_rate"), float),
        unit_days=periods["time_unit_days"],
        log=log,
    )
