"""Fit K-Means (k chosen over a range), Ward hierarchy, DBSCAN and PCA once and keep
every output, one column each; the marts read them (see README.md beside this file)."""

from customer_chunks.ml.pipeline import run_segmentation
from customer_chunks.ml_tables import config_value, current_features, log, pack


def model(dbt, session):
    dbt.config(materialized="table")
    frames = run_segmentation(
        current_features(dbt.ref("int_customer_features_by_snapshot")),
        k_min=config_value(dbt, "k_min", int, 2),
        k_max=config_value(dbt, "k_max", int, 10),
        force_k=config_value(dbt, "force_k", int),
        recommended=config_value(dbt, "recommended_algorithm", str, "kmeans"),
        sample_size=config_value(dbt, "ml_sample_size", int, 20_000),
        n_bootstrap=config_value(dbt, "ml_bootstrap_resamples", int, 6),
        random_state=config_value(dbt, "random_state", int, 0),
        log=log,
    )
    return pack(frames)
