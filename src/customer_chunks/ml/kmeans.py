"""K-Means: choosing k on a sample, fitting on a sample, assigning everyone in batches.

How k is chosen (:data:`SELECTION_RULE`): each candidate k in ``[k_min, k_max]`` is fitted
on the same uniform sample; candidates are ranked by silhouette (higher is better),
Davies-Bouldin (lower is better), Calinski-Harabasz (higher is better) and the elbow
distance (the distance of the k's point on the inertia curve from the chord joining the
curve's ends, both axes scaled to [0, 1]; higher is better, the knee is the highest),
ranks averaged, and the k with the best mean rank wins; ties go to the smaller k. A
metric that is undefined for a k ranks last. Silhouette and Calinski-Harabasz lean to
few clusters on overlapping customer data (k = 2 separates big spenders from the rest);
the elbow pulls the other way, so the four together choose a usable number of segments
while clearly separated groups still win on every measure.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from customer_chunks.ml.sampling import (
    DEFAULT_BATCH_SIZE,
    batches,
    count_distinct_rows,
    sample_indices,
)
from customer_chunks.ml.validation import SILHOUETTE_SAMPLE_SIZE, silhouette_scores

SELECTION_RULE = (
    "best mean rank of silhouette (high), Davies-Bouldin (low), Calinski-Harabasz (high) "
    "and elbow distance (high) on one sample; undefined metrics rank last; ties go to the "
    "smaller k"
)
SEARCH_N_INIT = 4
FIT_N_INIT = 4
FIT_SAMPLE_SIZE = 200_000
# scikit-learn's Lloyd step adds per-thread partial sums in the order threads finish;
# with at most 2 threads that order cannot change the result (a + b == b + a), so
# K-Means fits are capped at 2 OpenMP threads to stay bit-for-bit reproducible.
REPRODUCIBLE_OPENMP_THREADS = 2

CANDIDATE_COLUMNS = [
    "k",
    "inertia",
    "silhouette",
    "silhouette_sample_size",
    "davies_bouldin",
    "calinski_harabasz",
    "elbow_distance",
    "is_elbow",
    "mean_rank",
    "is_chosen",
    "fit_sample_size",
    "note",
]


class SampledKMeans(ClusterMixin, BaseEstimator):
    """K-Means fitted on a uniform sample, with batched assignment of every row.

    Parameters
    ----------
    n_clusters : int
        Wanted number of clusters; lowered to the number of distinct rows in the fit
        sample when there are fewer (``n_clusters_`` holds the value used).
    n_init : int
        K-Means++ restarts; the best inertia wins.
    fit_sample_size : int or None
        Rows to fit on (uniform, seeded); ``None`` fits on all rows.
    batch_size : int
        Rows per batch in :meth:`predict`.
    random_state : int
        Seed for the sample and for K-Means.

    Attributes
    ----------
    cluster_centers_, labels_ (every row of the fitted X), inertia_ (on the fit
    sample), n_iter_, n_clusters_, fit_sample_size_, note_ (why ``n_clusters`` was
    lowered, or None).

    Scales: O(s * k * p * iterations * n_init) to fit on s = min(n, fit_sample_size)
    rows, O(n * k * p) to assign, O(batch_size * k) extra memory.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        n_init: int = FIT_N_INIT,
        fit_sample_size: int | None = FIT_SAMPLE_SIZE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        random_state: int = 0,
    ):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.fit_sample_size = fit_sample_size
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: np.ndarray, y=None) -> SampledKMeans:
        X = np.asarray(X, dtype=np.float64)
        if X.shape[0] == 0:
            raise ValueError("cannot fit K-Means on 0 rows")
        rows = sample_indices(X.shape[0], self.fit_sample_size, self.random_state)
        sample = X[rows]
        n_distinct = count_distinct_rows(sample)
        self.n_clusters_ = max(1, min(int(self.n_clusters), n_distinct))
        self.note_ = None
        if self.n_clusters_ < self.n_clusters:
            self.note_ = (
                f"k lowered from {self.n_clusters} to {self.n_clusters_}: "
                f"only {n_distinct} distinct customer(s) in the fit sample"
            )
        with threadpool_limits(limits=REPRODUCIBLE_OPENMP_THREADS, user_api="openmp"):
            model = KMeans(
                n_clusters=self.n_clusters_, n_init=self.n_init, random_state=self.random_state
            ).fit(sample)
        self.model_ = model
        self.cluster_centers_ = model.cluster_centers_
        self.inertia_ = float(model.inertia_)
        self.n_iter_ = int(model.n_iter_)
        self.fit_sample_size_ = int(rows.size)
        self.labels_ = self.predict(X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Index of the nearest centre for each row, computed ``batch_size`` rows at a time."""
        check_is_fitted(self, "model_")
        X = np.asarray(X, dtype=np.float64)
        labels = np.empty(X.shape[0], dtype=np.int64)
        for part in batches(X.shape[0], self.batch_size):
            labels[part] = self.model_.predict(X[part])
        return labels


def fit_kmeans(
    X: np.ndarray,
    k: int,
    random_state: int = 0,
    fit_sample_size: int | None = FIT_SAMPLE_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> SampledKMeans:
    """Fit the final K-Means model with ``k`` clusters.

    Takes the prepared (n, p) matrix, k and a seed; returns a fitted
    :class:`SampledKMeans` whose ``labels_`` cover every row and whose ``predict``
    assigns new rows in batches. Fits on at most ``fit_sample_size`` rows (200,000 by
    default: a uniform sample that size puts centres within noise of a full fit, in a
    couple of seconds on 2 cores), then assigns all rows: O(n * k * p).
    """
    return SampledKMeans(
        n_clusters=k,
        fit_sample_size=fit_sample_size,
        batch_size=batch_size,
        random_state=random_state,
    ).fit(X)


def _knee_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance of each point of a curve to the chord joining its ends, both axes scaled to
    [0, 1]. The knee is the point farthest from the chord."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 3:
        return np.zeros(x.size)
    x_span = x[-1] - x[0]
    y_span = y.max() - y.min()
    if x_span == 0 or y_span == 0:
        return np.zeros(x.size)
    xs = (x - x[0]) / x_span
    ys = (y - y.min()) / y_span
    dx, dy = xs[-1] - xs[0], ys[-1] - ys[0]
    return np.abs(dy * (xs - xs[0]) - dx * (ys - ys[0])) / np.hypot(dx, dy)


def _ranks(values: pd.Series, higher_is_better: bool) -> pd.Series:
    ranks = values.rank(ascending=not higher_is_better, method="average")
    return ranks.fillna(float(len(values)))


def select_k(
    X: np.ndarray,
    k_min: int = 2,
    k_max: int = 10,
    sample_size: int = 20_000,
    random_state: int = 0,
    force_k: int | None = None,
    log: Callable[[str], None] | None = None,
    silhouette_sample_size: int | None = SILHOUETTE_SAMPLE_SIZE,
) -> tuple[pd.DataFrame, int]:
    """Evaluate K-Means for each k in ``[k_min, k_max]`` and choose one.

    Takes the prepared (n, p) matrix; ``force_k`` overrides the choice (the candidates
    are still evaluated so the table shows how the forced k compares; a forced k outside
    the range gets its own row). Returns ``(candidates, chosen_k)``: one row per k with
    the columns in :data:`CANDIDATE_COLUMNS` and ``is_chosen`` set on one row.

    Rule: :data:`SELECTION_RULE`. The range is clamped to the number of distinct rows
    in the sample (a k above it cannot be fitted); with fewer than 2 distinct rows the
    result is a single row with k = 1 and a note.

    Scales with the sample, not with n: every k is fitted (K-Means++, 4 restarts) on one
    uniform sample of ``sample_size`` rows; inertia, Davies-Bouldin and Calinski-Harabasz
    are computed on that sample, the silhouette on a uniform sub-sample of it of
    ``silhouette_sample_size`` rows (the silhouettes of all k share one
    O(silhouette_sample_size^2 * p) distance pass).
    """
    say = log or (lambda message: None)
    X = np.asarray(X, dtype=np.float64)
    rows = sample_indices(X.shape[0], sample_size, random_state)
    sample = X[rows]
    n_distinct = count_distinct_rows(sample)
    if n_distinct < 2:
        message = (
            f"fewer than 2 distinct customers ({n_distinct}) in the sample: one cluster, no metric"
        )
        say(message)
        frame = pd.DataFrame(
            [
                {
                    "k": 1,
                    "inertia": 0.0,
                    "silhouette": np.nan,
                    "silhouette_sample_size": int(rows.size),
                    "davies_bouldin": np.nan,
                    "calinski_harabasz": np.nan,
                    "elbow_distance": 0.0,
                    "is_elbow": False,
                    "mean_rank": np.nan,
                    "is_chosen": True,
                    "fit_sample_size": int(rows.size),
                    "note": message,
                }
            ],
            columns=CANDIDATE_COLUMNS,
        )
        return frame, 1
    low = max(2, int(k_min))
    high = min(max(low, int(k_max)), n_distinct)
    low = min(low, high)
    if high < int(k_max):
        say(f"k range clamped to [{low}, {high}]: {n_distinct} distinct customers in the sample")
    ks = list(range(low, high + 1))
    forced = None
    if force_k is not None:
        forced = max(1, min(int(force_k), n_distinct))
        if forced != int(force_k):
            say(f"forced k={force_k} lowered to {forced}: {n_distinct} distinct customers")
        if forced not in ks:
            ks = sorted(set(ks) | {forced})
    with threadpool_limits(limits=REPRODUCIBLE_OPENMP_THREADS, user_api="openmp"):
        fits = {
            k: KMeans(n_clusters=k, n_init=SEARCH_N_INIT, random_state=random_state).fit(sample)
            for k in ks
        }
    sub = sample_indices(sample.shape[0], silhouette_sample_size, random_state)
    silhouettes = silhouette_scores(sample[sub], [fits[k].labels_[sub] for k in ks])
    records = []
    for k, silhouette in zip(ks, silhouettes, strict=True):
        labels = fits[k].labels_
        n_found = np.unique(labels).size
        defined = 2 <= n_found <= sample.shape[0] - 1
        records.append(
            {
                "k": k,
                "inertia": float(fits[k].inertia_),
                "silhouette": silhouette,
                "silhouette_sample_size": int(sub.size),
                "davies_bouldin": float(davies_bouldin_score(sample, labels))
                if defined
                else np.nan,
                "calinski_harabasz": float(calinski_harabasz_score(sample, labels))
                if defined
                else np.nan,
                "fit_sample_size": int(rows.size),
                "note": None,
            }
        )
    frame = pd.DataFrame(records)
    in_range = frame["k"].between(low, high) & (frame["k"] >= 2)
    frame["elbow_distance"] = 0.0
    frame.loc[in_range, "elbow_distance"] = _knee_distances(
        frame.loc[in_range, "k"].to_numpy(), frame.loc[in_range, "inertia"].to_numpy()
    )
    frame["is_elbow"] = False
    if in_range.sum() >= 3 and frame.loc[in_range, "elbow_distance"].max() > 0:
        frame.loc[frame.loc[in_range, "elbow_distance"].idxmax(), "is_elbow"] = True
    ranked = frame.loc[in_range]
    mean_rank = (
        _ranks(ranked["silhouette"], True)
        + _ranks(ranked["davies_bouldin"], False)
        + _ranks(ranked["calinski_harabasz"], True)
        + _ranks(ranked["elbow_distance"], True)
    ) / 4.0
    frame["mean_rank"] = np.nan
    frame.loc[in_range, "mean_rank"] = mean_rank
    if forced is not None:
        chosen = forced
        frame.loc[frame["k"] == forced, "note"] = "forced k"
    else:
        best = frame.loc[in_range].sort_values(["mean_rank", "k"]).iloc[0]
        chosen = int(best["k"])
    frame["is_chosen"] = frame["k"] == chosen
    frame["is_elbow"] = frame["is_elbow"].astype(bool)
    frame = frame[CANDIDATE_COLUMNS].reset_index(drop=True)
    return frame, int(chosen)
