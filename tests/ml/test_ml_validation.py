from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from customer_chunks.ml.validation import bootstrap_stability, cluster_metrics, silhouette_scores


def test_silhouette_scores_match_scikit_learn(blobs) -> None:
    X, y = blobs
    rng = np.random.default_rng(0)
    random_labels = rng.integers(0, 5, X.shape[0])
    with_singleton = y.copy()
    with_singleton[0] = 9
    label_sets = [y, random_labels, with_singleton]
    ours = silhouette_scores(X, label_sets)
    theirs = [silhouette_score(X, labels) for labels in label_sets]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert ours[0] > 0.6 > ours[1]


def test_silhouette_undefined_cases() -> None:
    X = np.arange(8.0).reshape(4, 2)
    assert np.isnan(silhouette_scores(X, [np.zeros(4)])[0])
    assert np.isnan(silhouette_scores(X, [np.arange(4)])[0])


def test_metrics_exclude_noise(blobs) -> None:
    X, y = blobs
    far = np.full((20, X.shape[1]), 100.0) + np.arange(20)[:, None]
    X_noisy = np.vstack([X, far])
    labels = np.concatenate([y, np.full(20, -1)])
    with_noise = cluster_metrics(X_noisy, labels, sample_size=10_000)
    assert with_noise["n_noise"] == 20
    assert with_noise["n_clusters"] == 4
    assert with_noise["silhouette_sample_size"] == 800
    assert with_noise["silhouette"] == pytest.approx(silhouette_score(X, y))
    assert with_noise["davies_bouldin"] == pytest.approx(davies_bouldin_score(X, y))
    assert with_noise["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, y))
    assert with_noise["note"] is None


def test_metrics_on_a_sample_record_sizes(blobs) -> None:
    X, y = blobs
    result = cluster_metrics(X, y, sample_size=300, silhouette_sample_size=100)
    assert result["silhouette_sample_size"] == 100
    assert result["silhouette"] > 0.6


def test_metrics_nan_with_reason_for_one_cluster(blobs) -> None:
    X, _ = blobs
    result = cluster_metrics(X, np.zeros(X.shape[0], dtype=int))
    assert np.isnan(result["silhouette"]) and np.isnan(result["davies_bouldin"])
    assert "1 cluster" in result["note"]


def test_bootstrap_stability_separates_stable_from_random(blobs) -> None:
    X, _ = blobs

    def kmeans(rows: np.ndarray) -> np.ndarray:
        return KMeans(4, n_init=2, random_state=0).fit_predict(rows)

    counter = {"calls": 0}

    def random_labels(rows: np.ndarray) -> np.ndarray:
        counter["calls"] += 1
        return np.random.default_rng(counter["calls"]).integers(0, 4, rows.shape[0])

    stable = bootstrap_stability(X, kmeans, n_resamples=4, sample_size=400, random_state=0)
    unstable = bootstrap_stability(X, random_labels, n_resamples=4, sample_size=400)
    assert stable > 0.95
    assert abs(unstable) < 0.1
    assert counter["calls"] == 4
    assert np.isnan(bootstrap_stability(X, kmeans, n_resamples=1))
