"""The ML step on Spark (customer_chunks.spark_score): fitted on the driver, assigned in
the executors with mapInPandas, the segments equal the DuckDB path's (run_segmentation)
for the same fit. Needs pyspark and Java 17 (pip install -e '.[engines]'); slow: the JVM
start alone takes ~30 s."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

from customer_chunks.ml.pipeline import run_segmentation
from customer_chunks.spark_score import Segmenter, assign_in_spark, fit_segmenter

from ml_helpers import segmentation_settings
from synthetic import make_customer_features

K = 4
SEED = 0


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[engines]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java: Spark needs a JDK 17 on PATH or in JAVA_HOME")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    scratch = tmp_path_factory.mktemp("spark_score")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("customer-chunks-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(scratch / "tables"))
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_segments_equal_the_duckdb_path_for_the_same_fit(spark):
    features = make_customer_features(1500, random_state=SEED).drop(columns=["true_group"])
    settings = segmentation_settings(
        k_min=2,
        k_max=6,
        force_k=K,
        ml_sample_size=20_000,
        ml_bootstrap_resamples=2,
        random_state=SEED,
    )
    expected = run_segmentation(features, settings, log=lambda _message: None)["customer_segments"]
    segmenter = fit_segmenter(
        features,
        segmentation_features=settings.segmentation_features,
        k_min=2,
        k_max=6,
        force_k=K,
        sample_size=20_000,
        random_state=SEED,
    )
    # several partitions, so the broadcast model is used by more than one task
    frame = spark.createDataFrame(features).repartition(3)
    scored = assign_in_spark(frame, segmenter).toPandas()
    scored = scored.sort_values("customer_id").reset_index(drop=True)
    assert len(scored) == len(features)
    assert scored["customer_id"].tolist() == expected["customer_id"].tolist()
    assert np.array_equal(
        scored["kmeans_segment_id"].to_numpy(), expected["kmeans_segment_id"].to_numpy()
    )
    assert scored["kmeans_segment_id"].nunique() == K


def test_segmenter_orders_segments_by_mean_monetary():
    """Segment 1 has the highest mean monetary (no Spark needed)."""
    features = make_customer_features(800, random_state=1).drop(columns=["true_group"])
    segmenter = fit_segmenter(
        features,
        segmentation_features=segmentation_settings().segmentation_features,
        k_min=2,
        k_max=5,
        force_k=3,
        sample_size=20_000,
        random_state=SEED,
    )
    assert isinstance(segmenter, Segmenter)
    assigned = segmenter.assign(features)
    means = (
        features.assign(segment=assigned["kmeans_segment_id"].to_numpy())
        .groupby("segment")["monetary"]
        .mean()
    )
    assert list(means.index) == [1, 2, 3]
    assert means.is_monotonic_decreasing


@pytest.mark.slow
def test_spark_score_reads_the_feature_table_and_writes_every_current_customer(spark):
    """score(): the current snapshot only, fitted on a sample, every customer written."""
    from customer_chunks.spark_score import score

    features = make_customer_features(600, random_state=2).drop(columns=["true_group"])
    current = features.assign(snapshot_name="current")
    training = features.head(50).assign(snapshot_name="training")
    spark.sql("create database if not exists intermediate")
    spark.sql("create database if not exists ml")
    spark.createDataFrame(pd.concat([current, training], ignore_index=True)).write.mode(
        "overwrite"
    ).saveAsTable("intermediate.features_for_score")
    n = score(
        spark,
        features_table="intermediate.features_for_score",
        output_table="ml.spark_customer_segments",
        segmentation_features=segmentation_settings().segmentation_features,
        k_min=2,
        k_max=4,
        force_k=3,
        sample_size=300,
        random_state=SEED,
    )
    written = spark.table("ml.spark_customer_segments").toPandas()
    assert n == len(features) == len(written)
    assert set(written["customer_id"]) == set(features["customer_id"])
    assert set(written["kmeans_segment_id"]) == {1, 2, 3}
