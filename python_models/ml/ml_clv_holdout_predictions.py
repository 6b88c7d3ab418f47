"""Expected purchases in the hold-out for each calibration customer (for validation)."""

from customer_chunks.ml.clv import predict_holdout
from customer_chunks.ml_tables import log


def model(dbt, session):
    dbt.config(materialized="table")
    summary = dbt.ref("int_customers_clv_summary_by_snapshot")
    periods = dbt.ref("int_clv_periods").df().iloc[0]
    return predict_holdout(
        summary.filter("snapshot_name = 'calibration'").df(),
        dbt.ref("ml_clv_parameters").df(),
        holdout=max(periods["holdout_days"], 0) / periods["time_unit_days"],
        log=log,
    )
