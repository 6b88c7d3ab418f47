from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import dendrogram, fcluster, is_valid_linkage, linkage
from sklearn.metrics import adjusted_rand_score

from customer_chunks.ml.hierarchical import WardHierarchy, weighted_ward_linkage


def test_unit_weights_reproduce_scipy_ward() -> None:
    points = np.random.default_rng(0).normal(size=(40, 3))
    ours = weighted_ward_linkage(points, np.ones(40))
    np.testing.assert_allclose(ours, linkage(points, method="ward"), atol=1e-9)
    assert is_valid_linkage(ours)


def test_weights_equal_duplicated_points() -> None:
    points = np.random.default_rng(1).normal(size=(8, 2))
    weights = np.array([1, 3, 2, 1, 4, 1, 2, 1])
    expanded = linkage(np.repeat(points, weights, axis=0), method="ward")
    ours = weighted_ward_linkage(points, weights.astype(float))
    # after the zero-distance merges of duplicates, the heights are the same
    np.testing.assert_allclose(ours[:, 2], expanded[-7:, 2], atol=1e-9)


def test_small_data_clusters_points_directly(blobs) -> None:
    X, y = blobs
    subset = X[:120]
    model = WardHierarchy(n_clusters=4, n_micro_clusters=200).fit(subset)
    assert model.n_leaves_ == 120
    reference = fcluster(linkage(subset, "ward"), 4, "maxclust")
    assert adjusted_rand_score(reference, model.labels_) == pytest.approx(1.0)


def test_micro_clusters_recover_planted_groups(blobs) -> None:
    X, y = blobs
    model = WardHierarchy(n_clusters=4, n_micro_clusters=50, sample_size=300).fit(X)
    assert model.n_leaves_ <= 50
    assert model.labels_.shape == (800,)
    assert adjusted_rand_score(y, model.labels_) >= 0.95
    assert len(np.unique(model.cut(2))) == 2
    assert len(np.unique(model.cut(7))) == 7
    frame = model.linkage_frame()
    merges = frame[~frame["is_leaf"]]
    assert len(merges) == model.n_leaves_ - 1
    assert frame["n_members"].iloc[-1] == 800
    assert frame.loc[frame["is_leaf"], "n_members"].sum() == 800
    assert merges["distance"].is_monotonic_increasing
    matrix = merges[["left_child", "right_child", "distance", "n_leaves"]].to_numpy(float)
    assert np.array_equal(matrix, model.linkage_matrix_)
    dendrogram(model.linkage_matrix_, no_plot=True)


def test_automatic_cut_and_clamping(blobs) -> None:
    X, _ = blobs
    assert WardHierarchy(n_micro_clusters=40, sample_size=400).fit(X).n_clusters_ == 4
    model = WardHierarchy(n_clusters=10).fit(X[:3])
    assert model.n_clusters_ == 3
    assert "lowered from 10 to 3" in model.note_
    one = WardHierarchy(n_clusters=2).fit(X[:1])
    assert one.labels_.tolist() == [0]
    assert len(one.linkage_frame()) == 1
