"""Stable segment ids: match this run's segments to the previous run's by their centres.

The rule (also in README "Segments over time" and the segment_centroids YAML):

1. Every run stores each segment's centre twice (:func:`segment_centres`): in the run's
   scaled space (``center_scaled``) and mapped back to raw feature units
   (``center_raw``: the scaled centre through the inverse of the fitted preprocessing,
   i.e. ``x = center_scaled * scale + center``, then ``expm1`` for log-transformed
   features). ``center_raw`` is what a later run reads.
2. The next run maps the previous ``center_raw`` forward through its OWN fitted
   preprocessing, so old and new centres are compared in the new run's scaled space (on
   identical input the preprocessing is identical and the distance is exactly 0).
3. Cost = Euclidean distance between centres over the features both runs used, with
   every distance above ``max_distance`` replaced by one large constant;
   :func:`scipy.optimize.linear_sum_assignment` finds the pairing of least total cost,
   i.e. the most pairs within the threshold and, among those, the closest.
4. A pair whose distance is at most ``max_distance`` (var ``segment_match_max_distance``,
   in standard-deviation units of the scaled space) is the same group: the new segment
   takes the old stable id and name. A new segment left without such a pair gets a new
   id (one above every id ever used; its name gets " (new <id>)" when a kept segment
   already has it); an old id left without one is ``retired``.

Scales: O(k_old * k_new * p); k is at most a few dozen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from customer_chunks.ml.features import FeaturePreprocessor

CENTROID_COLUMNS = [
    "stable_segment_id",
    "segment_id",
    "segment_name",
    "feature",
    "center_scaled",
    "center_raw",
]
MATCH_COLUMNS = [
    "stable_segment_id",
    "segment_id",
    "segment_name",
    "match_status",
    "previous_segment_name",
    "match_distance",
]
MATCH_STATUSES = ("matched", "new", "retired")
_TOO_FAR = 1e9


def segment_centres(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segment ids sorted, centres): the mean of the scaled rows of each label.

    Noise (label -1) has no centre. O(n * p)."""
    labels = np.asarray(labels)
    ids = np.unique(labels[labels >= 0])
    centres = np.vstack([X[labels == i].mean(axis=0) for i in ids]) if ids.size else None
    if centres is None:
        centres = np.empty((0, X.shape[1]))
    return ids, centres


def to_raw(centres: np.ndarray, preprocessor: FeaturePreprocessor) -> np.ndarray:
    """Map scaled centres back to raw feature units (inverse of the preprocessing)."""
    raw = np.empty_like(centres, dtype=float)
    for j, name in enumerate(preprocessor.feature_names_out_):
        values = centres[:, j] * preprocessor.scales_[name] + preprocessor.centers_[name]
        raw[:, j] = np.expm1(values) if name in preprocessor.log_features_ else values
    return raw


def to_scaled(raw: pd.DataFrame, preprocessor: FeaturePreprocessor) -> np.ndarray:
    """Map raw centres (one column per feature) through ``preprocessor`` (no clipping:
    a centre is an average, and clipping would hide how far it moved)."""
    out = np.empty((len(raw), len(preprocessor.feature_names_out_)), dtype=float)
    for j, name in enumerate(preprocessor.feature_names_out_):
        values = raw[name].to_numpy(dtype=float)
        if name in preprocessor.log_features_:
            values = np.log1p(np.maximum(values, 0.0))
        out[:, j] = (values - preprocessor.centers_[name]) / preprocessor.scales_[name]
    return out


