"""Stable ids, transitions and drift over consecutive runs with planted persona moves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from moves import FEATURES, runs

from customer_chunks.ml.drift import psi, status
from customer_chunks.ml.features import FeaturePreprocessor
from customer_chunks.ml.lifecycle import lifecycle_outputs, refit_needed
from customer_chunks.ml.matching import match_segments
from customer_chunks.ml.pipeline import run_segmentation

from ml_helpers import Recorder, segmentation_settings

MAX_DISTANCE = 1.0  # the test's own threshold; the project's lives in dbt_project.yml
SETTINGS = segmentation_settings(
    segmentation_features=FEATURES,
    force_k=4,
    ml_bootstrap_resamples=0,
    recommended_algorithm="kmeans",
)


def _lifecycle(frame: pd.DataFrame, outputs: dict, previous: dict | None, **options) -> dict:
    """The lifecycle outputs of a segmentation's ``outputs`` against run ``previous``."""
    kwargs = {}
    if previous is not None:
        counts = previous["segment_assignments"]["stable_segment_id"].value_counts()
        kwargs = {
            "previous_centroids": previous["segment_centroids"],
            "previous_reference": previous["feature_reference"],
            "previous_counts": counts,
            "max_id_ever": int(previous["segment_matches"]["stable_segment_id"].max()),
        }
    return lifecycle_outputs(
        frame,
        outputs,
        segmentation_features=FEATURES,
        max_distance=MAX_DISTANCE,
        **kwargs,
        **options,
    )


def _run(frame: pd.DataFrame, previous: dict | None) -> dict:
    """One run: segmentation, then the lifecycle outputs against ``previous``."""
    outputs = run_segmentation(frame, SETTINGS, log=Recorder())
    outputs.update(_lifecycle(frame, outputs, previous))
    return outputs


def _stable_by_customer(outputs: dict) -> pd.Series:
    return outputs["segment_assignments"].set_index("customer_id")["stable_segment_id"]


def _id_of_group(outputs: dict, frame: pd.DataFrame) -> dict[int, int]:
    """The stable id that holds most customers of each planted persona."""
    joined = frame.set_index("customer_id")["true_group"].to_frame()
    joined["stable"] = _stable_by_customer(outputs)
    return joined.groupby("true_group")["stable"].agg(lambda s: s.mode().iloc[0]).to_dict()


@pytest.fixture(scope="module")
def three_runs():
    frames, planted = runs(engagement_shift_last=12.0)
    results = []
    for frame in frames:
        results.append(_run(frame, results[-1] if results else None))
    return frames, planted, results


def test_ids_stay_with_groups_that_did_not_change(three_runs):
    frames, _, results = three_runs
    first = _id_of_group(results[0], frames[0])
    assert sorted(first.values()) == [1, 2, 3, 4]
    for frame, outputs in zip(frames[1:], results[1:], strict=True):
        assert _id_of_group(outputs, frame) == first
        matches = outputs["segment_matches"]
        assert set(matches["match_status"]) == {"matched"}
        assert (matches["match_distance"] <= MAX_DISTANCE).all()


def test_matched_segments_keep_their_names(three_runs):
    _, _, results = three_runs
    names = [
        r["segment_centroids"]
        .drop_duplicates("stable_segment_id")
        .set_index("stable_segment_id")["segment_name"]
        for r in results
    ]
    for later in names[1:]:
        pd.testing.assert_series_equal(later.sort_index(), names[0].sort_index())


def test_transitions_equal_the_planted_moves(three_runs):
    frames, planted, results = three_runs
    group_id = _id_of_group(results[0], frames[0])
    for i, moves in enumerate(planted):
        before, after = _stable_by_customer(results[i]), _stable_by_customer(results[i + 1])
        moved = after.index[after.to_numpy() != before.reindex(after.index).to_numpy()]
        assert set(moved) == set(moves)
        for customer, (from_group, to_group) in moves.items():
            assert (before[customer], after[customer]) == (
                group_id[from_group],
                group_id[to_group],
            )


