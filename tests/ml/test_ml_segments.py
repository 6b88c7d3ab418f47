from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_chunks.ml.segments import (
    PROFILE_COLUMNS,
    name_segment,
    order_segments,
    profile_segments,
    unique_names,
)


def test_order_by_mean_monetary_with_ties_and_noise() -> None:
    labels = np.array([7, 7, 3, 3, 3, 5, 5, -1, 9, 9, 9])
    monetary = np.array([10, 30, 50, 50, 50, 100, np.nan, 1e6, 50, 50, 50], dtype=float)
    ordered = order_segments(labels, monetary)
    # 5 -> mean 100 (NaN ignored); 3 and 9 tie at 50 with equal size -> smaller label first
    expected = {5: 1, 3: 2, 9: 3, 7: 4, -1: -1}
    assert ordered.tolist() == [expected[v] for v in labels]


def test_order_ties_prefer_larger_segments_and_all_null_last() -> None:
    labels = np.array([0, 1, 1, 2, 2])
    monetary = np.array([5.0, 5.0, 5.0, np.nan, np.nan])
    assert order_segments(labels, monetary).tolist() == [2, 1, 1, 3, 3]
    assert order_segments(np.array([-1, -1]), np.array([1.0, 2.0])).tolist() == [-1, -1]


def test_rule_table() -> None:
    assert name_segment({"monetary": 1.2, "frequency": 1.0, "recency_days": -0.8})[0] == (
        "Champions"
    )
    assert name_segment({"monetary": 1.2, "recency_days": 1.0})[0] == "At-Risk High Spenders"
    assert name_segment({"recency_days": 1.5, "frequency": -0.9})[0] == "Lost"
    assert name_segment({"recency_days": 1.5, "frequency": 0.0})[0] == "Lapsing"
    assert name_segment({"tenure_days": -1.0})[0] == "New Customers"
    assert name_segment({"email_open_rate": 1.0, "web_sessions_90d": 1.0})[0] == (
        "Engaged Browsers"
    )
    assert name_segment({})[0] == "Core Customers"
    # missing monetary falls back to gross revenue
    assert name_segment({"monetary": np.nan, "gross_revenue": 2.0})[0] == "Big Spenders"
    name, description, action = name_segment({"recency_days": 2.0, "age": 0.1})
    assert "recency_days +2.0 sd" in description and action
    # one order on average, long ago: named for what it is
    assert name_segment({"recency_days": 1.5, "frequency": -0.9}, {"frequency": 1.0})[0] == (
        "Lapsed one-time buyers"
    )


def population(n_per: int = 50) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    segment = np.repeat([1, 2, 3, 4], n_per)
    recency = np.array([10, 400, 15, 20])[segment - 1] + rng.normal(0, 2, segment.size)
    frequency = np.array([20, 1, 2, 2])[segment - 1] + rng.integers(0, 2, segment.size)
    monetary = np.array([5000, 50, 100, 100])[segment - 1] * rng.uniform(0.9, 1.1, segment.size)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(segment.size).astype(str),
            "recency_days": recency,
            "frequency": frequency.astype(float),
            "monetary": monetary,
            "tenure_days": 500.0,
        }
    )
    return frame, segment


def test_profiles_names_shares_and_means() -> None:
    frame, segment = population()
    labels = segment.copy()
    labels[:3] = -1  # three outliers
    profile = profile_segments(frame, labels, "kmeans")
    assert list(profile.columns) == PROFILE_COLUMNS
    assert profile["segment_id"].tolist() == [1, 2, 3, 4, -1]
    names = dict(zip(profile["segment_id"], profile["segment_name"], strict=True))
    assert names[1] == "Champions"
    assert names[2] == "Lost"
    assert names[-1] == "Outliers"
    assert profile["segment_name"].is_unique
    # descriptions quote the features that set a segment apart, with values
    lost = profile.set_index("segment_id").loc[2, "description"]
    assert "Sets it apart: recency_days 400 vs" in lost and "overall" in lost
    assert profile["share"].sum() == pytest.approx(1.0)
    assert profile["revenue_share"].sum() == pytest.approx(1.0)
    assert profile["n_customers"].tolist() == [47, 50, 50, 50, 3]
    one = profile.set_index("segment_id").loc[2]
    assert one["mean_monetary"] == pytest.approx(frame["monetary"][segment == 2].mean())
    assert np.isnan(one["mean_age"])  # absent feature
    assert (profile["algorithm"] == "kmeans").all()


def test_same_names_are_qualified_by_what_differs() -> None:
    z = pd.DataFrame(
        {
            "monetary": [1.5, 0.2, 0.9, 0.0],
            "recency_days": [1.0, 1.1, 1.0, -1.0],
            "frequency": [-1.0, -1.0, -1.0, 0.0],
        }
    )
    names = unique_names(["Lost", "Lost", "Lost", "Core Customers"], z)
    assert names == [
        "Lost (higher spend)",
        "Lost (lower spend)",
        "Lost (middle spend)",
        "Core Customers",
    ]
    assert not any(name[-1].isdigit() for name in names)
    # identical segments cannot be told apart by any feature
    same = unique_names(["Lost", "Lost"], z.iloc[[0, 0]].reset_index(drop=True))
    assert same == ["Lost (variant 1)", "Lost (variant 2)"]
    four = unique_names(
        ["Lost"] * 4,
        pd.DataFrame({"monetary": [2.0, 1.0, 1.0, 0.0], "tenure_days": [0, 1.0, -1.0, 0]}),
    )
    assert len(set(four)) == 4
    assert four[1] == "Lost (middle spend, longer-standing)"
