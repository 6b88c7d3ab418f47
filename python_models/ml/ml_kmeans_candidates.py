"""The `kmeans_candidates` output of ml_segmentation_run (see customer_chunks.ml_tables)."""

from customer_chunks.ml_tables import unpack


def model(dbt, session):
    dbt.config(materialized="table")
    return unpack(dbt.ref("ml_segmentation_run"), "kmeans_candidates")
