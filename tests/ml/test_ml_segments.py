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


# Ordinary customers, and one archetype per frame: (name it must get, its feature centres,
# the features its description must quote). Chosen so that the RFM-like rules alone would
# misname the first four (Lost, Loyal Regulars, Lost or Big Spenders, Engaged Browsers).
CORE = {
    "recency_days": 60.0,
    "frequency": 8.0,
    "avg_order_value": 60.0,
    "tenure_days": 700.0,
    "engagement_score": 30.0,
    "cart_to_purchase_rate": 0.6,
    "web_sessions_90d": 3.0,
}
ARCHETYPES = {
    "window_shoppers": (
        "Engaged Browsers",
        {
            "recency_days": 250,
            "frequency": 1.5,
            "engagement_score": 70,
            "cart_to_purchase_rate": 0.15,
            "web_sessions_90d": 15,
        },
        {"cart_to_purchase_rate", "engagement_score", "web_sessions_90d"},
    ),
    "small_basket_regulars": (
        "Frequent Small-Basket Buyers",
        {"recency_days": 15, "frequency": 20, "avg_order_value": 8},
        {"avg_order_value"},
    ),
    "big_ticket_rare": (
        "Big-Ticket Occasional Buyers",
        {"recency_days": 80, "frequency": 1.5, "avg_order_value": 900},
        {"avg_order_value"},
    ),
    "engaged_newcomers": (
        "New Customers",
        {
            "recency_days": 10,
            "frequency": 1.2,
            "avg_order_value": 40,
            "tenure_days": 15,
            "engagement_score": 60,
            "web_sessions_90d": 8,
        },
        {"tenure_days"},
    ),
    "champions": (
        "Champions",
        {"recency_days": 5, "frequency": 40, "avg_order_value": 90, "engagement_score": 60},
        {"frequency", "monetary", "gross_revenue"},
    ),
    "dormant_big_spenders": (
        "At-Risk High Spenders",
        {"recency_days": 600, "frequency": 25, "avg_order_value": 120, "engagement_score": 3},
        {"recency_days", "monetary", "gross_revenue", "engagement_score"},
    ),
    "lapsed_one_time": (
        "Lapsed one-time buyers",
        {"recency_days": 700, "frequency": 1.0, "avg_order_value": 40, "engagement_score": 5},
        {"recency_days", "frequency"},
    ),
}


def archetype_frame(centres: dict[str, float], n_core: int = 500, n: int = 100) -> pd.DataFrame:
    """``n_core`` ordinary customers then ``n`` of the archetype, with 20% log-normal noise."""
    rng = np.random.default_rng(7)
    rows = {}
    for feature, core in CORE.items():
        centre = np.r_[np.full(n_core, core), np.full(n, centres.get(feature, core))]
        rows[feature] = centre * rng.lognormal(0.0, 0.2, centre.size)
    rows["frequency"] = np.maximum(1.0, np.round(rows["frequency"]))
    rows["cart_to_purchase_rate"] = np.clip(rows["cart_to_purchase_rate"], 0, 1)
    rows["monetary"] = rows["gross_revenue"] = rows["frequency"] * rows["avg_order_value"]
    return pd.DataFrame({"customer_id": np.arange(n_core + n).astype(str), **rows})


@pytest.mark.parametrize("archetype", list(ARCHETYPES))
def test_each_archetype_is_named_for_what_sets_it_apart(archetype: str) -> None:
    expected, centres, quoted = ARCHETYPES[archetype]
    frame = archetype_frame(centres)
    labels = np.r_[np.full(500, 1), np.full(100, 2)]
    profile = profile_segments(frame, labels, "kmeans").set_index("segment_id")
    assert profile.loc[2, "segment_name"] == expected
    description = profile.loc[2, "description"]
    listed = description.split("Sets it apart: ")[1].split(", ")
    assert len(listed) == 3
    # the description quotes a feature the name rests on, with the segment's mean
    assert {item.split(" ")[0] for item in listed} & quoted, description
    assert profile["segment_name"].is_unique
    assert not profile["segment_name"].str.contains(r"\d").any()


def test_all_archetypes_together_get_distinct_unnumbered_names() -> None:
    frames, labels = [], []
    rng_order = list(ARCHETYPES)
    frames.append(archetype_frame({}, n_core=500, n=0))
    labels.append(np.full(500, 0))
    for position, archetype in enumerate(rng_order, start=1):
        frames.append(archetype_frame(ARCHETYPES[archetype][1], n_core=0, n=100))
        labels.append(np.full(100, position))
    frame = pd.concat(frames, ignore_index=True)
    frame["customer_id"] = np.arange(len(frame)).astype(str)
    profile = profile_segments(frame, np.concatenate(labels), "kmeans")
    names = profile["segment_name"].tolist()
    assert len(set(names)) == len(names)
    assert not any(char.isdigit() for name in names for char in name)


def test_archetype_rules_yield_to_stronger_differences() -> None:
    # engaged and rarely buying, but what sets them apart most is that they just joined
    assert name_segment({"engagement_score": 0.8, "frequency": -0.7, "tenure_days": -1.9})[0] == (
        "New Customers"
    )
    assert name_segment({"engagement_score": 1.3, "cart_to_purchase_rate": -1.8})[0] == (
        "Engaged Browsers"
    )
    # web visits alone count as browsing
    assert name_segment({"web_sessions_90d": 1.5, "frequency": -0.9})[0] == "Engaged Browsers"
    # small baskets bought often: named for the baskets only when they differ more than
    # the order count does
    assert name_segment({"avg_order_value": -1.3, "frequency": 0.8})[0] == (
        "Frequent Small-Basket Buyers"
    )
    assert name_segment({"avg_order_value": -0.6, "frequency": 1.4})[0] == "Loyal Regulars"
    assert name_segment({"avg_order_value": 1.8, "frequency": -0.7})[0] == (
        "Big-Ticket Occasional Buyers"
    )
    # the classic names still apply where they fit
    assert name_segment({"avg_order_value": 2.0, "monetary": 1.3, "frequency": 0.2})[0] == (
        "Big Spenders"
    )
