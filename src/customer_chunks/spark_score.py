"""The ML step on Spark: K-Means segments, PCA coordinates and high-value scores for every
customer, with this package's own estimators.

dbt Python models do not run on open-source Spark, so on a Spark target the ML step is a
Spark job: read the feature tables, fit on samples collected to the driver, broadcast the
fitted models and score every customer with ``mapInPandas``. The fits are the DuckDB
path's own functions, not copies of their steps:

* segments: :class:`~customer_chunks.ml.features.FeaturePreprocessor` on the
  segmentation features, then :func:`~customer_chunks.ml.pipeline.fit_kmeans_segmentation`
  (Ward tree, k search, K-Means from the Ward means, segments ordered by mean monetary);
* PCA: :func:`~customer_chunks.ml.pca.fit_pca` on the same prepared matrix, rows scored
  with :func:`~customer_chunks.ml.pca.pca_scores`;
* high value: :func:`~customer_chunks.ml.pipeline.fit_high_value` on the training
  snapshot (cross-validation, hold-out threshold, forest), rows scored with its
  :class:`~customer_chunks.ml.pipeline.HighValueScorer`.

So with the same fit rows the scores equal ``run_segmentation``'s and
``run_high_value``'s for every customer (``tests/ml/test_engines_spark_score.py``).
Fitted on a driver sample (at most ``--fit-rows`` current customers and the
:class:`~customer_chunks.ml.settings.HighValueSettings`' ``max_train_rows`` training
customers) they equal what the DuckDB path gives with that sample. Not offered on Spark:
the Ward and DBSCAN labels for every customer, segment names, stable segment ids across
runs, CLV.

Run it with spark-submit on the cluster that holds the dbt-built tables, or locally in
the session the dbt ``spark`` profile describes::

    spark-submit --master yarn src/customer_chunks/spark_score.py --k 5
    python -m customer_chunks.spark_score --local   # profiles.yml's spark target settings

It writes ``ml.spark_customer_scores`` (:data:`OUTPUT_COLUMNS`), which the dbt model
``stg_spark_ml__customer_scores`` and the mart ``dim_customers_spark`` read.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from customer_chunks.ml.features import FEATURE_COLUMNS, FeaturePreprocessor, column_as_float
from customer_chunks.ml.kmeans import FIT_SAMPLE_SIZE
from customer_chunks.ml.pca import SCORE_COLUMNS, fit_pca, pca_scores
from customer_chunks.ml.pipeline import (
    HighValueScorer,
    fit_high_value,
    fit_kmeans_segmentation,
)
from customer_chunks.ml.settings import HighValueSettings

logger = logging.getLogger(__name__)

FEATURES_TABLE = "intermediate.int_customer_features_by_snapshot"
TRAINING_TABLE = "intermediate.int_customers_high_value_training"
OUTPUT_TABLE = "ml.spark_customer_scores"
# name -> Spark type of each output column; the one home of the output's shape
OUTPUT_COLUMNS = {
    "customer_id": "string",
    "kmeans_segment_id": "long",
    **dict.fromkeys(SCORE_COLUMNS, "double"),
    "high_value_probability": "double",
    "is_predicted_high_value": "boolean",
}
OUTPUT_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in OUTPUT_COLUMNS.items())


@dataclass
class Segmenter:
    """A fitted preprocessor, K-Means model with its map from K-Means label to segment id
    (1 = highest mean monetary in the fit data) and PCA model (None when PCA was skipped).
    Picklable, so Spark can broadcast it."""

    preprocessor: FeaturePreprocessor
    kmeans: object
    segment_of_label: np.ndarray
    pca: object | None = None

    def assign(self, frame: pd.DataFrame) -> pd.DataFrame:
        """customer_id, kmeans_segment_id and pca_1..pca_3 for each row of ``frame``, in
        its order. O(rows * (k + 3) * p)."""
        X = self.preprocessor.transform(frame)
        out = pd.DataFrame(
            {
                "customer_id": frame["customer_id"].astype(str).to_numpy(),
                "kmeans_segment_id": self.segment_of_label[self.kmeans.predict(X)].astype(np.int64),
            }
        )
        scores = pca_scores(self.pca, X)
        for j, column in enumerate(SCORE_COLUMNS):
            out[column] = scores[:, j]
        return out


@dataclass
class CustomerScorer:
    """What the executors apply to every customer: the segmenter and the high-value
    scorer. Picklable."""

    segmenter: Segmenter
    high_value: HighValueScorer

    def assign(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The :data:`OUTPUT_COLUMNS` for each row of ``frame`` (current features)."""
        out = self.segmenter.assign(frame)
        scores = self.high_value.score(frame)
        out["high_value_probability"] = scores["high_value_probability"].to_numpy(
            dtype="float64", na_value=np.nan
        )
        out["is_predicted_high_value"] = scores["is_predicted_high_value"].to_numpy()
        return out[list(OUTPUT_COLUMNS)]


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
    """Fit on ``sample`` (customer features, one row per customer) as run_segmentation
    does: rows sorted by customer_id, FeaturePreprocessor on ``segmentation_features``,
    :func:`~customer_chunks.ml.pipeline.fit_kmeans_segmentation`, then PCA on the same
    matrix. O(sample) memory. Raises SegmentationError when no feature is usable."""
    frame = sample.sort_values("customer_id", kind="stable").reset_index(drop=True)
    preprocessor = FeaturePreprocessor(features=list(segmentation_features)).fit(frame)
    X = preprocessor.transform(frame)
    fitted = fit_kmeans_segmentation(
        X,
        column_as_float(frame, "monetary"),
        k_min=k_min,
        k_max=k_max,
        force_k=force_k,
        sample_size=sample_size,
        random_state=random_state,
        n_micro_clusters=n_micro_clusters,
        log=logger.info,
    )
    pca = fit_pca(X, preprocessor.feature_names_out_, random_state=random_state)
    if pca.note:
        logger.info(pca.note)
    return Segmenter(preprocessor, fitted.kmeans, fitted.segment_of_label, pca.model)


