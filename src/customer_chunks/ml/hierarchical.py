"""Ward hierarchical clustering that scales: Ward linkage on K-Means micro-clusters.

Exact Ward on n customers needs O(n^2) memory. Instead, customers are first grouped into
a few hundred K-Means micro-clusters (fitted on a sample, every customer assigned in
batches), and Ward's method is run on those micro-clusters, each weighted by its number
of customers: the merge cost of clusters A and B is Ward's increase in within-cluster
sum of squares, ``n_A * n_B / (n_A + n_B) * ||c_A - c_B||^2``, with ``c`` the mean of
the customers in the cluster. With one customer per leaf this is exactly scipy's
``linkage(method="ward")``, and the reported distance uses scipy's scale
(``sqrt(2 * cost)``, the Euclidean distance for two single points). With at most
``n_micro_clusters`` customers, the customers themselves are the leaves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from customer_chunks.ml.kmeans import SampledKMeans
from customer_chunks.ml.sampling import DEFAULT_BATCH_SIZE

LINKAGE_COLUMNS = [
    "node_id",
    "left_child",
    "right_child",
    "distance",
    "n_members",
    "n_leaves",
    "is_leaf",
]
MAX_AUTOMATIC_CLUSTERS = 10


def weighted_ward_linkage(centers: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Ward agglomeration of weighted points; returns a scipy-style linkage matrix.

    Takes m centres (m, p) and positive weights (m,); returns an (m - 1, 4) float64
    array ``[left, right, distance, n_leaves]`` per merge, in merge order, leaves
    numbered 0..m-1 and the cluster formed by merge i numbered m + i (scipy's
    convention, so ``scipy.cluster.hierarchy.dendrogram`` can draw it). The
    smaller id is on the left; among equal costs the first pair in row order merges.
    O(m^3) time and O(m^2) memory: meant for a few hundred leaves.
    """
    centers = np.asarray(centers, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    m = centers.shape[0]
    if m < 2:
        return np.zeros((0, 4), dtype=np.float64)
    size = m + m - 1
    means = np.zeros((size, centers.shape[1]))
    means[:m] = centers
    mass = np.zeros(size)
    mass[:m] = weights
    leaves = np.zeros(size)
    leaves[:m] = 1
    # cost[i, j] between active slots; slot s holds node ids[s]
    slot_node = np.arange(m)
    squared = np.einsum("ij,ij->i", centers, centers)
    gaps = squared[:, None] + squared[None, :] - 2.0 * centers @ centers.T
    np.maximum(gaps, 0.0, out=gaps)
    cost = (weights[:, None] * weights[None, :]) / (weights[:, None] + weights[None, :]) * gaps
    np.fill_diagonal(cost, np.inf)
    active = np.ones(m, dtype=bool)
    out = np.zeros((m - 1, 4), dtype=np.float64)
    for step in range(m - 1):
        flat = int(np.argmin(cost))
        a, b = divmod(flat, m)
        a, b = min(a, b), max(a, b)
        node_a, node_b = slot_node[a], slot_node[b]
        new = m + step
        mass[new] = mass[node_a] + mass[node_b]
        means[new] = (mass[node_a] * means[node_a] + mass[node_b] * means[node_b]) / mass[new]
        leaves[new] = leaves[node_a] + leaves[node_b]
        left, right = min(node_a, node_b), max(node_a, node_b)
        out[step] = [left, right, np.sqrt(2.0 * cost[a, b]), leaves[new]]
        # the merged cluster takes slot a; slot b is retired
        active[b] = False
        slot_node[a] = new
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        others = np.flatnonzero(active)
        others = others[others != a]
        if others.size:
            other_nodes = slot_node[others]
            diff = means[other_nodes] - means[new]
            other_mass = mass[other_nodes]
            squared_gap = np.einsum("ij,ij->i", diff, diff)
            row = other_mass * mass[new] / (other_mass + mass[new]) * squared_gap
            cost[a, others] = row
            cost[others, a] = row
    # guard against rounding making the (monotone) Ward heights decrease by an ulp
    out[:, 2] = np.maximum.accumulate(out[:, 2])
    return out


def _cut_leaves(linkage: np.ndarray, n_leaves: int, n_clusters: int) -> np.ndarray:
    """Cluster (0..n_clusters-1) of each leaf after the first n_leaves - n_clusters merges.

    Clusters are numbered in order of their smallest leaf."""
    parent = np.arange(n_leaves + linkage.shape[0])
    for step in range(n_leaves - n_clusters):
        left, right = int(linkage[step, 0]), int(linkage[step, 1])
        parent[left] = n_leaves + step
        parent[right] = n_leaves + step
    roots = np.empty(n_leaves, dtype=np.int64)
    for leaf in range(n_leaves):
        node = leaf
        while parent[node] != node:
            node = parent[node]
        roots[leaf] = node
    _, first, codes = np.unique(roots, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[codes.reshape(-1)]


class WardHierarchy(ClusterMixin, BaseEstimator):
    """Ward clustering on K-Means micro-clusters (customers themselves when few).

    Parameters
    ----------
    n_clusters : int or None
        Where to cut the tree for ``labels_``. ``None`` picks the cut in 2..10 clusters
        with the largest jump between the last merge done and the next one (ties: fewer
        clusters). Lowered to the number of leaves when larger.
    n_micro_clusters : int
        Number of leaves (K-Means micro-clusters); capped by the distinct customers.
    sample_size : int
        Rows the micro-cluster K-Means is fitted on (every row is then assigned).
    batch_size : int
        Rows per assignment batch.
    random_state : int
        Seed for the sample and the micro-cluster K-Means.

    Attributes
    ----------
    labels_ : cluster 0..n_clusters_-1 of each row (clusters numbered by smallest leaf).
    leaf_labels_ : leaf (micro-cluster) of each row.
    leaf_centers_, leaf_sizes_ : mean and number of customers of each leaf.
    linkage_matrix_ : scipy linkage matrix over the leaves.
    n_clusters_, n_leaves_, note_.

    Scales: O(s * m * p) to fit the micro-clusters on s = min(n, sample_size) rows,
    O(n * m * p) to assign every row, O(m^3) for the Ward step (m = leaves).
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        n_micro_clusters: int = 200,
        sample_size: int = 20_000,
        batch_size: int = DEFAULT_BATCH_SIZE,
        random_state: int = 0,
    ):
        self.n_clusters = n_clusters
        self.n_micro_clusters = n_micro_clusters
        self.sample_size = sample_size
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: np.ndarray, y=None) -> WardHierarchy:
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        if n == 0:
            raise ValueError("cannot fit a hierarchy on 0 rows")
        notes = []
        if n <= self.n_micro_clusters:
            leaf_labels = np.arange(n, dtype=np.int64)
            centers = X.copy()
            sizes = np.ones(n, dtype=np.int64)
        else:
            micro = SampledKMeans(
                n_clusters=self.n_micro_clusters,
                n_init=1,
                fit_sample_size=self.sample_size,
                batch_size=self.batch_size,
                random_state=self.random_state,
            ).fit(X)
            if micro.note_:
                notes.append(f"micro-clusters: {micro.note_}")
            raw = micro.labels_
            sizes_all = np.bincount(raw, minlength=micro.n_clusters_)
            kept = np.flatnonzero(sizes_all > 0)
            remap = np.full(sizes_all.size, -1, dtype=np.int64)
            remap[kept] = np.arange(kept.size)
            leaf_labels = remap[raw]
            sizes = sizes_all[kept]
            centers = np.empty((kept.size, X.shape[1]))
            for j in range(X.shape[1]):
                centers[:, j] = np.bincount(leaf_labels, weights=X[:, j], minlength=kept.size)
            centers /= sizes[:, None]
        self.leaf_labels_ = leaf_labels
        self.leaf_centers_ = centers
        self.leaf_sizes_ = sizes
        self.n_leaves_ = int(sizes.size)
        self.linkage_matrix_ = weighted_ward_linkage(centers, sizes)
        if self.n_clusters is None:
            self.n_clusters_ = self._largest_gap_cut()
        else:
            self.n_clusters_ = max(1, min(int(self.n_clusters), self.n_leaves_))
            if self.n_clusters_ < int(self.n_clusters):
                notes.append(
                    f"n_clusters lowered from {self.n_clusters} to {self.n_clusters_}: "
                    f"only {self.n_leaves_} leaves"
                )
        self.note_ = "; ".join(notes) or None
        self.labels_ = self.cut(self.n_clusters_)
        return self

    def _largest_gap_cut(self) -> int:
        m = self.n_leaves_
        if m < 3:
            return m
        heights = np.concatenate([[0.0], self.linkage_matrix_[:, 2]])
        best_k, best_gap = 2, -np.inf
        for k in range(2, min(MAX_AUTOMATIC_CLUSTERS, m) + 1):
            # cutting at k clusters keeps merges 1..m-k; the next merge is m-k+1
            gap = heights[m - k + 1] - heights[m - k]
            if gap > best_gap:
                best_k, best_gap = k, gap
        return best_k

    def cut(self, n_clusters: int) -> np.ndarray:
        """Labels (0..n-1) of every fitted row when the tree is cut into ``n_clusters``.

        ``n_clusters`` is clamped to [1, number of leaves]. O(n + m) time."""
        check_is_fitted(self, "linkage_matrix_")
        k = max(1, min(int(n_clusters), self.n_leaves_))
        leaf_clusters = _cut_leaves(self.linkage_matrix_, self.n_leaves_, k)
        return leaf_clusters[self.leaf_labels_]

    def linkage_frame(self) -> pd.DataFrame:
        """The tree as a table, for drawing a dendrogram later.

        One row per leaf (``is_leaf``; children null, distance 0) and one per merge, with
        columns node_id, left_child, right_child, distance, n_members (customers under
        the node), n_leaves, is_leaf. Merge rows, in node_id order, are exactly
        ``linkage_matrix_`` (left_child, right_child, distance, n_leaves)."""
        check_is_fitted(self, "linkage_matrix_")
        m = self.n_leaves_
        members = np.concatenate([self.leaf_sizes_, np.zeros(max(m - 1, 0), dtype=np.int64)])
        z = self.linkage_matrix_
        for step in range(z.shape[0]):
            members[m + step] = members[int(z[step, 0])] + members[int(z[step, 1])]
        frame = pd.DataFrame(
            {
                "node_id": np.arange(m + z.shape[0], dtype=np.int64),
                "left_child": pd.array([None] * m + [int(v) for v in z[:, 0]], dtype="Int64"),
                "right_child": pd.array([None] * m + [int(v) for v in z[:, 1]], dtype="Int64"),
                "distance": np.concatenate([np.zeros(m), z[:, 2]]),
                "n_members": members.astype(np.int64),
                "n_leaves": np.concatenate([np.ones(m), z[:, 3]]).astype(np.int64),
                "is_leaf": np.arange(m + z.shape[0]) < m,
            }
        )
        return frame[LINKAGE_COLUMNS]
