"""K-Means: choosing k on a sample, fitting on a sample, assigning everyone in batches.

How k is chosen (:data:`SELECTION_RULE`): the Ward tree of the customers
(:class:`~customer_chunks.ml.hierarchical.WardHierarchy`, built once) is cut at every
candidate k in ``[k_min, k_max]``, and K-Means is run on one uniform sample starting
from the means of those Ward clusters (:func:`ward_centres`). Starting from Ward avoids
the K-Means local optimum reported in issue 12 (one persona split in two, two others
merged: adjusted Rand 0.65 with K-Means++ starts, while Ward reached 0.94); K-Means then
moves the centres only as far as its own objective asks. Two pieces of evidence are
computed per k, both in the one transformed feature space:

* ``agreement``: the adjusted Rand index between the K-Means and the Ward partitions on
  the sample. Two algorithms with different biases (K-Means: equal-variance round
  groups, sensitive to its start; Ward: greedy merges that never undo) only agree when
  the groups are really there: K-Means, started from Ward's answer, keeps it. On planted
  data they agree at 0.95 to 1.00 at the true k and fall to 0.6-0.9 once k splits a
  real group, where K-Means moves away from Ward's arbitrary split.
* ``silhouette`` (K-Means) and ``hierarchical_silhouette`` (Ward) on one shared
  sub-sample: how well separated the partition is.

A k is trusted when the agreement is at least :data:`AGREEMENT_THRESHOLD` (when no k
reaches it: within 0.05 of the best agreement). The chosen k is the trusted k with the
highest mean silhouette of the two algorithms; ties go to the smaller k. Silhouette alone
leans to few clusters (k = 2 splits the one-time buyers from the rest, and both
algorithms agree on that too); agreement alone cannot tell 2 true groups from 5. The
silhouette among agreed partitions picks the most separated real structure; the
algorithm with the higher silhouette at that k is then recommended (pipeline).

Without a Ward tree (``hierarchy_cut=None``) every k is trusted and the rule reduces to
the best K-Means silhouette. Davies-Bouldin, Calinski-Harabasz, the elbow and
``mean_rank`` (the mean of the four ranks, the rule before issue 12) are still reported,
for comparison only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from customer_chunks.ml.sampling import (
    DEFAULT_BATCH_SIZE,
    batches,
    count_distinct_rows,
    sample_indices,
)
from customer_chunks.ml.validation import SILHOUETTE_SAMPLE_SIZE, silhouette_scores

AGREEMENT_THRESHOLD = 0.95
SELECTION_RULE = (
    "per k on one sample: the Ward tree cut at k and K-Means started from its cluster "
    "means; trusted when their adjusted "
    f"Rand agreement >= {AGREEMENT_THRESHOLD} (or, if no k reaches it, within 0.05 of the "
    "best); chosen = the trusted k with the highest mean silhouette of the two; ties to "
    "the smaller k"
)
SEARCH_N_INIT = 4
# The k search computes 2 silhouettes per k (K-Means and Ward) in one distance pass over
# this many sampled customers: O(m^2 * (p + 2 * sum of k)), about 4 times cheaper than
# the 10,000 of the final validation, and within about 0.01 of it on planted data.
SEARCH_SILHOUETTE_SAMPLE_SIZE = 5_000
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
    "hierarchical_silhouette",
    "agreement",
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
    init : (n_clusters, p) array or None
        Starting centres (e.g. the means of the Ward clusters, see :func:`ward_centres`):
        one run from there instead of ``n_init`` K-Means++ starts. Ignored when
        ``n_clusters`` has to be lowered.

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
        init: np.ndarray | None = None,
    ):
        self.n_clusters = n_clusters
        self.init = init
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
        use_init = self.init is not None and len(self.init) == self.n_clusters_
        with threadpool_limits(limits=REPRODUCIBLE_OPENMP_THREADS, user_api="openmp"):
            model = KMeans(
                n_clusters=self.n_clusters_,
                init=np.asarray(self.init, dtype=np.float64) if use_init else "k-means++",
                n_init=1 if use_init else self.n_init,
                random_state=self.random_state,
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


def ward_centres(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray | None:
    """Mean of each of the ``k`` clusters ``0..k-1`` of ``labels`` over the rows of ``X``;
    None when a cluster has no row. O(n * p)."""
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=k)[:k]
    if labels.size == 0 or (counts == 0).any() or labels.max() >= k:
        return None
    centres = np.empty((k, X.shape[1]))
    for j in range(X.shape[1]):
        centres[:, j] = np.bincount(labels, weights=X[:, j], minlength=k)
    return centres / counts[:, None]


def fit_kmeans(
    X: np.ndarray,
    k: int,
    random_state: int = 0,
    fit_sample_size: int | None = FIT_SAMPLE_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    init: np.ndarray | None = None,
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
        init=init,
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


def _trusted_best(candidates: pd.DataFrame) -> int:
    """The k of :data:`SELECTION_RULE` among candidate rows (k >= 2)."""
    agreement = candidates["agreement"]
    if agreement.notna().any():
        best = float(agreement.max())
        bar = AGREEMENT_THRESHOLD if best >= AGREEMENT_THRESHOLD else best - 0.05
        trusted = candidates.loc[agreement >= bar]
        separation = trusted[["silhouette", "hierarchical_silhouette"]].mean(axis=1)
    else:
        trusted = candidates
        separation = trusted["silhouette"]
    separation = separation.fillna(-np.inf)
    order = np.lexsort((trusted["k"].to_numpy(), -separation.to_numpy()))
    return int(trusted["k"].to_numpy()[order[0]])


def _ranks(values: pd.Series, higher_is_better: bool) -> pd.Series:
    ranks = values.rank(ascending=not higher_is_better, method="average")
    return ranks.fillna(float(len(values)))


def select_k(
    X: np.ndarray,
    *,
    k_min: int,
    k_max: int,
    sample_size: int,
    random_state: int,
    force_k: int | None = None,
    log: Callable[[str], None] | None = None,
    silhouette_sample_size: int | None = SILHOUETTE_SAMPLE_SIZE,
    hierarchy_cut: Callable[[int], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Evaluate K-Means for each k in ``[k_min, k_max]`` and choose one.

    Takes the prepared (n, p) matrix; ``force_k`` overrides the choice (the candidates
    are still evaluated so the table shows how the forced k compares; a forced k outside
    the range gets its own row). Returns ``(candidates, chosen_k)``: one row per k with
    the columns in :data:`CANDIDATE_COLUMNS` and ``is_chosen`` set on one row.

    ``hierarchy_cut(k)`` gives the Ward labels of every row of ``X`` cut at k (see the
    module docstring); ``None`` leaves ``hierarchical_silhouette`` and ``agreement``
    null and chooses by the K-Means silhouette alone.

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
                    "hierarchical_silhouette": np.nan,
                    "agreement": np.nan,
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
    ward = {k: np.asarray(hierarchy_cut(k))[rows] for k in ks} if hierarchy_cut else {}
    fits = {}
    with threadpool_limits(limits=REPRODUCIBLE_OPENMP_THREADS, user_api="openmp"):
        for k in ks:
            init = ward_centres(sample, ward[k], k) if k in ward else None
            if init is None:
                model = KMeans(n_clusters=k, n_init=SEARCH_N_INIT, random_state=random_state)
            else:
                model = KMeans(n_clusters=k, init=init, n_init=1, random_state=random_state)
            fits[k] = model.fit(sample)
    sub = sample_indices(sample.shape[0], silhouette_sample_size, random_state)
    label_sets = [fits[k].labels_[sub] for k in ks] + [ward[k][sub] for k in ward]
    silhouettes = silhouette_scores(sample[sub], label_sets)
    records = []
    for i, (k, silhouette) in enumerate(zip(ks, silhouettes[: len(ks)], strict=True)):
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
                "hierarchical_silhouette": silhouettes[len(ks) + i] if ward else np.nan,
                "agreement": float(adjusted_rand_score(labels, ward[k])) if ward else np.nan,
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
        chosen = _trusted_best(frame.loc[in_range])
    frame["is_chosen"] = frame["k"] == chosen
    frame["is_elbow"] = frame["is_elbow"].astype(bool)
    frame = frame[CANDIDATE_COLUMNS].reset_index(drop=True)
    return frame, int(chosen)