def assign_in_spark(spark_frame, scorer: CustomerScorer):
    """Every row of the Spark DataFrame ``spark_frame`` (current features) with the
    :data:`OUTPUT_COLUMNS`, computed in the executors with ``mapInPandas`` from a
    broadcast of ``scorer``."""
    broadcast = spark_frame.sparkSession.sparkContext.broadcast(scorer)

    def assign(batches):
        model = broadcast.value
        for batch in batches:
            yield model.assign(batch)

    return spark_frame.mapInPandas(assign, schema=OUTPUT_SCHEMA)


def model_input(spark_frame, extra: tuple[str, ...] = ()):
    """customer_id as string and each feature of FEATURE_COLUMNS (plus ``extra``) that the
    table has, as double: Spark's decimals would reach pandas as Python objects."""
    present = set(spark_frame.columns)
    wanted = [c for c in (*FEATURE_COLUMNS, *extra) if c in present]
    return spark_frame.selectExpr(
        "cast(customer_id as string) as customer_id",
        *(f"cast({column} as double) as {column}" for column in wanted),
    )


def driver_sample(spark_frame, rows: int, random_state: int) -> tuple[pd.DataFrame, int]:
    """(at most about ``rows`` rows of ``spark_frame`` as pandas, its row count): every row
    when it has no more, else a seeded Bernoulli sample."""
    n = spark_frame.count()
    if n <= rows:
        return spark_frame.toPandas(), n
    return spark_frame.sample(fraction=rows / n, seed=random_state).toPandas(), n


def score(
    spark,
    *,
    features_table: str,
    training_table: str,
    output_table: str,
    segmentation_features: list[str],
    k_min: int,
    k_max: int,
    force_k: int | None,
    sample_size: int,
    fit_rows: int,
    random_state: int,
    high_value: HighValueSettings,
) -> int:
    """Fit on driver samples (at most ``fit_rows`` current customers for the segments and
    PCA, ``high_value.max_train_rows`` training customers for the high-value model, fitted
    with the ``high_value`` settings), score every
    current customer of ``features_table`` in the executors and write ``output_table``.
    Returns the number of customers scored. Driver memory O(fit_rows * p); executors
    O(batch)."""
    features = model_input(spark.table(features_table).where("snapshot_name = 'current'"))
    sample, n = driver_sample(features, fit_rows, random_state)
    logger.info("segments and PCA: fitting on %d of %d customers", len(sample), n)
    segmenter = fit_segmenter(
        sample,
        segmentation_features=segmentation_features,
        k_min=k_min,
        k_max=k_max,
        force_k=force_k,
        sample_size=sample_size,
        random_state=random_state,
    )
    training = model_input(spark.table(training_table), extra=(high_value.spend_column,))
    training_sample, n_training = driver_sample(
        training, high_value.max_train_rows, high_value.random_state
    )
    logger.info("high value: fitting on %d of %d customers", len(training_sample), n_training)
    scorer, frames = fit_high_value(training_sample, high_value, log=logger.info)
    holdout = frames["metrics"].loc[frames["metrics"]["fold"] == "holdout", "roc_auc"]
    if len(holdout):
        logger.info("high value: hold-out ROC AUC %.3f", holdout.iloc[0])
    database = output_table.rpartition(".")[0]
    if database:
        spark.sql(f"create database if not exists {database}")
    scored = assign_in_spark(features, CustomerScorer(segmenter, scorer))
    scored.write.mode("overwrite").saveAsTable(output_table)
    return n


