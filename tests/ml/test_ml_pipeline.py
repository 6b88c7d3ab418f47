from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from customer_chunks.ml.exceptions import SegmentationError
from customer_chunks.ml.features import FEATURE_COLUMNS
from customer_chunks.ml.pipeline import (
    SCORE_OUTPUT_COLUMNS,
    SEGMENT_COLUMNS,
    VALIDATION_COLUMNS,
    run_high_value,
    run_segmentation,
)

from ml_helpers import (
    high_value_settings,
    planted_groups,
    segmentation_settings,
)
from synthetic import make_customer_features

FAST = segmentation_settings(ml_sample_size=300, ml_bootstrap_resamples=3)
SMALL_BOOTSTRAP = {"bootstrap_sample_size": 200}  # passed with FAST: a tuning argument
DEFAULT = segmentation_settings()
OUTPUT_KEYS = {
    "customer_segments",
    "preprocessing",
    "kmeans_candidates",
    "model_validation",
    "segment_profiles",
    "pca_explained_variance",
    "pca_loadings",
    "hierarchy_linkage",
}


def joined(outputs: dict, planted: pd.DataFrame) -> pd.DataFrame:
    return outputs["customer_segments"].merge(planted, on="customer_id", validate="1:1")


def test_planted_groups_are_recovered_and_ordered(planted, recorder) -> None:
    outputs = run_segmentation(planted, FAST, log=recorder, **SMALL_BOOTSTRAP)
    assert set(outputs) == OUTPUT_KEYS
    candidates = outputs["kmeans_candidates"]
    assert candidates.loc[candidates["is_chosen"], "k"].tolist() == [4]
    segments = joined(outputs, planted)
    assert list(outputs["customer_segments"].columns) == SEGMENT_COLUMNS
    assert outputs["customer_segments"]["customer_id"].is_monotonic_increasing
    for column in ("kmeans_segment_id", "hierarchical_segment_id"):
        assert adjusted_rand_score(segments["true_group"], segments[column]) >= 0.95
    kept = ~segments["is_outlier"]
    assert kept.mean() > 0.95
    dbscan_ari = adjusted_rand_score(
        segments.loc[kept, "true_group"], segments.loc[kept, "dbscan_cluster_id"]
    )
    assert dbscan_ari >= 0.95
    # group g has monetary ~ 1000 * (4 - g): segment 1 is group 0, and so on
    assert (segments["kmeans_segment_id"] == segments["true_group"] + 1).all()
    chosen_column = {"kmeans": "kmeans_segment_id", "hierarchical": "hierarchical_segment_id"}
    recommended = outputs["model_validation"].loc[lambda v: v["is_chosen"], "algorithm"].item()
    assert (segments["segment_id"] == segments[chosen_column[recommended]]).all()
    validation = outputs["model_validation"]
    assert list(validation.columns) == VALIDATION_COLUMNS
    assert validation["algorithm"].tolist() == ["kmeans", "hierarchical", "dbscan"]
    # auto: K-Means or Ward, whichever separates better; the reason is in the note
    assert validation["is_chosen"].sum() == 1
    chosen = validation.loc[validation["is_chosen"]].iloc[0]
    assert chosen["algorithm"] in {"kmeans", "hierarchical"}
    assert chosen["note"].startswith("chosen: silhouette")
    assert "K-Means and Ward agree" in chosen["note"]
    assert candidates.loc[candidates["is_chosen"], "agreement"].item() >= 0.95
    assert (validation["n_clusters"] == 4).all()
    assert (validation["stability"] > 0.9).all()
    assert (validation["silhouette"] > 0.8).all()
    assert json.loads(validation["parameters"].iloc[0])["k"] == 4
    profiles = outputs["segment_profiles"]
    kmeans_profiles = profiles[profiles["algorithm"] == recommended]
    assert kmeans_profiles["mean_monetary"].is_monotonic_decreasing
    names = dict(zip(kmeans_profiles["segment_id"], kmeans_profiles["segment_name"], strict=True))
    assert segments["segment_name"].map(lambda name: name in names.values()).all()
    assert (segments["segment_name"] == segments["segment_id"].map(names)).all()
    assert len(outputs["pca_explained_variance"]) == 3
    assert np.isfinite(segments[["pca_1", "pca_2", "pca_3"]].to_numpy()).all()
    assert outputs["hierarchy_linkage"]["n_members"].max() == len(planted)
    log = recorder.text()
    assert "k search (K-Means and Ward at each k): 600 rows, done in" in log
    assert "dbscan fit: 600 rows, done in" in log


