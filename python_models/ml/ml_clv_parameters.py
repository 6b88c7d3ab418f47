"""Fit BG/NBD and Gamma-Gamma on the calibration summary: one row per model and parameter."""

from customer_chunks.ml.clv import fit_clv_models
from customer_chunks.ml_tables import config_value, log


def model(dbt, session):
    dbt.config(materialized="table")
    summary = dbt.ref("int_customers_clv_summary_by_snapshot")
    return fit_clv_models(
        summary.filter("snapshot_name = 'calibration'").df(),
        sample_size=config_value(dbt, "clv_fit_sample_size", int),
        random_state=config_value(dbt, "random_state", int),
        log=log,
    )
