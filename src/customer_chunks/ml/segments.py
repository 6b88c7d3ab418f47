"""Turning cluster labels into stable, named, described segments.

Segment ids (:func:`order_segments`): 1 is the cluster with the highest mean
``monetary``, 2 the next, ...; ties go to the larger cluster, then the smaller original
label. Noise (-1) stays -1. So ids do not depend on the arbitrary label numbering of an
algorithm.

Names (:func:`name_segment`) come from z-scores of the segment's mean against the
population: ``z = (segment mean - population mean) / population std``, computed on
``sign(x) * log1p(|x|)`` for the heavy-tailed features (so one whale does not make a
segment "high spend") and on the raw value otherwise; a feature that is missing or has
no variance counts as z = 0. "High" means z >= 0.5 and "low" z <= -0.5. The first
matching rule wins:

====  ===========================================  =========================
rule  condition                                    name
====  ===========================================  =========================
1     high engagement or web visits, low purchase  Engaged Browsers
      conversion (cart-to-purchase rate) or low
      frequency, monetary not high, and not set
      apart more by low tenure
2     high monetary, high frequency, recency not   Champions
      high
3     high order value, low frequency, order      Big-Ticket Occasional
      value further from the mean than recency     Buyers
      (and than tenure when tenure is low)
4     high monetary, high recency                  At-Risk High Spenders
5     high monetary                                Big Spenders
6     low order value, further from the mean than  Frequent Small-Basket
      frequency (and than tenure when tenure is    Buyers (Small-Basket
      low), recency not high                       Buyers when frequency is
                                                   not high)
7     high frequency, recency not high             Loyal Regulars
8     high recency, low frequency or low monetary  Lost (Lapsed one-time buyers
                                                   when the mean frequency is at
                                                   most 1.2 orders)
9     high recency                                 Lapsing
10    low tenure                                   New Customers
11    high return rate                             Frequent Returners
12    high engagement                              Engaged Browsers
13    low engagement, low monetary                 Disengaged Low Spenders
14    low recency                                  Recent Promising
15    anything else                                Core Customers
====  ===========================================  =========================

Rules are ordered by specificity: the archetypes that look at engagement, conversion
and order value come before the RFM-like rules they would otherwise fall into, so a
segment is named for the features that set it apart most. Engaged visitors who rarely
buy are long "inactive" as buyers, and small-basket regulars buy often, but neither
recency nor frequency is what distinguishes them.

Recency is days since the last purchase, so "high recency" means long inactive.
Engagement is the z of ``engagement_score`` when present, else the mean z of email open
and click rates, web sessions and minus days since last engagement. Noise is "Outliers".

Names are unique within an algorithm and say what differs (:func:`unique_names`): when
several segments get the same name, the behaviour feature on which their z-scores
differ most qualifies each, e.g. "Lost (higher spend)" and "Lost (lower spend)"; with
more than two, a second feature is added where needed. Each description ends with the
three features that set the segment apart most, with the segment's mean and the mean of
all customers, e.g. "recency_days 540 vs 95 overall".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from customer_chunks.ml.features import FEATURE_COLUMNS, HEAVY_TAILED, column_as_float

NOISE = -1
HIGH = 0.5
LOW = -0.5
PROFILE_COLUMNS = [
    "algorithm",
    "segment_id",
    "segment_name",
    "description",
    "suggested_action",
    "n_customers",
    "share",
    "revenue_share",
] + [f"mean_{feature}" for feature in FEATURE_COLUMNS]

_RULES: dict[str, tuple[str, str]] = {
    "Champions": (
        "Frequent, high-spending customers who bought recently.",
        "Reward and retain: loyalty perks, early access and referral asks; "
        "avoid needless discounts.",
    ),
    "At-Risk High Spenders": (
        "Spent a lot in the past but have not bought for a long time.",
        "Win back personally: a tailored offer on their favourite categories and a service "
        "check-in.",
    ),
    "Big Spenders": (
        "High spend per customer at an ordinary purchase frequency.",
        "Upsell premium lines and bundles; keep service levels high.",
    ),
    "Loyal Regulars": (
        "Buy often and recently, with ordinary spend.",
        "Cross-sell adjacent categories; offer a membership or subscription.",
    ),
    "Big-Ticket Occasional Buyers": (
        "Buy rarely, but each order is large.",
        "Time offers to their purchase cycle; recommend premium and complementary items.",
    ),
    "Frequent Small-Basket Buyers": (
        "Buy often, in small orders.",
        "Raise basket size: bundles, free-shipping thresholds and volume offers.",
    ),
    "Small-Basket Buyers": (
        "Place small orders.",
        "Raise basket size: bundles, free-shipping thresholds and add-on recommendations.",
    ),
    "Lost": (
        "Long inactive, and bought rarely or spent little.",
        "Low-cost reactivation only; suppress from paid media if there is no response.",
    ),
    "Lapsed one-time buyers": (
        "Bought once, long ago, and not since.",
        "One low-cost win-back message; suppress from paid media if there is no response.",
    ),
    "Lapsing": (
        "Used to buy, but not recently.",
        "Time-limited reactivation campaign; ask what changed.",
    ),
    "New Customers": (
        "Joined recently.",
        "Onboarding series and a second-purchase incentive.",
    ),
    "Frequent Returners": (
        "Return a large share of what they buy.",
        "Review return reasons and size or fit guidance; check margin before promoting.",
    ),
    "Engaged Browsers": (
        "Engage with email and the website more than their purchases suggest.",
        "Convert interest: cart reminders, personalised recommendations, a first-order incentive.",
    ),
    "Disengaged Low Spenders": (
        "Little engagement and low spend.",
        "Keep in low-cost channels; test one simple reactivation message.",
    ),
    "Recent Promising": (
        "Bought recently, with low or ordinary frequency and spend.",
        "Nurture toward the next purchase: recommendations and a loyalty programme invitation.",
    ),
    "Core Customers": (
        "Close to the population average on recency, frequency and spend.",
        "Keep in regular campaigns; test offers that move them up.",
    ),
}
# Behaviour features that can qualify a name, with words for (higher, middle, lower).
QUALIFIERS: dict[str, tuple[str, str, str]] = {
    "monetary": ("higher spend", "middle spend", "lower spend"),
    "recency_days": ("longer inactive", "inactive a while", "more recent"),
    "frequency": ("more orders", "middle order count", "fewer orders"),
    "avg_order_value": ("larger baskets", "middle baskets", "smaller baskets"),
    "tenure_days": ("longer-standing", "middle tenure", "newer"),
    "engagement_score": ("more engaged", "middle engagement", "less engaged"),
    "web_sessions_90d": ("more web visits", "some web visits", "fewer web visits"),
    "return_rate": ("more returns", "some returns", "fewer returns"),
    "distinct_categories": ("more categories", "middle categories", "fewer categories"),
}
ONE_TIME_MEAN_FREQUENCY = 1.2
# The features the naming rules read. A customer_features input may give none of them
# (a table of demographics and scores): its segments are then named after the two
# features that set them apart most (:func:`_descriptive_name`).
BEHAVIOUR_FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "gross_revenue",
    "avg_order_value",
    "tenure_days",
    "return_rate",
    "cart_to_purchase_rate",
    "web_sessions_90d",
    "engagement_score",
    "email_open_rate",
    "email_click_rate",
    "days_since_last_engagement",
)
DESCRIPTIVE = (
    "No purchase behaviour was given: named after the features that set it apart.",
    "Target on the features that set it apart; add order lines or purchase metrics for "
    "behaviour-based segments.",
)
_OUTLIERS = (
    "Outliers",
    "DBSCAN noise: customers with no dense group of similar customers nearby.",
    "Review individually (very large or unusual accounts, or data-quality problems) "
    "before targeting.",
)


def order_segments(labels: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    """Relabel clusters 1..k by decreasing mean ``monetary``.

    Takes one label per customer (-1 = noise) and their monetary values (NaN ignored;
    a cluster with no monetary value sorts after all others). Returns int64 segment ids:
    1 = highest mean monetary; ties by larger size, then smaller original label; -1
    stays -1. O(n log n) (one ``np.unique``).
    """
    labels = np.asarray(labels)
    monetary = np.asarray(monetary, dtype=np.float64)
    out = np.full(labels.shape[0], NOISE, dtype=np.int64)
    clustered = labels != NOISE
    if not clustered.any():
        return out
    values, codes = np.unique(labels[clustered], return_inverse=True)
    codes = codes.reshape(-1)
    spend = monetary[clustered]
    finite = np.isfinite(spend)
    sums = np.bincount(codes[finite], weights=spend[finite], minlength=values.size)
    counted = np.bincount(codes[finite], minlength=values.size)
    sizes = np.bincount(codes, minlength=values.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counted > 0, sums / np.maximum(counted, 1), -np.inf)
    order = np.lexsort((values, -sizes, -means))
    rank = np.empty(values.size, dtype=np.int64)
    rank[order] = np.arange(1, values.size + 1)
    out[clustered] = rank[codes]
    return out


def _signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def segment_z_scores(
    features: pd.DataFrame, segment_ids: np.ndarray, extra_features: Sequence[str] = ()
) -> pd.DataFrame:
    """z-score of each segment's mean against the population, per feature.

    Takes the raw feature table and one segment id per row; returns a DataFrame indexed
    by segment id with one column per feature in ``FEATURE_COLUMNS``, then per
    ``extra_features`` (a customer_features input's extra columns; NaN when the
    feature is absent, all null or constant). Heavy-tailed features are compared on
    ``sign(x) * log1p(|x|)``; extra features on their values. O(n * p).
    """
    segment_ids = np.asarray(segment_ids)
    values, codes = np.unique(segment_ids, return_inverse=True)
    codes = codes.reshape(-1)
    result = {}
    for feature in [*FEATURE_COLUMNS, *extra_features]:
        column = column_as_float(features, feature)
        if feature in HEAVY_TAILED:
            column = _signed_log(column)
        finite = np.isfinite(column)
        if finite.sum() < 2:
            result[feature] = np.full(values.size, np.nan)
            continue
        mean, std = column[finite].mean(), column[finite].std()
        sums = np.bincount(codes[finite], weights=column[finite], minlength=values.size)
        counts = np.bincount(codes[finite], minlength=values.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            segment_means = sums / counts
            result[feature] = (segment_means - mean) / std if std > 0 else segment_means * np.nan
    return pd.DataFrame(result, index=pd.Index(values, name="segment_id"))


def _z(z: Mapping[str, float], feature: str) -> float:
    value = z.get(feature, np.nan)
    return 0.0 if value is None or not np.isfinite(value) else float(value)


def _engagement(z: Mapping[str, float]) -> float:
    score = z.get("engagement_score", np.nan)
    if score is not None and np.isfinite(score):
        return float(score)
    parts = [
        z.get("email_open_rate", np.nan),
        z.get("email_click_rate", np.nan),
        z.get("web_sessions_90d", np.nan),
        -z.get("days_since_last_engagement", np.nan),
    ]
    finite = [p for p in parts if p is not None and np.isfinite(p)]
    return float(np.mean(finite)) if finite else 0.0


def name_segment(
    z: Mapping[str, float],
    means: Mapping[str, float] | None = None,
    overall: Mapping[str, float] | None = None,
) -> tuple[str, str, str]:
    """(name, description, suggested action) for a segment from its feature z-scores.

    Applies the rule table in this module's docstring. ``means`` (the segment's mean of
    each feature) and ``overall`` (all customers' means), when given, put values in the
    description: the three features that set the segment apart most (largest |z|), as
    "<feature> <segment mean> vs <overall mean> overall"; without them the z-scores are
    quoted. With other features but none of :data:`BEHAVIOUR_FEATURES` the name says
    which features set the segment apart (:func:`_descriptive_name`). O(p)."""
    finite = {k: float(v) for k, v in z.items() if v is not None and np.isfinite(v)}
    top = sorted(finite.items(), key=lambda item: (-abs(item[1]), item[0]))[:3]
    details = ", ".join(_detail(feature, value, means, overall) for feature, value in top)
    if top and not any(feature in finite for feature in BEHAVIOUR_FEATURES):
        description, action = DESCRIPTIVE
        if details:
            description = f"{description} Sets it apart: {details}."
        return _descriptive_name(top), description, action
    recency = _z(z, "recency_days")
    frequency = _z(z, "frequency")
    monetary = (
        _z(z, "monetary") if np.isfinite(z.get("monetary", np.nan)) else _z(z, "gross_revenue")
    )
    tenure = _z(z, "tenure_days")
    returns = _z(z, "return_rate")
    engagement = _engagement(z)
    order_value = _z(z, "avg_order_value")
    conversion = _z(z, "cart_to_purchase_rate")
    browsing = max(engagement, _z(z, "web_sessions_90d"))
    # how strongly "joined recently" sets the segment apart (0 unless tenure is low): an
    # archetype rule fires only when its own feature sets the segment apart at least as
    # much, so new customers (few orders, small first baskets) stay New Customers
    newness = -tenure if tenure <= LOW else 0.0
    if (
        browsing >= HIGH
        and browsing >= newness
        and (conversion <= LOW or frequency <= LOW)
        and monetary < HIGH
    ):
        name = "Engaged Browsers"
    elif monetary >= HIGH and frequency >= HIGH and recency < HIGH:
        name = "Champions"
    elif order_value >= HIGH and frequency <= LOW and order_value >= max(recency, newness):
        # rare buyers go long between orders: recency only wins when it differs more
        name = "Big-Ticket Occasional Buyers"
    elif monetary >= HIGH and recency >= HIGH:
        name = "At-Risk High Spenders"
    elif monetary >= HIGH:
        name = "Big Spenders"
    elif order_value <= LOW and -order_value >= max(abs(frequency), newness) and recency < HIGH:
        name = "Frequent Small-Basket Buyers" if frequency >= HIGH else "Small-Basket Buyers"
    elif frequency >= HIGH and recency < HIGH:
        name = "Loyal Regulars"
    elif recency >= HIGH and (frequency <= LOW or monetary <= LOW):
        mean_frequency = (means or {}).get("frequency", np.nan)
        one_time = mean_frequency is not None and mean_frequency <= ONE_TIME_MEAN_FREQUENCY
        name = "Lapsed one-time buyers" if one_time else "Lost"
    elif recency >= HIGH:
        name = "Lapsing"
    elif tenure <= LOW:
        name = "New Customers"
    elif returns >= HIGH:
        name = "Frequent Returners"
    elif engagement >= HIGH:
        name = "Engaged Browsers"
    elif engagement <= LOW and monetary <= LOW:
        name = "Disengaged Low Spenders"
    elif recency <= LOW:
        name = "Recent Promising"
    else:
        name = "Core Customers"
    description, action = _RULES[name]
    if top:
        description = f"{description} Sets it apart: {details}."
    return name, description, action


def _descriptive_name(top: list[tuple[str, float]]) -> str:
    """Name like "High spending_score, low annual_income_k": the (at most two) features of ``top``
    (sorted by |z|) at least HIGH standard deviations from the mean; "Average profile"
    when none is."""
    parts = [
        f"{'high' if value > 0 else 'low'} {feature}"
        for feature, value in top[:2]
        if abs(value) >= HIGH
    ]
    if not parts:
        return "Average profile"
    name = ", ".join(parts)
    return name[0].upper() + name[1:]


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def _detail(
    feature: str,
    z: float,
    means: Mapping[str, float] | None,
    overall: Mapping[str, float] | None,
) -> str:
    mean = (means or {}).get(feature, np.nan)
    base = (overall or {}).get(feature, np.nan)
    if mean is None or base is None or not (np.isfinite(mean) and np.isfinite(base)):
        return f"{feature} {z:+.1f} sd"
    return f"{feature} {_number(mean)} vs {_number(base)} overall ({z:+.1f} sd)"


def unique_names(names: list[str], z_scores: pd.DataFrame) -> list[str]:
    """Make segment names unique by saying how same-named segments differ.

    Takes one name per segment (rows of ``z_scores`` in the same order, features as
    columns). Each group of segments sharing a name is qualified by the feature of
    :data:`QUALIFIERS` on which their z-scores spread most: "(higher spend)" /
    "(lower spend)" for two, "(middle spend)" for a third; with more, the middle ones
    are qualified again by the next feature, among themselves. Segments that do not
    differ on any qualifier feature (spread under 0.05 sd) get "(variant n)".
    O(g^2 * q) for g same-named segments and q qualifier features.
    """
    out = list(names)
    groups: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        groups.setdefault(name, []).append(position)
    for name, members in groups.items():
        if len(members) > 1 and name != _OUTLIERS[0]:
            # the qualifier features first, then any extra feature (generic words)
            extra = [f for f in z_scores.columns if f not in FEATURE_COLUMNS]
            for position, label in _qualify(members, z_scores, [*QUALIFIERS, *extra]).items():
                out[position] = f"{name} ({label})"
    return out


def _qualify(members: list[int], z_scores: pd.DataFrame, features: list[str]) -> dict[int, str]:
    usable = [f for f in features if f in z_scores.columns]
    spreads = {
        f: float(np.ptp(z_scores.iloc[members][f].to_numpy()))
        for f in usable
        if np.isfinite(z_scores.iloc[members][f].to_numpy()).all()
    }
    spreads = {f: v for f, v in spreads.items() if v > 0.05}
    if not spreads:
        return {m: f"variant {i}" for i, m in enumerate(members, start=1)}
    feature = max(spreads, key=lambda f: (spreads[f], -usable.index(f)))
    higher, middle_word, lower = QUALIFIERS.get(
        feature, (f"higher {feature}", f"middle {feature}", f"lower {feature}")
    )
    values = z_scores.iloc[members][feature].to_numpy()
    order = [members[i] for i in np.argsort(-values, kind="stable")]
    labels = {order[0]: higher, order[-1]: lower}
    middle = order[1:-1]
    if len(middle) == 1:
        labels[middle[0]] = middle_word
    elif middle:
        rest = [f for f in usable if f != feature]
        for m, label in _qualify(middle, z_scores, rest).items():
            labels[m] = f"{middle_word}, {label}"
    return labels


def profile_segments(
    features_df: pd.DataFrame,
    labels: np.ndarray,
    algorithm: str,
    extra_features: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per segment with its name, size, revenue share and feature means.

    ``extra_features`` (a customer_features input's extra columns) count in the
    description's "sets it apart" features and in telling same-named segments apart
    ("(higher income)"); the naming rules and the ``mean_*`` columns use the
    contract's features only.

    Takes the raw feature table (rows aligned with ``labels``), segment ids (already
    ordered with :func:`order_segments`; -1 = noise) and the algorithm name. Returns the
    columns in :data:`PROFILE_COLUMNS`: ``share`` is the segment's share of all
    customers (noise included), ``revenue_share`` its share of the summed ``monetary``
    (net revenue; NaN when the total is not positive), ``mean_<feature>`` the mean of
    each feature ignoring nulls (NaN for a feature absent from the table). Rows are
    ordered by segment id, noise last. O(n * p).
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    values, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    sizes = np.bincount(codes, minlength=values.size)
    monetary = column_as_float(features_df, "monetary")
    finite = np.isfinite(monetary)
    revenue = np.bincount(codes[finite], weights=monetary[finite], minlength=values.size)
    total = monetary[finite].sum()
    z_scores = segment_z_scores(features_df, labels, extra_features)
    means: dict[str, np.ndarray] = {}
    overall: dict[str, float] = {}
    for feature in [*FEATURE_COLUMNS, *extra_features]:
        column = column_as_float(features_df, feature)
        ok = np.isfinite(column)
        sums = np.bincount(codes[ok], weights=column[ok], minlength=values.size)
        counts = np.bincount(codes[ok], minlength=values.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[feature] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        overall[feature] = float(column[ok].mean()) if ok.any() else np.nan
    rows = []
    for position, segment in enumerate(values):
        if segment == NOISE:
            name, description, action = _OUTLIERS
        else:
            name, description, action = name_segment(
                z_scores.loc[segment].to_dict(),
                {feature: float(m[position]) for feature, m in means.items()},
                overall,
            )
        row = {
            "algorithm": algorithm,
            "segment_id": int(segment),
            "segment_name": name,
            "description": description,
            "suggested_action": action,
            "n_customers": int(sizes[position]),
            "share": sizes[position] / n if n else np.nan,
            "revenue_share": revenue[position] / total if total > 0 else np.nan,
        }
        rows.append(row)
    frame = pd.DataFrame(rows)
    for feature in FEATURE_COLUMNS:
        frame[f"mean_{feature}"] = means[feature]
    if len(frame):
        frame["segment_name"] = unique_names(
            frame["segment_name"].tolist(), z_scores.reindex(values).reset_index(drop=True)
        )
        frame = frame.assign(_noise_last=frame["segment_id"] == NOISE)
        frame = frame.sort_values(["_noise_last", "segment_id"]).drop(columns="_noise_last")
    else:
        frame = pd.DataFrame(columns=PROFILE_COLUMNS)
    return frame[PROFILE_COLUMNS].reset_index(drop=True)
