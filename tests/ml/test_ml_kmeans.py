from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from customer_chunks.ml.hierarchical import WardHierarchy
from customer_chunks.ml.kmeans import (
    CANDIDATE_COLUMNS,
    SampledKMeans,
    _knee_distances,
    _trusted_best,
    fit_kmeans,
    select_k,
)

SEARCH = {"sample_size": 20_000, "random_state": 0}


def test_select_k_finds_four_planted_groups(blobs) -> None:
    X, y = blobs
    candidates, k = select_k(X, k_min=2, k_max=8, sample_size=500, random_state=0)
    assert k == 4
    assert list(candidates.columns) == CANDIDATE_COLUMNS
    assert candidates["k"].tolist() == list(range(2, 9))
    assert candidates.loc[candidates["is_chosen"], "k"].tolist() == [4]
    # each metric independently prefers k = 4 on this data
    best = candidates.set_index("k")
    assert best["silhouette"].idxmax() == 4
    assert best["davies_bouldin"].idxmin() == 4
    assert best["calinski_harabasz"].idxmax() == 4
    assert candidates.loc[candidates["is_elbow"], "k"].tolist() == [4]
    assert (candidates["silhouette_sample_size"] == 500).all()
    assert (candidates["fit_sample_size"] == 500).all()
    model = fit_kmeans(X, k, random_state=0)
    assert adjusted_rand_score(y, model.labels_) >= 0.95


def test_force_k_inside_and_outside_range(blobs) -> None:
    X, _ = blobs
    candidates, k = select_k(X, **SEARCH, k_min=2, k_max=5, force_k=3)
    assert k == 3
    assert candidates.loc[candidates["is_chosen"], "k"].tolist() == [3]
    assert candidates.loc[candidates["k"] == 3, "note"].item() == "forced k"
    candidates, k = select_k(X, **SEARCH, k_min=2, k_max=4, force_k=7)
    assert k == 7
    assert candidates["k"].tolist() == [2, 3, 4, 7]
    assert np.isnan(candidates.loc[candidates["k"] == 7, "mean_rank"].item())


def test_k_range_clamps_to_distinct_points() -> None:
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]), 10, axis=0)
    messages: list[str] = []
    candidates, k = select_k(X, **SEARCH, k_min=2, k_max=10, log=messages.append)
    assert candidates["k"].tolist() == [2, 3]
    assert k == 3
    assert any("clamped" in m for m in messages)


def test_single_distinct_point_gives_one_cluster() -> None:
    messages: list[str] = []
    candidates, k = select_k(np.ones((5, 3)), **SEARCH, k_min=2, k_max=10, log=messages.append)
    assert k == 1
    assert len(candidates) == 1 and bool(candidates["is_chosen"].item())
    assert "fewer than 2 distinct" in candidates["note"].item()
    assert messages and "fewer than 2 distinct" in messages[0]
    model = fit_kmeans(np.ones((5, 3)), 1)
    assert model.labels_.tolist() == [0] * 5


def test_sampled_fit_and_batched_predict(blobs) -> None:
    X, y = blobs
    model = SampledKMeans(n_clusters=4, fit_sample_size=200, batch_size=64, random_state=0)
    model.fit(X)
    assert model.fit_sample_size_ == 200
    assert model.labels_.shape == (800,)
    assert np.array_equal(model.labels_, model.model_.predict(X))
    assert adjusted_rand_score(y, model.labels_) >= 0.95


def test_fit_lowers_k_with_a_note() -> None:
    X = np.repeat(np.eye(2), 4, axis=0)
    model = SampledKMeans(n_clusters=5).fit(X)
    assert model.n_clusters_ == 2
    assert "lowered from 5 to 2" in model.note_


def test_knee_of_a_bent_curve() -> None:
    x = np.arange(2, 11)
    y = np.array([100, 50, 10, 9, 8, 7, 6, 5, 4], dtype=float)
    distances = _knee_distances(x, y)
    assert int(np.argmax(distances)) == 2  # k = 4
    assert distances[0] == pytest.approx(0.0) and distances[-1] == pytest.approx(0.0)


def test_rule_prefers_agreed_partitions_over_a_higher_silhouette() -> None:
    table = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "silhouette": [0.40, 0.70, 0.55, 0.50],
            "hierarchical_silhouette": [0.40, 0.50, 0.56, 0.52],
            "agreement": [0.99, 0.60, 0.97, 0.96],
        }
    )
    # k = 3 separates best for K-Means, but Ward does not find the same groups
    assert _trusted_best(table) == 4
    # no k reaches the threshold: those within 0.05 of the best agreement compete
    weak = table.assign(agreement=[0.80, 0.60, 0.84, 0.70])
    assert _trusted_best(weak) == 4
    assert _trusted_best(weak.assign(agreement=[0.88, 0.60, 0.84, 0.70])) == 4
    assert _trusted_best(weak.assign(agreement=[0.90, 0.60, 0.84, 0.70])) == 2


def test_select_k_with_the_ward_tree_reports_agreement(blobs) -> None:
    X, _ = blobs
    ward = WardHierarchy(n_clusters=None, n_micro_clusters=100, random_state=0).fit(X)
    candidates, k = select_k(X, **SEARCH, k_min=2, k_max=8, hierarchy_cut=ward.cut)
    assert k == 4
    by_k = candidates.set_index("k")
    assert by_k.loc[4, "agreement"] >= 0.95
    assert by_k["hierarchical_silhouette"].notna().all()
    assert by_k.loc[8, "agreement"] < by_k.loc[4, "agreement"]


def test_without_a_tree_the_rule_is_the_best_silhouette(blobs) -> None:
    X, _ = blobs
    candidates, k = select_k(X, **SEARCH, k_min=2, k_max=6)
    assert candidates["agreement"].isna().all()
    assert k == int(candidates.set_index("k")["silhouette"].idxmax())