def project_vars() -> dict:
    """The vars (and their defaults) declared in the project's dbt_project.yml."""
    import yaml

    from customer_chunks.run import project_dir

    return yaml.safe_load((project_dir() / "dbt_project.yml").read_text())["vars"]


def profile_spark_conf() -> dict[str, str]:
    """The Spark settings of profiles.yml's ``spark`` target (its ``env_var`` calls
    rendered from the environment; relative paths resolved against the project folder),
    so a local run of this job uses dbt's own warehouse folder and metastore."""
    import jinja2
    import yaml

    from customer_chunks.run import project_dir

    def env_var(name: str, default: str | None = None) -> str:
        value = os.environ.get(name, default)
        if value is None:
            raise ValueError(f"profiles.yml needs the environment variable {name}")
        return value

    proj = project_dir()
    profile = yaml.safe_load((proj / "profiles.yml").read_text())
    parameters = profile["customer_chunks"]["outputs"]["spark"]["server_side_parameters"]
    env = jinja2.Environment()
    env.globals["env_var"] = env_var
    conf = {key: env.from_string(str(value)).render() for key, value in parameters.items()}
    spark_dir = Path(env_var("CUSTOMER_CHUNKS_SPARK_DIR", "warehouse/spark"))
    if not spark_dir.is_absolute():  # dbt runs in the project folder: the same paths
        absolute = str(proj / spark_dir)
        conf = {key: value.replace(str(spark_dir), absolute) for key, value in conf.items()}
    return conf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="customer_chunks.spark_score", description=__doc__)
    parser.add_argument("--features-table", default=FEATURES_TABLE)
    parser.add_argument("--training-table", default=TRAINING_TABLE)
    parser.add_argument("--output-table", default=OUTPUT_TABLE)
    # defaults: the dbt vars in dbt_project.yml, their one home
    defaults = project_vars()
    parser.add_argument("--k", type=int, default=defaults["force_k"], help="force k")
    parser.add_argument("--k-min", type=int, default=defaults["k_min"])
    parser.add_argument("--k-max", type=int, default=defaults["k_max"])
    parser.add_argument("--sample-size", type=int, default=defaults["ml_sample_size"])
    parser.add_argument(
        "--fit-rows",
        type=int,
        default=FIT_SAMPLE_SIZE,
        help="current customers collected to the driver to fit segments and PCA on",
    )
    parser.add_argument("--random-state", type=int, default=defaults["random_state"])
    parser.add_argument(
        "--local",
        action="store_true",
        help="start a session with profiles.yml's spark target settings (not under spark-submit)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("customer-chunks-spark-score").enableHiveSupport()
    if args.local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        for key, value in profile_spark_conf().items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    from pyspark.errors import AnalysisException

    from customer_chunks.ml.exceptions import SegmentationError

    try:
        n = score(
            spark,
            features_table=args.features_table,
            training_table=args.training_table,
            output_table=args.output_table,
            segmentation_features=defaults["segmentation_features"],
            k_min=args.k_min,
            k_max=args.k_max,
            force_k=args.k,
            sample_size=args.sample_size,
            fit_rows=args.fit_rows,
            random_state=args.random_state,
            high_value=replace(
                HighValueSettings.from_vars(defaults), random_state=args.random_state
            ),
        )
    except AnalysisException as error:
        first = str(error).strip().splitlines()[0][:300]
        logger.error(
            "spark_score: %s. Fix: build the SQL layer on this cluster first "
            "(dbt build --target spark --exclude path:python_models+ tag:spark_ml), or "
            "pass --features-table/--training-table.",
            first,
        )
        return 2
    except SegmentationError as error:
        logger.error("spark_score: %s. Fix: check the feature table's columns.", error)
        return 2
    finally:
        if args.local:
            spark.stop()
    logger.info("wrote %s: %d customers", args.output_table, n)
    return 0


if __name__ == "__main__":
    # Run from the package module, not __main__: the broadcast CustomerScorer is pickled
    # by its module name, and the executors can import customer_chunks.spark_score but
    # not this process's __main__.
    from customer_chunks.spark_score import main as package_main

    raise SystemExit(package_main())