def test_drift_flags_the_feature_that_drifted(three_runs):
    _, _, results = three_runs
    assert results[0]["drift"].empty  # nothing to compare a first run with
    second = results[1]["drift"].set_index("name")
    assert (second["status"] != "major").all(), second
    third = results[2]["drift"].set_index("name")
    assert third.loc["engagement_score", "status"] == "major"
    assert bool(third.loc["engagement_score", "recommends_refit"])
    for feature in ("recency_days", "tenure_days", "monetary"):
        assert third.loc[feature, "status"] == "stable", third
    assert third.loc["segment_shares", "status"] == "stable"


def test_nearest_centre_equals_the_fitted_segment_on_planted_groups(three_runs):
    _, _, results = three_runs
    for outputs in results:
        a = outputs["segment_assignments"]
        assert (a["stable_segment_id"] == a["nearest_stable_segment_id"]).all()


def test_identical_input_gives_identical_ids_and_no_moves():
    frames, _ = runs(moves=())
    first = _run(frames[0], None)
    second = _run(frames[0], first)
    pd.testing.assert_series_equal(_stable_by_customer(first), _stable_by_customer(second))
    # raw -> scaled round trip of the centres: zero up to float rounding
    assert (second["segment_matches"]["match_distance"] < 1e-9).all()
    assert (second["drift"]["psi"] == 0).all()


def test_a_refit_that_numbers_its_segments_otherwise_keeps_the_stable_ids_and_names():
    """The fit numbers segments by revenue, so the same groups can come back under other
    ids; the stable id and name (what dim_customers.segment_id/segment_name show) must not
    change. The second fit's ids and names are permuted here on purpose."""
    frames, _ = runs(moves=())
    first = _run(frames[0], None)
    refit = run_segmentation(frames[0], SETTINGS, log=Recorder())
    segments = refit["customer_segments"]
    ids = sorted(segments["segment_id"].unique())
    permutation = dict(zip(ids, ids[::-1], strict=True))  # 1 <-> 4, 2 <-> 3
    segments = segments.assign(
        segment_id=segments["segment_id"].map(permutation),
        segment_name="renamed " + segments["segment_id"].map(permutation).astype(str),
    )
    refit["customer_segments"] = segments
    second = _lifecycle(frames[0], refit, first)
    # the fit's ids did change for every customer ...
    fit = segments.set_index("customer_id")["segment_id"].sort_index()
    assert (fit != _stable_by_customer(first).sort_index()).all()
    # ... the stable ids and names did not
    pd.testing.assert_series_equal(_stable_by_customer(first), _stable_by_customer(second))
    matches = second["segment_matches"]
    assert set(matches["match_status"]) == {"matched"}
    names_before = first["segment_matches"].set_index("stable_segment_id")["segment_name"]
    names_after = matches.set_index("stable_segment_id")["segment_name"]
    pd.testing.assert_series_equal(names_after.sort_index(), names_before.sort_index())
    # and segment_matches records which fit id each stable id came from
    pairs = dict(zip(matches["segment_id"], matches["stable_segment_id"], strict=True))
    assert pairs == {permutation[i]: i for i in ids}


def test_a_vanished_group_is_retired_and_a_new_group_gets_a_new_id():
    frames, _ = runs(moves=((3, 0, 200),))  # every customer of persona 3 leaves it
    first = _run(frames[0], None)
    second = _run(frames[1], first)
    matches = second["segment_matches"].set_index("stable_segment_id")
    retired = _id_of_group(first, frames[0])[3]
    assert matches.loc[retired, "match_status"] == "retired"
    assert pd.isna(matches.loc[retired, "segment_id"])
    # force_k=4 splits one persona in two: that half is a new segment, id 5 (never 1-4).
    new = matches.loc[matches["match_status"] == "new"]
    assert list(new.index) == [5]


