"""Drift of the current customers against the fitted reference: PSI per feature.

The reference is the feature distribution of the run that fitted the segments, kept as
decile bins (:func:`reference_bins`: edges and the share of reference customers in each
bin). The current data is binned on the same edges and compared with the population
stability index,

    PSI = sum over bins of (current_share - reference_share) * ln(current_share / reference_share)

with every share floored at :data:`SHARE_FLOOR` so an empty bin gives a large but finite
value. The same index on segment shares measures how the segment mix shifted.
Status per row: ``stable`` below 0.1, ``moderate`` below 0.25, ``major`` otherwise
(the usual credit-scoring thresholds); a retrain is recommended when any row is major.

Scales: O(n * p) for binning (one ``searchsorted`` per feature).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from customer_chunks.ml.features import column_as_float

N_BINS = 10
SHARE_FLOOR = 1e-4
STABLE_BELOW = 0.1
MODERATE_BELOW = 0.25
BIN_COLUMNS = ["feature", "bin", "lower_edge", "reference_share"]
DRIFT_COLUMNS = ["kind", "name", "psi", "status", "recommends_refit"]


def status(psi: float) -> str:
    """``stable`` (< 0.1), ``moderate`` (< 0.25) or ``major``."""
    if psi < STABLE_BELOW:
        return "stable"
    return "moderate" if psi < MODERATE_BELOW else "major"


def psi(reference_share: np.ndarray, current_share: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    ref = np.maximum(np.asarray(reference_share, dtype=float), SHARE_FLOOR)
    cur = np.maximum(np.asarray(current_share, dtype=float), SHARE_FLOOR)
    return float(((cur - ref) * np.log(cur / ref)).sum())


def _bin_index(values: np.ndarray, lower_edges: np.ndarray) -> np.ndarray:
    """Bin of each value: the last bin whose lower edge is <= value (nulls: bin -1)."""
    index = np.searchsorted(lower_edges, values, side="right") - 1
    index = np.clip(index, 0, lower_edges.size - 1)
    return np.where(np.isfinite(values), index, -1)


def reference_bins(
    frame: pd.DataFrame, features: Sequence[str], n_bins: int = N_BINS
) -> pd.DataFrame:
    """Decile bins of each feature in ``frame`` (the fitted reference).

    Returns one row per (feature, bin): ``lower_edge`` (the first bin's is -inf, so every
    value falls in a bin) and ``reference_share``; bin -1 holds the share of nulls.
    Ties collapse quantile edges, so a feature may have fewer than ``n_bins`` bins."""
    rows = []
    for feature in features:
        values = column_as_float(frame, feature)
        finite = values[np.isfinite(values)]
        edges = (
            np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))
            if (finite.size)
            else np.array([])
        )
        lower = np.concatenate([[-np.inf], edges])
        index = _bin_index(values, lower)
        counts = np.bincount(index + 1, minlength=lower.size + 1) / max(values.size, 1)
        rows.append(
            {"feature": feature, "bin": -1, "lower_edge": np.nan, "reference_share": counts[0]}
        )
        rows += [
            {"feature": feature, "bin": b, "lower_edge": lower[b], "reference_share": counts[b + 1]}
            for b in range(lower.size)
        ]
    return pd.DataFrame(rows, columns=BIN_COLUMNS)


def feature_drift(bins: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """PSI of each feature of ``frame`` against ``bins`` (:func:`reference_bins`).

    Returns :data:`DRIFT_COLUMNS` rows with kind ``feature``."""
    rows = []
    for feature, group in bins.groupby("feature", sort=True):
        group = group.sort_values("bin")
        lower = group.loc[group["bin"] >= 0, "lower_edge"].to_numpy(dtype=float)
        values = column_as_float(frame, feature)
        index = _bin_index(values, lower)
        current = np.bincount(index + 1, minlength=lower.size + 1) / max(values.size, 1)
        value = psi(group["reference_share"].to_numpy(dtype=float), current)
        rows.append(_row("feature", feature, value))
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


def share_drift(reference: pd.Series, current: pd.Series) -> pd.DataFrame:
    """PSI of the segment mix: ``reference`` and ``current`` are customer counts indexed
    by stable segment id (ids missing on one side count as 0). One row, kind ``segments``."""
    ids = sorted(set(reference.index) | set(current.index))
    ref = reference.reindex(ids, fill_value=0).to_numpy(dtype=float)
    cur = current.reindex(ids, fill_value=0).to_numpy(dtype=float)
    value = psi(ref / max(ref.sum(), 1), cur / max(cur.sum(), 1))
    return pd.DataFrame([_row("segments", "segment_shares", value)], columns=DRIFT_COLUMNS)


def _row(kind: str, name: str, value: float) -> dict:
    label = status(value)
    return {
        "kind": kind,
        "name": name,
        "psi": value,
        "status": label,
        "recommends_refit": label == "major",
    }


def recommends_refit(drift: pd.DataFrame) -> bool:
    """True when any feature or the segment mix drifted majorly (PSI >= 0.25)."""
    return bool(drift["recommends_refit"].any())
