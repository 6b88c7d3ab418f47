"""Fit K-Means (k chosen over a range), Ward hierarchy, DBSCAN and PCA once and keep
every output; the ml_* models beside this one each unpack one of them."""

from customer_chunks.ml.pipeline import run_segmentation
from customer_chunks.ml.settings import optional, required
from customer_chunks.ml_tables import current_features, log, pack


def model(dbt, session):
    dbt.config(materialized="table")
    frames = run_segmentation(
        current_features(dbt.ref("int_customer_features_by_snapshot")),
        segmentation_features=required(dbt, "segmentation_features", list),
        k_min=required(dbt, "k_min", int),
        k_max=required(dbt, "k_max", int),
        force_k=optional(dbt, "force_k", int),
        recommended=required(dbt, "recommended_algorithm", str),
        sample_size=required(dbt, "ml_sample_size", int),
        n_bootstrap=required(dbt, "ml_bootstrap_resamples", int),
        random_state=required(dbt, "random_state", int),
        log=log,
    )
    return pack(frames)
