from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from customer_chunks.ml import dbscan as dbscan_module
from customer_chunks.ml.dbscan import SampledDBSCAN, default_min_samples, knee_eps


def with_outliers(blobs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = blobs
    rng = np.random.default_rng(5)
    directions = rng.normal(size=(12, X.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    outliers = 60.0 * directions  # at least ~40 from every group centre
    data = np.vstack([X, outliers])
    is_planted = np.r_[np.zeros(len(X), bool), np.ones(12, bool)]
    return data, np.r_[y, np.full(12, -1)], is_planted


def test_min_samples_rule() -> None:
    assert default_min_samples(20_000, 20) == 40
    assert default_min_samples(20_000, 2) == 10  # ceil(ln 20000) = 10 > 2 * 2
    assert default_min_samples(1_000_000, 80) == 100  # capped
    assert default_min_samples(10, 20) == 5  # half the sample
    assert default_min_samples(1, 20) == 2


def test_knee_eps() -> None:
    flat_then_steep = np.r_[np.linspace(1.0, 1.2, 95), [3.0, 5.0, 8.0, 12.0, 20.0]]
    eps = knee_eps(flat_then_steep[::-1])
    assert 1.15 <= eps <= 1.25
    assert knee_eps(np.full(10, 2.0)) == 2.0
    assert knee_eps(np.r_[np.zeros(10), [0.5]]) == 0.5
    assert knee_eps(np.zeros(4)) > 0


def test_planted_outliers_flagged_with_sampled_assignment(blobs, monkeypatch) -> None:
    # a small first pass forces the two-pass assignment on this small data set
    monkeypatch.setattr(dbscan_module, "FIRST_PASS_CORE_POINTS", 20)
    data, truth, is_planted = with_outliers(blobs)
    model = SampledDBSCAN(sample_size=400, batch_size=100, random_state=0).fit(data)
    assert model.sample_indices_.size == 400
    assert model.core_points_.shape[0] > 20
    assert model.is_outlier_[is_planted].all()
    assert model.is_outlier_[~is_planted].mean() < 0.03
    assert model.n_clusters_ == 4
    kept = ~is_planted & ~model.is_outlier_
    assert adjusted_rand_score(truth[kept], model.labels_[kept]) >= 0.99
    assert np.array_equal(model.is_outlier_, model.labels_ == -1)


def test_assignment_matches_brute_force_rule(blobs, monkeypatch) -> None:
    monkeypatch.setattr(dbscan_module, "FIRST_PASS_CORE_POINTS", 15)
    data, _, _ = with_outliers(blobs)
    model = SampledDBSCAN(sample_size=300, random_state=1).fit(data)
    distances = np.linalg.norm(data[:, None, :] - model.core_points_[None, :, :], axis=2)
    within = distances.min(axis=1) <= model.eps_
    predicted = model.predict(data)
    assert np.array_equal(predicted != -1, within)
    # queries at controlled distances around the edge of the clusters
    rng = np.random.default_rng(2)
    directions = rng.normal(size=(400, data.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = rng.uniform(0.0, 3.0 * model.eps_, 400)[:, None]
    starts = model.core_points_[rng.integers(0, len(model.core_points_), 400)]
    queries = starts + radii * directions
    nearest = np.linalg.norm(queries[:, None, :] - model.core_points_[None, :, :], axis=2).min(
        axis=1
    )
    band = (nearest > model.eps_) & (nearest <= 2 * model.eps_)
    assert band.sum() >= 10  # the test has points just outside eps
    assert np.array_equal(model.predict(queries) != -1, nearest <= model.eps_)
    # the label is that of some core point within eps
    for row in np.flatnonzero(within)[:50]:
        close = model.core_labels_[distances[row] <= model.eps_]
        assert predicted[row] in close


def test_fit_on_all_rows_matches_sklearn(blobs) -> None:
    from sklearn.cluster import DBSCAN

    data, _, _ = with_outliers(blobs)
    model = SampledDBSCAN(eps=1.5, min_samples=8, sample_size=None).fit(data)
    reference = DBSCAN(eps=1.5, min_samples=8).fit(data)
    assert np.array_equal(model.labels_, reference.labels_)
    assert model.eps_ == pytest.approx(1.5) and model.min_samples_ == 8


def test_duplicates_are_weighted_like_repeated_points(blobs) -> None:
    from sklearn.cluster import DBSCAN

    X, _ = blobs
    data = np.vstack([X[:200], np.repeat(X[:1] + 30.0, 12, axis=0), X[200:203] + 50.0])
    model = SampledDBSCAN(eps=2.0, min_samples=10, sample_size=None).fit(data)
    reference = DBSCAN(eps=2.0, min_samples=10).fit(data)
    assert np.array_equal(model.labels_, reference.labels_)
    # the 12 copies form a cluster of their own (weight 12 >= min_samples)
    assert len(set(model.labels_[200:212])) == 1 and model.labels_[200] != -1
    assert (model.labels_[212:] == -1).all()
    assert len(model.core_points_) == len(np.unique(data[reference.core_sample_indices_], axis=0))