def match_segments(
    new_ids: np.ndarray,
    new_scaled: np.ndarray,
    new_names: dict[int, str],
    preprocessor: FeaturePreprocessor,
    previous: pd.DataFrame | None,
    max_distance: float,
    max_id_ever: int = 0,
) -> tuple[dict[int, int], pd.DataFrame]:
    """Give this run's segments stable ids by matching them to ``previous``.

    ``previous`` is the last run's segment_centroids (columns :data:`CENTROID_COLUMNS`;
    only ``stable_segment_id``, ``segment_name``, ``feature`` and ``center_raw`` are
    read), or None/empty on a first run. Returns ``(stable_of, matches)``: the stable id
    of each new segment id, and one row per stable id (columns :data:`MATCH_COLUMNS`):
    matched and new segments of this run, and retired ids of the previous one.
    Retired rows keep their previous name and have a null segment_id. ``max_id_ever``
    is the largest stable id any earlier run used (retired ids are never reused).
    """
    new_ids = [int(i) for i in new_ids]
    if previous is None or previous.empty:
        stable_of = {i: i for i in new_ids}
        rows = [
            {
                "stable_segment_id": i,
                "segment_id": i,
                "segment_name": new_names.get(i),
                "match_status": "new",
                "previous_segment_name": None,
                "match_distance": np.nan,
            }
            for i in new_ids
        ]
        return stable_of, pd.DataFrame(rows, columns=MATCH_COLUMNS)

    wide = previous.pivot_table(
        index="stable_segment_id", columns="feature", values="center_raw", aggfunc="first"
    )
    names_before = previous.drop_duplicates("stable_segment_id").set_index("stable_segment_id")[
        "segment_name"
    ]
    shared = [f for f in preprocessor.feature_names_out_ if f in wide.columns]
    old_ids = [int(i) for i in wide.index]
    columns = [preprocessor.feature_names_out_.index(f) for f in shared]
    if shared and old_ids and new_ids:
        old_scaled = to_scaled(wide.reindex(columns=preprocessor.feature_names_out_), preprocessor)
        old_scaled = old_scaled[:, columns]
        cost = np.sqrt(((old_scaled[:, None, :] - new_scaled[None, :, columns]) ** 2).sum(axis=2))
        cost = np.nan_to_num(cost, nan=_TOO_FAR, posinf=_TOO_FAR)
        # Pairs beyond the threshold cost the same large amount, so the assignment first
        # makes as many pairs within the threshold as it can, then the closest ones.
        # (On raw distances one long pair could push two close ones apart.)
        rows_old, cols_new = linear_sum_assignment(np.where(cost <= max_distance, cost, _TOO_FAR))
    else:
        cost, rows_old, cols_new = None, np.array([], int), np.array([], int)

    stable_of: dict[int, int] = {}
    rows = []
    used_old = set()
    for r, c in zip(rows_old, cols_new, strict=True):
        if cost[r, c] <= max_distance:
            old, new = old_ids[r], new_ids[c]
            stable_of[new] = old
            used_old.add(old)
            rows.append(
                {
                    "stable_segment_id": old,
                    "segment_id": new,
                    "segment_name": names_before.get(old),
                    "match_status": "matched",
                    "previous_segment_name": names_before.get(old),
                    "match_distance": float(cost[r, c]),
                }
            )
    next_id = max([*old_ids, int(max_id_ever)], default=0)
    taken = {row["segment_name"] for row in rows}
    for new in new_ids:
        if new in stable_of:
            continue
        next_id += 1
        stable_of[new] = next_id
        c = new_ids.index(new)
        distance = float(cost[:, c].min()) if cost is not None and cost.size else np.nan
        name = new_names.get(new)
        if name in taken:  # a kept segment already has this name: say which is which
            name = f"{name} (new {next_id})"
        rows.append(
            {
                "stable_segment_id": next_id,
                "segment_id": new,
                "segment_name": name,
                "match_status": "new",
                "previous_segment_name": None,
                "match_distance": distance,
            }
        )
    for r, old in enumerate(old_ids):
        if old in used_old:
            continue
        distance = float(cost[r].min()) if cost is not None and cost.size else np.nan
        rows.append(
            {
                "stable_segment_id": old,
                "segment_id": None,
                "segment_name": names_before.get(old),
                "match_status": "retired",
                "previous_segment_name": names_before.get(old),
                "match_distance": distance,
            }
        )
    matches = pd.DataFrame(rows, columns=MATCH_COLUMNS).sort_values("stable_segment_id")
    matches["segment_id"] = matches["segment_id"].astype("Int64")
    return stable_of, matches.reset_index(drop=True)


def centroid_frame(
    ids: np.ndarray,
    scaled: np.ndarray,
    preprocessor: FeaturePreprocessor,
    stable_of: dict[int, int],
    names: dict[int, str],
) -> pd.DataFrame:
    """The segment_centroids output: one row per (segment, used feature)."""
    raw = to_raw(scaled, preprocessor)
    rows = [
        {
            "stable_segment_id": stable_of[int(i)],
            "segment_id": int(i),
            "segment_name": names.get(int(i)),
            "feature": name,
            "center_scaled": float(scaled[a, j]),
            "center_raw": float(raw[a, j]),
        }
        for a, i in enumerate(ids)
        for j, name in enumerate(preprocessor.feature_names_out_)
    ]
    return pd.DataFrame(rows, columns=CENTROID_COLUMNS)
