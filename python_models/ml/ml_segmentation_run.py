"""Fit K-Means (k chosen over a range), Ward hierarchy, DBSCAN and PCA once and keep
every output, one column each; the marts read them (see README.md beside this file).
The extra numeric columns of a customer_features input join the features by name.
Then match the segments to the last published run's (stable ids) and measure drift
against its reference (customer_chunks.ml.lifecycle)."""

from customer_chunks.ml.lifecycle import run_segmentation_over_time
from customer_chunks.ml.settings import SegmentationSettings, required
from customer_chunks.ml_tables import current_features, log, pack


def model(dbt, session):
    dbt.config(materialized="table")
    history = dbt.ref("stg_history__customer_segment_history").df()
    current = history.loc[history["valid_to_run_id"].isna()]
    # dbt hands a Python model only the config keys it calls get() on, written out
    settings = SegmentationSettings.from_config(
        {
            "segmentation_features": dbt.config.get("segmentation_features"),
            "k_min": dbt.config.get("k_min"),
            "k_max": dbt.config.get("k_max"),
            "force_k": dbt.config.get("force_k"),
            "recommended_algorithm": dbt.config.get("recommended_algorithm"),
            "ml_sample_size": dbt.config.get("ml_sample_size"),
            "ml_bootstrap_resamples": dbt.config.get("ml_bootstrap_resamples"),
            "random_state": dbt.config.get("random_state"),
        }
    )
    frames = run_segmentation_over_time(
        current_features(
            dbt.ref("int_customer_features_by_snapshot"),
            dbt.ref("stg_customer_data__customer_extra_features"),
        ),
        settings,
        max_distance=required(
            "segment_match_max_distance", dbt.config.get("segment_match_max_distance"), float
        ),
        refit=required("refit", dbt.config.get("refit"), str),
        previous_centroids=dbt.ref("stg_history__segment_centroids").df(),
        previous_reference=dbt.ref("stg_history__feature_reference").df(),
        previous_counts=current["segment_id"].value_counts(),
        max_id_ever=int(history["segment_id"].max()) if len(history) else 0,
        log=log,
    )
    return pack(frames)
