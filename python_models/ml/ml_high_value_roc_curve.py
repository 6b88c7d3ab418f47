"""The `roc_curve` output of ml_high_value_run (see customer_chunks.ml_tables)."""

from customer_chunks.ml_tables import unpack


def model(dbt, session):
    dbt.config(materialized="table")
    return unpack(dbt.ref("ml_high_value_run"), "roc_curve")