def test_recommended_dbscan_names_outliers(planted) -> None:
    far = planted.head(3).copy()
    far["customer_id"] = ["Z1", "Z2", "Z3"]
    far["recency_days"] = [5000.0, -4000.0, 9000.0]
    data = pd.concat([planted, far], ignore_index=True)
    outputs = run_segmentation(
        data,
        replace(FAST, recommended_algorithm="dbscan"),
        log=lambda _: None,
        **SMALL_BOOTSTRAP,
    )
    segments = outputs["customer_segments"].set_index("customer_id")
    assert segments.loc[["Z1", "Z2", "Z3"], "is_outlier"].all()
    assert (segments.loc[["Z1", "Z2", "Z3"], "segment_name"] == "Outliers").all()
    assert (segments.loc[["Z1", "Z2", "Z3"], "segment_id"] == -1).all()
    validation = outputs["model_validation"].set_index("algorithm")
    assert bool(validation.loc["dbscan", "is_chosen"])


def test_row_order_does_not_change_any_output() -> None:
    table = make_customer_features(500, random_state=3).drop(columns=["true_group"])
    settings = segmentation_settings(ml_sample_size=150, ml_bootstrap_resamples=2)
    first = run_segmentation(table, settings, bootstrap_sample_size=100, log=lambda _: None)
    shuffled = table.sample(frac=1.0, random_state=11).reset_index(drop=True)
    second = run_segmentation(shuffled, settings, bootstrap_sample_size=100, log=lambda _: None)
    for key in OUTPUT_KEYS:
        pd.testing.assert_frame_equal(first[key], second[key], check_exact=True, obj=key)
    # the sampled paths were used: fewer rows sampled than customers
    assert (first["kmeans_candidates"]["fit_sample_size"] == 150).all()


def test_force_k_and_hierarchical_clusters(planted) -> None:
    outputs = run_segmentation(
        planted,
        replace(FAST, force_k=3),
        hierarchical_clusters=2,
        log=lambda _: None,
        **SMALL_BOOTSTRAP,
    )
    segments = outputs["customer_segments"]
    assert segments["kmeans_segment_id"].nunique() == 3
    assert segments["hierarchical_segment_id"].nunique() == 2
    assert outputs["kmeans_candidates"].loc[lambda c: c["is_chosen"], "k"].item() == 3


def test_one_customer_falls_back_to_one_segment(recorder) -> None:
    one = make_customer_features(1).drop(columns=["horizon_spend", "true_group"])
    outputs = run_segmentation(one, DEFAULT, log=recorder)
    segments = outputs["customer_segments"]
    assert len(segments) == 1
    row = segments.iloc[0]
    assert row["kmeans_segment_id"] == row["hierarchical_segment_id"] == 1
    assert row["dbscan_cluster_id"] == 1 and not row["is_outlier"]
    assert row["segment_id"] == 1 and isinstance(row["segment_name"], str)
    assert np.isnan(row["pca_1"])
    assert "no usable feature" in recorder.text()
    assert "fallback: every customer in segment 1" in recorder.text()
    assert outputs["model_validation"]["note"].str.contains("no usable feature").all()
    assert len(outputs["segment_profiles"]) == 3


def test_fewer_customers_than_clusters(recorder) -> None:
    few = planted_groups(8, random_state=2).drop(columns=["true_group"]).head(3)
    outputs = run_segmentation(few, replace(DEFAULT, k_min=2, k_max=10), log=recorder)
    segments = outputs["customer_segments"]
    assert len(segments) == 3
    assert outputs["kmeans_candidates"]["k"].max() <= 3
    assert segments["kmeans_segment_id"].between(1, 3).all()
    assert segments["hierarchical_segment_id"].between(1, 3).all()
    assert (segments["dbscan_cluster_id"] == 1).all() and not segments["is_outlier"].any()
    text = recorder.text()
    assert "k range clamped" in text
    assert "dbscan: not run on 3 customers" in text
    note = outputs["model_validation"].set_index("algorithm").loc["dbscan", "note"]
    assert "not run" in note


def test_two_identical_customers(recorder) -> None:
    twins = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "monetary": [5.0, 5.0, 7.0], "recency_days": 3.0}
    )
    outputs = run_segmentation(twins, DEFAULT, log=recorder)
    assert outputs["customer_segments"]["kmeans_segment_id"].tolist() == [2, 2, 1]
    assert "feature recency_days not used (constant)" in recorder.text()


def test_constant_and_null_features_are_dropped_and_logged(planted, recorder) -> None:
    data = planted.assign(age=np.nan, frequency=2.0, email_open_rate=None)
    every_feature = replace(FAST, segmentation_features=FEATURE_COLUMNS)
    outputs = run_segmentation(data, every_feature, log=recorder, **SMALL_BOOTSTRAP)
    reasons = outputs["preprocessing"].set_index("feature")["drop_reason"]
    assert reasons["age"] == "all_null"
    assert reasons["frequency"] == "constant"
    assert reasons["email_open_rate"] == "all_null"
    assert reasons["web_sessions_90d"] == "missing_column"
    assert pd.isna(reasons["recency_days"])
    assert "feature frequency not used (constant)" in recorder.text()
    segments = joined(outputs, planted)
    assert adjusted_rand_score(segments["true_group"], segments["kmeans_segment_id"]) >= 0.95


