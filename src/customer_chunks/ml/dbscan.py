"""DBSCAN on a sample, extended to every customer: density clusters and outliers.

Parameters, when not given (see :func:`default_min_samples` and :func:`knee_eps`):

* ``min_samples = max(2 * p, ceil(ln s))`` for p features and s sampled rows (the
  common "twice the dimension" heuristic, raised for very large samples), capped at 100
  and at half the sample (but at least 2) so small samples can still form clusters;
* ``eps`` is the knee of the sorted k-distance curve with k = ``min_samples`` (the
  distance from each sampled customer to its ``min_samples``-th nearest sampled
  customer, counting itself, so a customer is a core point exactly when its k-distance
  is at most eps): both axes are scaled to [0, 1] and the knee is the point farthest
  from the straight line joining the first and last points of the curve.

DBSCAN (scikit-learn) runs on the sample. Every other customer gets the cluster of a
core point within ``eps`` (DBSCAN's border-point rule), else is noise (-1). Assignment
works in batches in two passes: first against a fixed subset of the core points (most
customers sit well inside a cluster and find one there), then, for those still
unassigned, against all core points. Noise status is exactly "no core point within
eps"; for a customer within eps of two clusters, the cluster is that of the nearest core
point found in the first pass that reaches it, an ambiguity DBSCAN itself resolves by
visiting order.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted

from customer_chunks.ml.sampling import DEFAULT_BATCH_SIZE, batches, row_hashes, sample_indices

NOISE = -1
MAX_MIN_SAMPLES = 100
FIRST_PASS_CORE_POINTS = 2_000
_MIN_POSITIVE_EPS = 1e-9


def default_min_samples(n_samples: int, n_features: int) -> int:
    """``max(2 * n_features, ceil(ln n_samples))``, capped at 100 and at
    ``max(2, n_samples // 2)``. O(1)."""
    rule = max(2 * int(n_features), math.ceil(math.log(max(n_samples, 1))))
    return int(max(2, min(rule, MAX_MIN_SAMPLES, max(2, n_samples // 2))))


def knee_eps(k_distances: np.ndarray) -> float:
    """eps at the knee of the sorted k-distance curve.

    Sorts the distances ascending, scales index and distance to [0, 1] and returns the
    distance of the point farthest below the chord joining the ends. When every
    k-distance is equal, returns it; a knee at 0 (many identical customers) is replaced
    by the smallest positive k-distance, and by 1e-9 if all are 0 (identical points are
    neighbours at any positive eps). O(s log s).
    """
    values = np.sort(np.asarray(k_distances, dtype=np.float64))
    if values.size == 0:
        return 1.0
    span = values[-1] - values[0]
    if values.size < 3 or span <= 0:
        eps = float(values[-1])
    else:
        x = np.linspace(0.0, 1.0, values.size)
        y = (values - values[0]) / span
        eps = float(values[int(np.argmax(x - y))])
    if eps <= 0:
        positive = values[values > 0]
        eps = float(positive[0]) if positive.size else _MIN_POSITIVE_EPS
    return eps


class SampledDBSCAN(ClusterMixin, BaseEstimator):
    """DBSCAN fitted on a uniform sample; every customer labelled via the core points.

    Parameters
    ----------
    eps : float or None
        Neighbourhood radius; ``None`` estimates it with :func:`knee_eps`.
    min_samples : int or None
        Core-point threshold (counting the point itself); ``None`` uses
        :func:`default_min_samples`.
    sample_size : int or None
        Rows DBSCAN is fitted on (uniform, seeded); ``None`` uses all rows.
    batch_size : int
        Rows per assignment batch.
    random_state : int
        Seed for the sample and for the first-pass subset of core points.

    Attributes
    ----------
    labels_ (0, 1, ... or -1 for noise), is_outlier_ (``labels_ == -1``), eps_,
    min_samples_, sample_indices_ (sampled rows), core_points_, core_labels_,
    n_clusters_.

    Scales: O(s^2 * p) worst case for the k-distances and DBSCAN on s = min(n,
    sample_size) rows (identical rows are collapsed into one weighted point first, so
    memory grows with the neighbourhood sizes among distinct rows, at most s^2 indices);
    O(n * min(c, 2,000) * p) for the first assignment pass and O(u * c * p) for the
    u customers it leaves unassigned, c being the number of core points (<= s).
    """

    def __init__(
        self,
        eps: float | None = None,
        min_samples: int | None = None,
        sample_size: int | None = 20_000,
        batch_size: int = DEFAULT_BATCH_SIZE,
        random_state: int = 0,
    ):
        self.eps = eps
        self.min_samples = min_samples
        self.sample_size = sample_size
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: np.ndarray, y=None) -> SampledDBSCAN:
        X = np.asarray(X, dtype=np.float64)
        n, p = X.shape
        if n == 0:
            raise ValueError("cannot fit DBSCAN on 0 rows")
        rows = sample_indices(n, self.sample_size, self.random_state)
        sample = X[rows]
        s = rows.size
        if self.min_samples is None:
            self.min_samples_ = default_min_samples(s, p)
        else:
            self.min_samples_ = int(self.min_samples)
        if self.eps is None:
            k = min(self.min_samples_, s)
            distances, _ = NearestNeighbors(n_neighbors=k).fit(sample).kneighbors(sample)
            self.eps_ = knee_eps(distances[:, -1])
        else:
            self.eps_ = float(self.eps)
        # identical customers are collapsed into one weighted point (exactly DBSCAN on the
        # sample, but neighbourhood lists grow with distinct points, not duplicates)
        _, first, inverse, counts = np.unique(
            row_hashes(sample), return_index=True, return_inverse=True, return_counts=True
        )
        order = np.argsort(first, kind="stable")  # keep the sample's row order
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        distinct = sample[first[order]]
        model = DBSCAN(eps=self.eps_, min_samples=self.min_samples_).fit(
            distinct, sample_weight=counts[order]
        )
        sample_labels = model.labels_[position[inverse.reshape(-1)]].astype(np.int64)
        self.sample_indices_ = rows
        self.core_points_ = distinct[model.core_sample_indices_]
        self.core_labels_ = model.labels_[model.core_sample_indices_].astype(np.int64)
        self.n_clusters_ = int(np.unique(self.core_labels_).size)
        if s == n:
            self.labels_ = sample_labels
        else:
            self.labels_ = self.predict(X)
            self.labels_[rows] = sample_labels
        self.is_outlier_ = self.labels_ == NOISE
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Cluster of a core point within eps of each row, else -1; in batches."""
        check_is_fitted(self, "core_points_")
        X = np.asarray(X, dtype=np.float64)
        labels = np.full(X.shape[0], NOISE, dtype=np.int64)
        n_core = self.core_points_.shape[0]
        if n_core == 0:
            return labels
        if n_core > FIRST_PASS_CORE_POINTS:
            subset = sample_indices(n_core, FIRST_PASS_CORE_POINTS, self.random_state)
            first = NearestNeighbors(n_neighbors=1).fit(self.core_points_[subset])
            first_labels = self.core_labels_[subset]
        else:
            first, first_labels = None, None
        full = NearestNeighbors(n_neighbors=1).fit(self.core_points_)
        for part in batches(X.shape[0], self.batch_size):
            block = X[part]
            block_labels = np.full(block.shape[0], NOISE, dtype=np.int64)
            pending = np.arange(block.shape[0])
            if first is not None:
                distance, index = first.kneighbors(block)
                near = distance[:, 0] <= self.eps_
                block_labels[near] = first_labels[index[near, 0]]
                pending = np.flatnonzero(~near)
            if pending.size:
                distance, index = full.kneighbors(block[pending])
                near = distance[:, 0] <= self.eps_
                block_labels[pending[near]] = self.core_labels_[index[near, 0]]
            labels[part] = block_labels
        return labels
