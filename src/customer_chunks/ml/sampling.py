"""Deterministic row samples and batches shared by the models.

Every sample in the package is drawn here, from row positions, with a seeded
``numpy.random.Generator``. Callers sort customers by ``customer_id`` first (the
pipeline does), so a sample depends on the set of customers, not on their row order.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

DEFAULT_BATCH_SIZE = 100_000


def sample_indices(n_rows: int, sample_size: int | None, random_state: int = 0) -> np.ndarray:
    """Return sorted row positions of a uniform sample without replacement.

    Takes the number of rows, the wanted size (``None`` or >= ``n_rows`` means all rows)
    and a seed; returns an int64 array of at most ``sample_size`` sorted positions.
    O(n) time for the permutation when sampling, O(sample) memory for the result.
    """
    if sample_size is None or sample_size >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    rng = np.random.default_rng(random_state)
    chosen = rng.choice(n_rows, size=int(sample_size), replace=False)
    return np.sort(chosen).astype(np.int64)


def row_hashes(X: np.ndarray) -> np.ndarray:
    """Return one uint64 hash per row (equal rows, equal hashes; -0.0 equals 0.0). O(n * p)."""
    normalised = np.ascontiguousarray(X, dtype=np.float64) + 0.0
    return pd.util.hash_pandas_object(pd.DataFrame(normalised), index=False).to_numpy()


def count_distinct_rows(X: np.ndarray) -> int:
    """Return the number of distinct rows of a 2-D array (by hash). O(n log n) time."""
    if len(X) == 0:
        return 0
    return int(np.unique(row_hashes(X)).size)


def batches(n_rows: int, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[slice]:
    """Yield consecutive slices covering ``range(n_rows)``, ``batch_size`` rows each."""
    step = max(1, int(batch_size))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))