def test_no_customers_returns_empty_tables(recorder) -> None:
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=str), "monetary": []})
    outputs = run_segmentation(empty, DEFAULT, log=recorder)
    assert outputs["customer_segments"].empty
    assert list(outputs["customer_segments"].columns) == SEGMENT_COLUMNS
    assert (outputs["model_validation"]["n_clusters"] == 0).all()


def test_broken_keys_raise() -> None:
    with pytest.raises(SegmentationError, match="duplicate customer_id"):
        run_segmentation(pd.DataFrame({"customer_id": ["a", "a"], "monetary": [1.0, 2.0]}), DEFAULT)
    with pytest.raises(SegmentationError, match="no customer_id"):
        run_segmentation(pd.DataFrame({"monetary": [1.0]}), DEFAULT)


def high_value_tables(n: int = 1500) -> tuple[pd.DataFrame, pd.DataFrame]:
    training = make_customer_features(n, random_state=0).drop(columns=["true_group"])
    scoring = make_customer_features(n // 2, random_state=1).drop(
        columns=["true_group", "horizon_spend"]
    )
    return training, scoring


def test_high_value_model_end_to_end(recorder) -> None:
    training, scoring = high_value_tables()
    outputs = run_high_value(
        training, scoring, high_value_settings(high_value_trees=40), log=recorder
    )
    scores = outputs["scores"]
    assert list(scores.columns) == SCORE_OUTPUT_COLUMNS
    assert len(scores) == len(scoring)
    assert scores["high_value_probability"].between(0, 1).all()
    assert 0.1 < scores["is_predicted_high_value"].mean() < 0.3
    metrics = outputs["metrics"].set_index("fold")
    assert metrics.index.tolist() == ["1", "2", "3", "4", "5", "mean", "std", "holdout"]
    assert metrics.loc["mean", "roc_auc"] > 0.8
    assert metrics.loc["holdout", "roc_auc"] > 0.8
    assert metrics["positive_count"].iloc[0] == 300
    assert "top 20%" in metrics["label_definition"].iloc[0]
    importances = outputs["feature_importances"]
    assert importances["rank"].iloc[0] == 1 and len(importances) >= 15
    assert "high-value cross-validation: 1,500 rows, done in" in recorder.text()


def test_high_value_is_independent_of_row_order() -> None:
    training, scoring = high_value_tables(600)
    fast = high_value_settings(high_value_trees=20)
    first = run_high_value(training, scoring, fast, log=lambda _: None)
    second = run_high_value(
        training.sample(frac=1.0, random_state=4),
        scoring.sample(frac=1.0, random_state=5),
        fast,
        log=lambda _: None,
    )
    for key in ("scores", "metrics", "feature_importances"):
        pd.testing.assert_frame_equal(first[key], second[key], check_exact=True, obj=key)


def test_no_purchase_in_horizon_gives_null_scores(recorder) -> None:
    training, scoring = high_value_tables(200)
    training["horizon_spend"] = 0.0
    outputs = run_high_value(training, scoring, high_value_settings(), log=recorder)
    scores = outputs["scores"]
    assert len(scores) == len(scoring)
    assert scores["high_value_probability"].isna().all()
    assert scores["is_predicted_high_value"].isna().all()
    metrics = outputs["metrics"]
    assert metrics["fold"].tolist() == ["none"]
    assert metrics["positive_count"].item() == 0
    assert "no positive label" in metrics["note"].item()
    assert outputs["feature_importances"].empty
    assert "fallback: no model, null probabilities" in recorder.text()


def test_few_buyers_lower_the_folds(recorder) -> None:
    training, scoring = high_value_tables(200)
    training["horizon_spend"] = 0.0
    training.loc[training.index[:3], "horizon_spend"] = [10.0, 20.0, 30.0]
    outputs = run_high_value(
        training, scoring, high_value_settings(high_value_trees=20), log=recorder
    )
    metrics = outputs["metrics"]
    assert metrics["fold"].tolist() == ["1", "2", "3", "mean", "std", "holdout"]
    assert "folds lowered from 5 to 3" in metrics["note"].iloc[0]
    assert outputs["scores"]["high_value_probability"].notna().all()


def test_one_training_buyer_falls_back(recorder) -> None:
    training, scoring = high_value_tables(50)
    training["horizon_spend"] = 0.0
    training.loc[training.index[0], "horizon_spend"] = 5.0
    outputs = run_high_value(training, scoring, high_value_settings(), log=recorder)
    assert outputs["scores"]["high_value_probability"].isna().all()
    assert "need at least 2" in outputs["metrics"]["note"].item()
