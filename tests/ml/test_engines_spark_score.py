"""The ML step on Spark (customer_chunks.spark_score): fitted on the driver with the DuckDB
path's own fit functions, applied in the executors with mapInPandas. With the same fit
rows its segments, PCA coordinates and high-value scores equal run_segmentation's and
run_high_value's for every customer. Needs pyspark and Java 17
(pip install -e '.[engines]'); slow: the JVM start alone takes ~30 s, so the tests share
one session."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import pytest
import yaml

from customer_chunks.ml.pca import SCORE_COLUMNS
from customer_chunks.ml.pipeline import fit_high_value, run_high_value, run_segmentation
from customer_chunks.spark_score import (
    OUTPUT_COLUMNS,
    CustomerScorer,
    Segmenter,
    assign_in_spark,
    fit_segmenter,
    model_input,
    score,
)

from ml_helpers import high_value_settings, segmentation_settings
from synthetic import make_customer_features

SEED = 0
TOLERANCE = 1e-9
TREES = 20  # a small forest: the comparison, not the model, is under test
PROJECT = Path(__file__).resolve().parents[2]


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


def _tables(n: int, random_state: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(current features, training features with horizon_spend) for ``n`` customers."""
    training = make_customer_features(n, random_state=random_state).drop(columns=["true_group"])
    current = make_customer_features(n, random_state=random_state + 1).drop(
        columns=["true_group", "horizon_spend"]
    )
    return current, training


@pytest.mark.slow
def test_spark_scores_equal_the_python_path_for_the_same_fit(spark):
    """Every customer: the same segment, PCA coordinates and high-value probability (within
    1e-9) and flag as the DuckDB path (run_segmentation, run_high_value) on the same rows."""
    current, training = _tables(1500, SEED)
    settings = segmentation_settings(
        k_min=2,
        k_max=6,
        force_k=None,
        ml_sample_size=20_000,
        ml_bootstrap_resamples=2,
        random_state=SEED,
    )
    quiet = {"log": lambda _message: None}
    expected = run_segmentation(current, settings, **quiet)["customer_segments"]
    hv = high_value_settings(high_value_trees=TREES, random_state=SEED)
    expected_hv = run_high_value(training, current, hv, **quiet)["scores"]

    segmenter = fit_segmenter(
        current,
        segmentation_features=settings.segmentation_features,
        k_min=2,
        k_max=6,
        force_k=None,
        sample_size=20_000,
        random_state=SEED,
    )
    high_value, _ = fit_high_value(training, hv, **quiet)
    # several partitions, so the broadcast model is used by more than one task
    frame = model_input(spark.createDataFrame(current)).repartition(3)
    scored = assign_in_spark(frame, CustomerScorer(segmenter, high_value)).toPandas()
    scored = scored.sort_values("customer_id").reset_index(drop=True)

    assert list(scored.columns) == list(OUTPUT_COLUMNS)
    assert scored["customer_id"].tolist() == expected["customer_id"].tolist()
    assert scored["customer_id"].tolist() == expected_hv["customer_id"].tolist()
    assert np.array_equal(
        scored["kmeans_segment_id"].to_numpy(), expected["kmeans_segment_id"].to_numpy()
    )
    assert scored["kmeans_segment_id"].nunique() >= 2
    for column in SCORE_COLUMNS:
        got, want = scored[column].to_numpy(float), expected[column].to_numpy(float)
        assert np.isnan(got).tolist() == np.isnan(want).tolist(), column
        assert np.nanmax(np.abs(got - want)) <= TOLERANCE, column
    got = scored["high_value_probability"].to_numpy(float)
    want = expected_hv["high_value_probability"].to_numpy(float)
    assert np.isfinite(got).all() and np.max(np.abs(got - want)) <= TOLERANCE
    assert np.array_equal(
        scored["is_predicted_high_value"].to_numpy(bool),
        expected_hv["is_predicted_high_value"].to_numpy(bool),
    )
    assert 0 < scored["is_predicted_high_value"].sum() < len(scored)


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
    assert assigned[SCORE_COLUMNS].notna().all().all()


@pytest.mark.slow
def test_spark_score_reads_the_feature_tables_and_writes_every_current_customer(spark):
    """score(): the current snapshot only, fitted on driver samples, every customer written
    with a segment, PCA coordinates and a high-value probability."""
    current, training = _tables(600, 2)
    spark.sql("create database if not exists intermediate")
    snapshots = pd.concat(
        [
            current.assign(snapshot_name="current"),
            training.drop(columns=["horizon_spend"]).head(50).assign(snapshot_name="training"),
        ],
        ignore_index=True,
    )
    spark.createDataFrame(snapshots).write.mode("overwrite").saveAsTable(
        "intermediate.features_for_score"
    )
    spark.createDataFrame(training).write.mode("overwrite").saveAsTable(
        "intermediate.training_for_score"
    )
    n = score(
        spark,
        features_table="intermediate.features_for_score",
        training_table="intermediate.training_for_score",
        output_table="ml.scores_for_test",
        segmentation_features=segmentation_settings().segmentation_features,
        k_min=2,
        k_max=4,
        force_k=3,
        sample_size=300,
        fit_rows=300,
        random_state=SEED,
        high_value=high_value_settings(
            high_value_top_share=0.2, high_value_trees=TREES, random_state=SEED
        ),
    )
    written = spark.table("ml.scores_for_test").toPandas()
    assert n == len(current) == len(written)
    assert sorted(written["customer_id"]) == sorted(current["customer_id"])
    assert set(written["kmeans_segment_id"]) == {1, 2, 3}
    assert written[[*SCORE_COLUMNS, "high_value_probability"]].notna().all().all()
    assert written["high_value_probability"].between(0, 1).all()


def _columns(path: Path, model: str) -> dict[str, str]:
    """column -> data_type of ``model`` in a YAML file, rendered for the spark target."""
    models = yaml.safe_load(path.read_text())["models"]
    entry = next(m for m in models if m["name"] == model)
    render = jinja2.Environment().from_string
    return {
        c["name"]: render(str(c["data_type"])).render(target={"type": "spark"})
        for c in entry["columns"]
    }


def test_spark_mart_columns_have_dim_customers_types_on_spark():
    """dim_customers_spark is a subset of dim_customers with the same types on Spark, and
    its ML columns are the Spark job's output columns (one home each: a drift fails)."""
    spark_mart = _columns(
        PROJECT / "models/marts/spark/_spark_ml__models.yml", "dim_customers_spark"
    )
    duckdb_mart = _columns(PROJECT / "models/marts/_marts__models.yml", "dim_customers")
    assert {name: duckdb_mart.get(name) for name in spark_mart} == spark_mart
    assert set(OUTPUT_COLUMNS) <= set(spark_mart)
    staged = (PROJECT / "models/staging/spark_ml/stg_spark_ml__customer_scores.sql").read_text()
    for name in OUTPUT_COLUMNS:
        assert f" as {name}" in staged, f"stg_spark_ml__customer_scores does not select {name}"


@pytest.mark.slow
def test_spark_score_without_the_feature_table_says_what_to_build(spark, caplog):
    """A missing table is one error line with the fix, exit status 2, no traceback."""
    from customer_chunks.spark_score import main

    with caplog.at_level("ERROR", logger="customer_chunks.spark_score"):
        status = main(["--features-table", "intermediate.no_such_features"])
    assert status == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "no_such_features" in errors[0] and "Fix: build the SQL layer" in errors[0]
