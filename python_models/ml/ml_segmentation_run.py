"""Fit K-Means (k chosen over a range), Ward hierarchy, DBSCAN and PCA once and keep
every output, one column each; the marts read them (see README.md beside this file)."""

from customer_chunks.ml.pipeline import run_segmentation
from customer_chunks.ml.settings import optional, required
from customer_chunks.ml_tables import current_features, log, pack


def model(dbt, session):
    dbt.config(materialized="table")
    frames = run_segmentation(
        current_features(dbt.ref("int_customer_features_by_snapshot")),
        segmentation_features=required(
            "segmentation_features", dbt.config.get("segmentation_features"), list
        ),
        k_min=required("k_min", dbt.config.get("k_min"), int),
        k_max=required("k_max", dbt.config.get("k_max"), int),
        force_k=optional("force_k", dbt.config.get("force_k"), int),
        recommended=required("recommended_algorithm", dbt.config.get("recommended_algorithm"), str),
        sample_size=required("ml_sample_size", dbt.config.get("ml_sample_size"), int),
        n_bootstrap=required(
            "ml_bootstrap_resamples", dbt.config.get("ml_bootstrap_resamples"), int
        ),
        random_state=required("random_state", dbt.config.get("random_state"), int),
        log=log,
    )
    return pack(frames)