def test_psi_and_status_thresholds():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    assert status(0.0999) == "stable"
    assert status(0.1) == "moderate"
    assert status(0.2499) == "moderate"
    assert status(0.25) == "major"


def test_segments_are_refitted_only_when_refit_says_so(three_runs):
    frames, _, results = three_runs
    centroids, reference = results[0]["segment_centroids"], results[0]["feature_reference"]
    assert refit_needed("always", frames[1], centroids, reference)
    assert not refit_needed("never", frames[2], centroids, reference)
    assert refit_needed("auto", frames[1], None, None)  # first run
    assert not refit_needed("auto", frames[1], centroids, reference)  # no major drift
    assert refit_needed("auto", frames[2], centroids, reference)  # engagement drifted
    with pytest.raises(ValueError, match="refit must be one of"):
        refit_needed("sometimes", frames[1], centroids, reference)


def _one_feature() -> FeaturePreprocessor:
    """A fitted preprocessor of one feature x that leaves values as they are."""
    return FeaturePreprocessor.from_parameters(
        pd.DataFrame(
            [
                {
                    "feature": "x",
                    "is_used": True,
                    "drop_reason": None,
                    "impute_value": 0.0,
                    "is_log_transformed": False,
                    "center": 0.0,
                    "scale": 1.0,
                    "clip": np.nan,
                }
            ]
        )
    )


def test_a_new_segment_never_takes_the_name_of_a_kept_one():
    previous = pd.DataFrame(
        {"stable_segment_id": [1], "segment_name": ["A"], "feature": ["x"], "center_raw": [0.0]}
    )
    _, matches = match_segments(
        np.array([1, 2]),
        np.array([[0.1], [50.0]]),
        {1: "B", 2: "A"},
        _one_feature(),
        previous,
        max_distance=1.0,
    )
    assert list(matches["segment_name"]) == ["A", "A (new 2)"]


def test_assignment_prefers_more_pairs_within_the_threshold():
    """On raw distances the Hungarian pairing of least total cost here pairs X with q
    and Y with p (100 + 9.1 < 0.9 + 110), both too far: nothing would match. With the
    threshold folded into the cost, X keeps its id (0.9 apart) and q is new."""
    preprocessor = _one_feature()
    previous = pd.DataFrame(
        {
            "stable_segment_id": [1, 2],
            "segment_name": ["X", "Y"],
            "feature": ["x", "x"],
            "center_raw": [0.0, 10.0],
        }
    )
    stable_of, matches = match_segments(
        np.array([1, 2]),
        np.array([[0.9], [-100.0]]),
        {1: "p", 2: "q"},
        preprocessor,
        previous,
        max_distance=1.0,
    )
    assert stable_of == {1: 1, 2: 3}
    assert dict(zip(matches["stable_segment_id"], matches["match_status"], strict=True)) == {
        1: "matched",
        2: "retired",
        3: "new",
    }


def test_runs_that_score_keep_every_id_and_move_exactly_the_planted_customers():
    frames, planted = runs()
    results = [_run(frames[0], None)]
    for frame in frames[1:]:
        previous = results[-1]
        outputs = run_segmentation(frame, SETTINGS, log=Recorder())
        outputs.update(_lifecycle(frame, outputs, previous, score_only=True))
        results.append(outputs)
    for i, moves in enumerate(planted):
        before, after = _stable_by_customer(results[i]), _stable_by_customer(results[i + 1])
        moved = after.index[after.to_numpy() != before.reindex(after.index).to_numpy()]
        assert set(moved) == set(moves)
        assert set(results[i + 1]["segment_matches"]["match_status"]) == {"kept"}
        # the stored fit travels unchanged: same raw centres, same drift reference
        pd.testing.assert_series_equal(
            results[i + 1]["segment_centroids"]["center_raw"],
            results[0]["segment_centroids"]["center_raw"],
            rtol=1e-9,
        )
        pd.testing.assert_frame_equal(
            results[i + 1]["feature_reference"], results[0]["feature_reference"]
        )
