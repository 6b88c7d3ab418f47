"""Fit BG/NBD and Gamma-Gamma on the calibration summary: one row per model and parameter."""

from customer_chunks.ml.clv import fit_clv_models
from customer_chunks.ml.settings import optional, required
from customer_chunks.ml_tables import log


def model(dbt, session):
    dbt.config(materialized="table")
    summary = dbt.ref("int_customers_clv_summary_by_snapshot")
    return fit_clv_models(
        summary.filter("snapshot_name = 'calibration'").df(),
        sample_size=optional("clv_fit_sample_size", dbt.config.get("clv_fit_sample_size"), int),
        random_state=required("random_state", dbt.config.get("random_state"), int),
        log=log,
    )
