"""Principal components of the prepared features, for plotting customers in 2-3 dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from customer_chunks.ml.sampling import DEFAULT_BATCH_SIZE, batches

MAX_COMPONENTS = 3
SCORE_COLUMNS = [f"pca_{i}" for i in range(1, MAX_COMPONENTS + 1)]
EXPLAINED_VARIANCE_COLUMNS = ["component", "explained_variance_ratio", "cumulative"]
LOADING_COLUMNS = ["component", "feature", "loading"]


@dataclass
class PcaResult:
    """Scores (n, 3) with NaN for missing components, the two description tables, and the
    fitted scikit-learn ``PCA`` (None when skipped) to score more rows with
    :func:`pca_scores`."""

    scores: np.ndarray
    explained_variance: pd.DataFrame
    loadings: pd.DataFrame
    note: str | None = None
    model: PCA | None = None


def pca_scores(
    model: PCA | None, X: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE
) -> np.ndarray:
    """``pca_1..pca_3`` of each row of the prepared matrix ``X`` under a fitted ``model``:
    (n, 3), NaN for components the model does not have (all NaN when ``model`` is None).
    O(n * p) in batches of ``batch_size`` rows."""
    X = np.asarray(X, dtype=np.float64)
    scores = np.full((X.shape[0], MAX_COMPONENTS), np.nan)
    if model is None:
        return scores
    for part in batches(X.shape[0], batch_size):
        scores[part, : model.n_components_] = model.transform(X[part])
    return scores


def fit_pca(
    X: np.ndarray,
    feature_names: Sequence[str],
    random_state: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> PcaResult:
    """Fit PCA with ``min(3, p, n)`` components and score every row.

    Takes the prepared (n, p) matrix and its column names; returns a :class:`PcaResult`
    with ``scores`` (always 3 columns, ``pca_1..pca_3``; components that do not exist
    are NaN), ``explained_variance`` (component 1..c, explained_variance_ratio,
    cumulative) and ``loadings`` (component, feature, loading: the unit-norm component
    vector, sign fixed by scikit-learn so the result is deterministic). With fewer than
    2 rows or no variance at all, every score is NaN, the tables are empty and ``note``
    says why.

    Scales: O(n * p^2) to fit on all rows (covariance eigen-decomposition, cheap for
    p = 20), O(n * p) to score, in batches.
    """
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    scores = np.full((n, MAX_COMPONENTS), np.nan)
    empty = PcaResult(
        scores,
        pd.DataFrame(columns=EXPLAINED_VARIANCE_COLUMNS),
        pd.DataFrame(columns=LOADING_COLUMNS),
    )
    if n < 2 or p == 0:
        empty.note = f"PCA skipped: needs at least 2 customers and 1 feature (got {n}, {p})"
        return empty
    if not np.any(X.std(axis=0) > 0):
        empty.note = "PCA skipped: every feature is constant"
        return empty
    n_components = min(MAX_COMPONENTS, p, n)
    model = PCA(n_components=n_components, random_state=random_state).fit(X)
    scores = pca_scores(model, X, batch_size)
    ratio = model.explained_variance_ratio_
    explained = pd.DataFrame(
        {
            "component": np.arange(1, n_components + 1, dtype=np.int64),
            "explained_variance_ratio": ratio,
            "cumulative": np.cumsum(ratio),
        }
    )
    loadings = pd.DataFrame(
        {
            "component": np.repeat(np.arange(1, n_components + 1, dtype=np.int64), p),
            "feature": np.tile(np.asarray(list(feature_names), dtype=object), n_components),
            "loading": model.components_.reshape(-1),
        }
    )
    return PcaResult(scores, explained, loadings, model=model)
