"""Benchmark of the ML pipeline on synthetic customers (not collected by pytest).

Run: ``.venv/bin/python tests/ml/benchmark_1m.py [n_customers]`` (default 1,000,000).
Prints the progress lines, the wall time of each entry point and the peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time

from customer_chunks.ml.pipeline import run_high_value, run_segmentation

from ml_helpers import high_value_settings, segmentation_settings
from synthetic import make_customer_features


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(n_customers: int) -> None:
    started = time.perf_counter()
    table = make_customer_features(n_customers, random_state=0)
    features = table.drop(columns=["horizon_spend", "true_group"])
    print(
        f"generated {n_customers:,} customers in {time.perf_counter() - started:.1f} s, "
        f"peak RSS {peak_rss_gib():.2f} GiB"
    )

    started = time.perf_counter()
    segments = run_segmentation(features, segmentation_settings())
    segmentation_seconds = time.perf_counter() - started
    print(f"run_segmentation: {segmentation_seconds:.1f} s, peak RSS {peak_rss_gib():.2f} GiB")
    print(segments["kmeans_candidates"].drop(columns=["note"]).to_string())
    print(segments["model_validation"].drop(columns=["parameters"]).to_string())

    scoring = make_customer_features(n_customers, random_state=1).drop(
        columns=["horizon_spend", "true_group"]
    )
    started = time.perf_counter()
    high_value = run_high_value(table.drop(columns=["true_group"]), scoring, high_value_settings())
    high_value_seconds = time.perf_counter() - started
    print(f"run_high_value: {high_value_seconds:.1f} s, peak RSS {peak_rss_gib():.2f} GiB")
    print(high_value["metrics"][["fold", "roc_auc", "pr_auc", "n_rows"]].to_string())
    print(f"total ML: {segmentation_seconds + high_value_seconds:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
