"""Segments over time: stable ids, stored centres, drift, from one segmentation run.

:func:`lifecycle_outputs` runs after :func:`~customer_chunks.ml.pipeline.run_segmentation`
and reads only its published outputs (``preprocessing`` and ``customer_segments``), so the
segmentation itself is unchanged. It returns four more outputs for the marts:

* ``segment_centroids``: per (segment, feature) the centre in scaled and raw units, with
  the stable id (see :mod:`customer_chunks.ml.matching` for the rule);
* ``segment_matches``: per stable id, matched / new / retired, and the centre distance;
* ``segment_assignments``: per customer, the stable id of their segment and the stable id
  of the NEAREST stored centre (what SQL scoring reproduces without Python);
* ``feature_reference``: decile bins of each segmentation feature (the reference later
  runs measure drift against);
* ``drift``: PSI of each feature against the previous run's reference and of the
  segment mix against the previous run's shares (no rows on a first run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from customer_chunks.ml.drift import (
    BIN_COLUMNS,
    DRIFT_COLUMNS,
    feature_drift,
    recommends_refit,
    reference_bins,
    share_drift,
)
from customer_chunks.ml.exceptions import SegmentationError
from customer_chunks.ml.features import FeaturePreprocessor
from customer_chunks.ml.matching import (
    CENTROID_COLUMNS,
    MATCH_COLUMNS,
    centroid_frame,
    match_segments,
    segment_centres,
    to_scaled,
)
from customer_chunks.ml.pipeline import run_segmentation
from customer_chunks.ml.settings import SegmentationSettings

ASSIGNMENT_COLUMNS = ["customer_id", "stable_segment_id", "nearest_stable_segment_id"]


def nearest_centre(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Row index of the nearest centre (squared Euclidean; ties: the lower index).
    O(n * k * p) in batches of 100,000 rows."""
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], 100_000):
        block = X[start : start + 100_000]
        distance = ((block[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        out[start : start + 100_000] = distance.argmin(axis=1)
    return out


def score_customers(
    features: pd.DataFrame, preprocessing: pd.DataFrame, centroids: pd.DataFrame
) -> pd.DataFrame:
    """Assign customers to the nearest stored centre without refitting.

    Takes features (customer_id + feature columns), the segmentation rows of
    preprocessing_parameters and segment_centroids. Returns customer_id and
    stable_segment_id, sorted by customer_id. O(n * k * p)."""
    preprocessor = FeaturePreprocessor.from_parameters(preprocessing)
    wide = centroids.pivot_table(
        index="stable_segment_id", columns="feature", values="center_scaled", aggfunc="first"
    ).reindex(columns=preprocessor.feature_names_out_)
    frame = features.sort_values("customer_id", kind="stable").reset_index(drop=True)
    X = preprocessor.transform(frame)
    index = nearest_centre(X, wide.to_numpy(dtype=float))
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "stable_segment_id": wide.index.to_numpy(dtype=np.int64)[index],
        }
    )


def lifecycle_outputs(
    features: pd.DataFrame,
    outputs: dict[str, pd.DataFrame],
    *,
    segmentation_features: Sequence[str],
    max_distance: float,
    previous_centroids: pd.DataFrame | None = None,
    previous_reference: pd.DataFrame | None = None,
    previous_counts: pd.Series | None = None,
    max_id_ever: int = 0,
    score_only: bool = False,
) -> dict[str, pd.DataFrame]:
    """The lifecycle outputs of one segmentation run (see the module docstring).

    ``score_only`` (a run that does not refit, var refit): customers are assigned to the
    nearest of the last run's centres (mapped into this run's scaled space) instead of
    taking the fitted segments; the centres, ids, names and drift reference stay those
    of the last fit, and every id is ``kept``.

    ``features`` is the frame given to run_segmentation, ``outputs`` its result.
    ``previous_*`` come from the last published warehouse (None on a first run):
    its segment_centroids, feature_reference and customer counts per stable id.
    ``max_distance`` is the var segment_match_max_distance (no default here).
    When the run fell back to one segment without preprocessing, there are no centres:
    segment ids are kept as they are and centroids and matches are empty.
    """
    frame = features.sort_values("customer_id", kind="stable").reset_index(drop=True)
    segments = outputs["customer_segments"].sort_values("customer_id").reset_index(drop=True)
    labels = segments["segment_id"].to_numpy(dtype=np.int64)
    names = dict(zip(segments["segment_id"].astype(int), segments["segment_name"], strict=False))
    try:
        preprocessor = FeaturePreprocessor.from_parameters(outputs["preprocessing"])
        X = preprocessor.transform(frame)
    except (SegmentationError, ValueError):
        preprocessor = None
    if (
        score_only
        and preprocessor is not None
        and previous_centroids is not None
        and len(previous_centroids)
    ):
        return _scored_outputs(
            frame,
            segments,
            preprocessor,
            X,
            previous_centroids,
            previous_reference,
            previous_counts,
        )
    if preprocessor is None:
        stable_of = {int(i): int(i) for i in np.unique(labels)}
        centroids = pd.DataFrame(columns=CENTROID_COLUMNS)
        matches = pd.DataFrame(columns=MATCH_COLUMNS)
    else:
        ids, centres = segment_centres(X, labels)
        stable_of, matches = match_segments(
            ids,
            centres,
            names,
            preprocessor,
            previous_centroids,
            max_distance,
            max_id_ever,
        )
        # Matched segments keep their earlier name.
        names = {
            int(i): (matches.loc[matches["segment_id"] == i, "segment_name"].iloc[0]) for i in ids
        }
        centroids = centroid_frame(ids, centres, preprocessor, stable_of, names)
    stable = np.array([stable_of[int(i)] for i in labels], dtype=np.int64)
    if preprocessor is not None and len(centroids):
        nearest = score_customers(frame, outputs["preprocessing"], centroids)[
            "stable_segment_id"
        ].to_numpy()
    else:  # a fallback without fitted centres: nothing to be nearest to
        nearest = pd.array([None] * len(stable), dtype="Int64")
    assignments = pd.DataFrame(
        {
            "customer_id": segments["customer_id"].to_numpy(),
            "stable_segment_id": stable,
            "nearest_stable_segment_id": nearest,
        }
    )
    reference = reference_bins(frame, list(segmentation_features))
    drift = _drift(frame, previous_reference, previous_counts, assignments)
    return {
        "segment_centroids": centroids,
        "segment_matches": matches,
        "segment_assignments": assignments,
        "feature_reference": reference,
        "drift": drift,
    }


REFIT_CHOICES = ("auto", "always", "never")


def _drift(frame, reference, counts, assignments) -> pd.DataFrame:
    if reference is None or reference.empty:
        return pd.DataFrame(columns=DRIFT_COLUMNS)
    parts = [feature_drift(reference[BIN_COLUMNS], frame)]
    if counts is not None and len(counts):
        parts.append(share_drift(counts, assignments["stable_segment_id"].value_counts()))
    return pd.concat(parts, ignore_index=True)[DRIFT_COLUMNS]


def _scored_outputs(
    frame: pd.DataFrame,
    segments: pd.DataFrame,
    preprocessor: FeaturePreprocessor,
    X: np.ndarray,
    previous_centroids: pd.DataFrame,
    previous_reference: pd.DataFrame | None,
    previous_counts: pd.Series | None,
) -> dict[str, pd.DataFrame]:
    """Lifecycle outputs of a run that scores against the last fit instead of refitting."""
    raw = previous_centroids.pivot_table(
        index="stable_segment_id", columns="feature", values="center_raw", aggfunc="first"
    )
    raw = raw.reindex(columns=preprocessor.feature_names_out_)
    ids = raw.index.to_numpy(dtype=np.int64)
    centres = to_scaled(raw, preprocessor)
    names = (
        previous_centroids.drop_duplicates("stable_segment_id")
        .set_index("stable_segment_id")["segment_name"]
        .to_dict()
    )
    names = {int(k): v for k, v in names.items()}
    identity = {int(i): int(i) for i in ids}
    centroids = centroid_frame(ids, centres, preprocessor, identity, names)
    nearest = ids[nearest_centre(X, centres)]
    assignments = pd.DataFrame(
        {
            "customer_id": segments["customer_id"].to_numpy(),
            "stable_segment_id": nearest,
            "nearest_stable_segment_id": nearest,
        }
    )
    matches = pd.DataFrame(
        {
            "stable_segment_id": ids,
            "segment_id": pd.array([None] * ids.size, dtype="Int64"),
            "segment_name": [names[int(i)] for i in ids],
            "match_status": "kept",
            "previous_segment_name": [names[int(i)] for i in ids],
            "match_distance": 0.0,
        },
        columns=MATCH_COLUMNS,
    )
    reference = (
        previous_reference[BIN_COLUMNS].reset_index(drop=True)
        if previous_reference is not None and len(previous_reference)
        else reference_bins(frame, list(preprocessor.feature_names_out_))
    )
    return {
        "segment_centroids": centroids,
        "segment_matches": matches,
        "segment_assignments": assignments,
        "feature_reference": reference,
        "drift": _drift(frame, previous_reference, previous_counts, assignments),
    }


def refit_needed(
    refit: str,
    features: pd.DataFrame,
    previous_centroids: pd.DataFrame | None,
    previous_reference: pd.DataFrame | None,
) -> bool:
    """Whether this run refits the segments (see :func:`run_segmentation_over_time`)."""
    if refit not in REFIT_CHOICES:
        raise ValueError(f"refit must be one of {REFIT_CHOICES}, got {refit!r}")
    if refit == "always" or previous_centroids is None or previous_centroids.empty:
        return True
    if refit == "never" or previous_reference is None or previous_reference.empty:
        return False
    return recommends_refit(feature_drift(previous_reference[BIN_COLUMNS], features))


def run_segmentation_over_time(
    features: pd.DataFrame,
    settings: SegmentationSettings,
    *,
    max_distance: float,
    refit: str,
    previous_centroids: pd.DataFrame | None = None,
    previous_reference: pd.DataFrame | None = None,
    previous_counts: pd.Series | None = None,
    max_id_ever: int = 0,
    log=print,
) -> dict[str, pd.DataFrame]:
    """What ml_segmentation_run returns: :func:`run_segmentation` with ``settings`` plus
    :func:`lifecycle_outputs` against the last published run (``previous_*``,
    ``max_id_ever``; None/0 on a first run). ``max_distance`` and ``refit`` are the vars
    segment_match_max_distance and refit (no defaults here: they live in dbt_project.yml).

    ``refit`` decides whether the segments are refitted: ``always``;
    ``never`` (only a first run fits; later runs score); ``auto`` (fit on a first run
    or when :func:`refit_needed` finds a feature whose PSI against the last fit is major,
    else score). A run that scores assigns every customer to the nearest stored centre
    and keeps ids, names, centres and drift reference of the last fit; the descriptive
    marts (profiles, validation, PCA, dim_customers' kmeans/hierarchical ids) still come
    from a fit of this run's data at the last run's k (or ``force_k``).
    ``dim_customers.segment_id`` is the stable id of ``segment_assignments``."""
    refit_now = refit_needed(refit, features, previous_centroids, previous_reference)
    if not refit_now:
        if settings.force_k is None:  # the last fit's k
            k_used = int(previous_centroids["stable_segment_id"].nunique())
            settings = dataclasses.replace(settings, force_k=k_used)
        log(f"segmentation: refit={refit}: scoring against the last fit (k={settings.force_k})")
    frames = run_segmentation(features, settings, log=log)
    frames.update(
        lifecycle_outputs(
            features,
            frames,
            segmentation_features=settings.segmentation_features,
            max_distance=max_distance,
            previous_centroids=previous_centroids,
            previous_reference=previous_reference,
            previous_counts=previous_counts,
            max_id_ever=max_id_ever,
            score_only=not refit_now,
        )
    )
    return frames
