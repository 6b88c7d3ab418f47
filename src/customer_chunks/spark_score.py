"""K-Means segments for every customer on Spark, with this package's own estimators.

dbt Python models do not run on open-source Spark, so on a Spark target the ML step is a
Spark job: read the feature table, fit on a sample collected to the driver, broadcast the
fitted model and assign every customer with ``mapInPandas``. The model is fitted by the
same steps as the DuckDB path's K-Means (``customer_chunks.ml.pipeline.run_segmentation``:
:class:`~customer_chunks.ml.features.FeaturePreprocessor` on the segmentation features, the
Ward tree on micro-clusters, :func:`~customer_chunks.ml.kmeans.select_k` where K-Means and
Ward agree, :func:`~customer_chunks.ml.kmeans.fit_kmeans` started from the Ward means,
segments ordered by mean monetary), so on the same sample the assignments are the same:
``tests/ml/test_engines_spark_score.py`` compares them and fails when the two drift.

Run it with spark-submit on the cluster that holds the dbt-built tables::

    spark-submit --master yarn src/customer_chunks/spark_score.py --k 5
    python -m customer_chunks.spark_score            # a local session, for trying it

Only the K-Means segment is assigned here; PCA coordinates, the Ward hierarchy, DBSCAN
and the high-value scores are not (yet) offered on Spark.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from customer_chunks.ml.features import FeaturePreprocessor, column_as_float
from customer_chunks.ml.hierarchical import WardHierarchy
from customer_chunks.ml.kmeans import (
    SEARCH_SILHOUETTE_SAMPLE_SIZE,
    fit_kmeans,
    select_k,
    ward_centres,
)
from customer_chunks.ml.segments import order_segments
from customer_chunks.ml.validation import SILHOUETTE_SAMPLE_SIZE

logger = logging.getLogger(__name__)

FEATURES_TABLE = "intermediate.int_customer_features_by_snapshot"
OUTPUT_TABLE = "ml.spark_customer_segments"
OUTPUT_SCHEMA = "customer_id string, kmeans_segment_id long"


@dataclass
class Segmenter:
    """A fitted preprocessor and K-Means model, and the map from K-Means label to
    segment id (1 = highest mean monetary in the fit data). Picklable, so Spark can
    broadcast it."""

    preprocessor: FeaturePreprocessor
    kmeans: object
    segment_of_label: np.ndarray

    def assign(self, frame: pd.DataFrame) -> pd.DataFrame:
        """customer_id and kmeans_segment_id for each row of ``frame``. O(rows * k * p)."""
        labels = self.kmeans.predict(self.preprocessor.transform(frame))
        return pd.DataFrame(
            {
                "customer_id": frame["customer_id"].astype(str).to_numpy(),
                "kmeans_segment_id": self.segment_of_label[labels].astype(np.int64),
            }
        )


def fit_segmenter(
    sample: pd.DataFrame,
    *,
    segmentation_features: list[str],
    k_min: int,
    k_max: int,
    force_k: int | None,
    sample_size: int,
    random_state: int,
    n_micro_clusters: int = 200,
) -> Segmenter:
    """Fit on ``sample`` (customer features, one row per customer) by the K-Means steps
    of run_segmentation: rows sorted by customer_id, FeaturePreprocessor on
    ``segmentation_features``, the Ward tree on micro-clusters, k by select_k (or
    ``force_k``), fit_kmeans from the Ward means, segments ordered by mean monetary.
    O(sample) memory."""
    frame = sample.sort_values("customer_id", kind="stable").reset_index(drop=True)
    preprocessor = FeaturePreprocessor(features=list(segmentation_features)).fit(frame)
    X = preprocessor.transform(frame)
    hierarchy = WardHierarchy(
        n_clusters=None,
        n_micro_clusters=n_micro_clusters,
        sample_size=sample_size,
        random_state=random_state,
    ).fit(X)
    _, k = select_k(
        X,
        k_min=k_min,
        k_max=k_max,
        sample_size=sample_size,
        random_state=random_state,
        force_k=force_k,
        silhouette_sample_size=min(SILHOUETTE_SAMPLE_SIZE, SEARCH_SILHOUETTE_SAMPLE_SIZE),
        hierarchy_cut=hierarchy.cut,
    )
    kmeans = fit_kmeans(X, k, random_state=random_state, init=ward_centres(X, hierarchy.cut(k), k))
    ordered = order_segments(kmeans.labels_, column_as_float(frame, "monetary"))
    segment_of_label = np.zeros(kmeans.n_clusters_, dtype=np.int64)
    segment_of_label[kmeans.labels_] = ordered
    return Segmenter(preprocessor, kmeans, segment_of_label)


def assign_in_spark(spark_frame, segmenter: Segmenter):
    """Every row of the Spark DataFrame ``spark_frame`` with its segment, computed in
    the executors with ``mapInPandas`` from a broadcast of ``segmenter``."""
    broadcast = spark_frame.sparkSession.sparkContext.broadcast(segmenter)

    def assign(batches):
        model = broadcast.value
        for batch in batches:
            yield model.assign(batch)

    return spark_frame.mapInPandas(assign, schema=OUTPUT_SCHEMA)


def score(
    spark,
    *,
    features_table: str,
    output_table: str,
    segmentation_features: list[str],
    k_min: int,
    k_max: int,
    force_k: int | None,
    sample_size: int,
    random_state: int,
) -> int:
    """Read the current snapshot of ``features_table``, fit on a sample of at most
    ``sample_size`` customers on the driver, assign all of them in Spark and write
    ``output_table``. Returns the number of customers scored."""
    features = spark.table(features_table).where("snapshot_name = 'current'")
    n = features.count()
    fraction = min(1.0, sample_size / max(n, 1))
    sample = features.sample(fraction=fraction, seed=random_state).toPandas()
    logger.info("fitting on %d of %d customers", len(sample), n)
    segmenter = fit_segmenter(
        sample,
        segmentation_features=segmentation_features,
        k_min=k_min,
        k_max=k_max,
        force_k=force_k,
        sample_size=sample_size,
        random_state=random_state,
    )
    assign_in_spark(features, segmenter).write.mode("overwrite").saveAsTable(output_table)
    return n


def project_vars() -> dict:
    """The vars (and their defaults) declared in the project's dbt_project.yml."""
    import yaml

    from customer_chunks.run import project_dir

    return yaml.safe_load((project_dir() / "dbt_project.yml").read_text())["vars"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="customer_chunks.spark_score", description=__doc__)
    parser.add_argument("--features-table", default=FEATURES_TABLE)
    parser.add_argument("--output-table", default=OUTPUT_TABLE)
    # defaults: the dbt vars in dbt_project.yml, their one home
    defaults = project_vars()
    parser.add_argument("--k", type=int, default=defaults["force_k"], help="force k")
    parser.add_argument("--k-min", type=int, default=defaults["k_min"])
    parser.add_argument("--k-max", type=int, default=defaults["k_max"])
    parser.add_argument("--sample-size", type=int, default=defaults["ml_sample_size"])
    parser.add_argument("--random-state", type=int, default=defaults["random_state"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.enableHiveSupport().getOrCreate()
    n = score(
        spark,
        features_table=args.features_table,
        output_table=args.output_table,
        segmentation_features=defaults["segmentation_features"],
        k_min=args.k_min,
        k_max=args.k_max,
        force_k=args.k,
        sample_size=args.sample_size,
        random_state=args.random_state,
    )
    logger.info("wrote %s: %d customers", args.output_table, n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
