"""A family of planted-structure generators for the segmentation tests.

Each generator writes a customer feature table shaped like the warehouse's
(``customer_id`` plus the feature columns) together with the planted persona of every
customer and whether it is a planted extreme outlier. They are deliberately shaped
differently from each other and from the package's assumptions (the lesson of an earlier
round: a generator agrees with its author's model): counts are negative binomial or
zero-inflated Poisson, spend is log-normal, gamma or Pareto-tailed, recency is uniform
within a window or gamma, engagement is a beta score, some columns are mostly zero,
some are near-copies of others, and optional inputs can be missing entirely.

Personas differ in behaviour (recency, frequency, spend, order value, tenure,
engagement, web activity); age and the sparse columns (returns, clicks, checkouts) are
drawn independently of the persona, so a method that lets them drive the clusters fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# (recency days, orders, order value, tenure days, engagement 0-100, web sessions in 90 d)
Centre = tuple[float, float, float, float, float, float]

# A pool of behaviourally distinct personas; generators take the first k or a subset.
PERSONA_POOL: dict[str, Centre] = {
    "champions": (8, 30, 120, 1000, 85, 12),
    "lapsed_one_time": (600, 1, 35, 650, 5, 0.1),
    "new_explorers": (10, 1.5, 45, 25, 70, 8),
    "lapsing_regulars": (200, 8, 60, 800, 25, 0.5),
    "steady_small_baskets": (30, 12, 15, 700, 45, 2),
    "big_ticket_rare": (120, 2, 600, 500, 40, 1.5),
    "window_shoppers": (60, 1.2, 25, 300, 60, 25),
    "dormant_big_spenders": (500, 10, 250, 1100, 10, 0.2),
}


@dataclass(frozen=True)
class PlantedSpec:
    """How one generator draws its customers."""

    name: str
    personas: tuple[str, ...]
    shares: tuple[float, ...] | None = None  # None: equal shares
    outlier_share: float = 0.003
    spend: str = "lognormal"  # lognormal | gamma | pareto
    counts: str = "negbin"  # negbin | poisson
    recency: str = "gamma"  # gamma | uniform
    # "linked": most customers have no web session, fewer in the active personas;
    # "unrelated": 70% have none whatever their persona (with web_sessions_90d among the
    # segmentation features this split one persona in two: ARI 0.899; see the docs)
    zero_inflated_web: str = ""
    sparse_share: float = 0.12  # customers with any return / any click
    missing: tuple[str, ...] = ()  # optional inputs absent: "web", "engagement", "customers"
    redundant: bool = True  # gross_revenue ~ monetary, web_events ~ web_sessions
    n_customers: int = 6_000
    seed: int = 0
    notes: str = field(default="", compare=False)


GENERATORS: tuple[PlantedSpec, ...] = (
    PlantedSpec(
        "issue_12_five_personas",
        ("champions", "lapsed_one_time", "new_explorers", "lapsing_regulars", "big_ticket_rare"),
        outlier_share=0.003,
        n_customers=10_000,
        notes="the shape reported in issue 12: five personas, 0.3% extreme spenders",
    ),
    PlantedSpec(
        "sizes_2_to_40_percent",
        (
            "big_ticket_rare",
            "new_explorers",
            "champions",
            "lapsing_regulars",
            "lapsed_one_time",
        ),
        shares=(0.02, 0.08, 0.20, 0.30, 0.40),
        spend="gamma",
        recency="uniform",
        seed=1,
    ),
    PlantedSpec(
        "zero_inflated_behaviour",
        ("champions", "lapsed_one_time", "lapsing_regulars", "steady_small_baskets"),
        zero_inflated_web="linked",
        sparse_share=0.04,
        counts="poisson",
        seed=2,
    ),
    PlantedSpec(
        "heavy_tails",
        ("champions", "lapsed_one_time", "new_explorers", "dormant_big_spenders"),
        spend="pareto",
        outlier_share=0.01,
        seed=3,
    ),
    PlantedSpec(
        "missing_optional_tables",
        ("champions", "lapsed_one_time", "new_explorers", "big_ticket_rare"),
        missing=("web", "engagement", "customers"),
        recency="uniform",
        seed=4,
    ),
    PlantedSpec(
        "three_personas",
        ("champions", "lapsed_one_time", "new_explorers"),
        outlier_share=0.01,
        spend="gamma",
        seed=5,
    ),
    PlantedSpec(
        "zero_inflated_unrelated_web",
        ("champions", "lapsed_one_time", "lapsing_regulars", "steady_small_baskets"),
        zero_inflated_web="unrelated",
        counts="poisson",
        seed=2,
        notes="a 0/non-0 column that is pure noise must not split a persona",
    ),
    PlantedSpec(
        "eight_personas",
        tuple(PERSONA_POOL),
        outlier_share=0.001,
        n_customers=8_000,
        seed=6,
    ),
)


def _spend(rng: np.random.Generator, centre: np.ndarray, kind: str) -> np.ndarray:
    if kind == "lognormal":
        return centre * rng.lognormal(0.0, 0.35, centre.size)
    if kind == "gamma":
        return rng.gamma(6.0, centre / 6.0)
    if kind == "pareto":  # a log-normal body with a Pareto tail on a fifth of customers
        body = centre * rng.lognormal(0.0, 0.3, centre.size)
        tail = rng.random(centre.size) < 0.2
        body[tail] *= 1.0 + rng.pareto(3.0, int(tail.sum())) * 0.5
        return body
    raise ValueError(kind)


def _counts(rng: np.random.Generator, mean: np.ndarray, kind: str) -> np.ndarray:
    extra = np.maximum(mean - 1.0, 0.0)
    if kind == "negbin":  # overdispersed: variance mean + mean^2 / 8
        r = 8.0
        drawn = rng.negative_binomial(r, r / (r + np.maximum(extra, 1e-9)))
    else:
        drawn = rng.poisson(extra)
    return 1.0 + np.where(extra > 0, drawn, 0)


def make_planted(spec: PlantedSpec) -> pd.DataFrame:
    """Feature table of one generator, with ``true_persona`` and ``is_planted_outlier``.

    Same spec, same table. O(n) time and memory.
    """
    rng = np.random.default_rng(spec.seed)
    n = spec.n_customers
    k = len(spec.personas)
    shares = np.full(k, 1.0 / k) if spec.shares is None else np.asarray(spec.shares)
    persona = rng.choice(k, size=n, p=shares / shares.sum())
    centres = np.array([PERSONA_POOL[name] for name in spec.personas], dtype=float)[persona]
    c_recency, c_orders, c_value, c_tenure, c_engagement, c_web = centres.T

    frequency = _counts(rng, c_orders, spec.counts)
    avg_order_value = _spend(rng, c_value, spec.spend)
    gross_revenue = frequency * avg_order_value
    returns = rng.random(n) < spec.sparse_share  # sparse and unrelated to the persona
    return_rate = np.where(returns, rng.beta(2.0, 6.0, n), 0.0)
    returned_revenue = gross_revenue * return_rate
    monetary = gross_revenue - returned_revenue
    if spec.recency == "gamma":
        recency_days = 1.0 + rng.gamma(4.0, c_recency / 4.0)
    else:
        recency_days = rng.uniform(0.6 * c_recency, 1.4 * c_recency)
    tenure_days = recency_days + rng.gamma(5.0, c_tenure / 5.0)
    avg_days_between_orders = np.where(
        frequency > 1, (tenure_days - recency_days) / np.maximum(frequency - 1, 1), np.nan
    )
    distinct_categories = np.minimum(frequency, 1 + rng.poisson(1.5, n))

    web_rate = c_web * rng.gamma(3.0, 1.0 / 3.0, n)
    if spec.zero_inflated_web == "unrelated":
        web_rate = np.where(rng.random(n) < 0.7, 0.0, web_rate * 3)
    elif spec.zero_inflated_web == "linked":
        never = np.clip(0.95 - 0.05 * c_web, 0.3, 0.95)
        web_rate = np.where(rng.random(n) < never, 0.0, web_rate * 3)
    web_sessions = rng.poisson(web_rate).astype(float)
    web_events = web_sessions * (2 + rng.poisson(4.0, n)) if spec.redundant else np.nan
    add_to_cart = rng.binomial(web_sessions.astype(int), 0.2).astype(float)
    checkouts = rng.binomial(add_to_cart.astype(int), 0.4).astype(float)
    cart_to_purchase = np.where(add_to_cart > 0, checkouts / np.maximum(add_to_cart, 1), np.nan)
    engagement = 100 * rng.beta(1 + 12 * c_engagement / 100, 1 + 12 * (1 - c_engagement / 100), n)
    email_open = np.clip(engagement / 100 + rng.normal(0, 0.08, n), 0, 1)
    clicks = rng.random(n) < spec.sparse_share
    email_click = np.where(clicks, email_open * rng.uniform(0, 0.5, n), 0.0)
    days_since_engagement = np.minimum(
        recency_days, rng.gamma(2.0, 60 * (1.05 - c_engagement / 100))
    )
    age = np.clip(rng.normal(42, 13, n), 18, 90).round()

    outliers = rng.random(n) < spec.outlier_share
    m = int(outliers.sum())
    # extreme spenders: 30-300x the order value and 5-20x the orders of their persona
    avg_order_value[outliers] *= rng.uniform(30, 300, m)
    frequency[outliers] = np.round(frequency[outliers] * rng.uniform(5, 20, m))
    gross_revenue = frequency * avg_order_value
    returned_revenue = gross_revenue * return_rate
    monetary = gross_revenue - returned_revenue

    frame = pd.DataFrame(
        {
            "customer_id": [f"P{spec.seed}-{i:06d}" for i in range(n)],
            "recency_days": np.round(recency_days),
            "frequency": frequency,
            "gross_revenue": gross_revenue.round(2),
            "returned_revenue": returned_revenue.round(2),
            "monetary": monetary.round(2),
            "avg_order_value": avg_order_value.round(2),
            "tenure_days": np.round(tenure_days),
            "avg_days_between_orders": avg_days_between_orders,
            "distinct_categories": distinct_categories.astype(float),
            "return_rate": return_rate,
            "web_sessions_90d": web_sessions,
            "web_events_90d": web_events,
            "add_to_cart_90d": add_to_cart,
            "checkouts_90d": checkouts,
            "cart_to_purchase_rate": cart_to_purchase,
            "email_open_rate": email_open,
            "email_click_rate": email_click,
            "days_since_last_engagement": np.round(days_since_engagement),
            "engagement_score": engagement.round(1),
            "age": age,
        }
    )
    if not spec.redundant:
        frame = frame.drop(columns=["web_events_90d"])
    if "web" in spec.missing:
        web = ["web_sessions_90d", "web_events_90d", "add_to_cart_90d", "checkouts_90d"]
        frame[web + ["cart_to_purchase_rate"]] = np.nan
    if "engagement" in spec.missing:
        frame[["email_open_rate", "email_click_rate"]] = np.nan
    if "web" in spec.missing and "engagement" in spec.missing:
        frame[["engagement_score", "days_since_last_engagement"]] = np.nan
    if "customers" in spec.missing:
        frame["age"] = np.nan
    frame["true_persona"] = np.asarray(spec.personas, dtype=object)[persona]
    frame["is_planted_outlier"] = outliers
    # shuffle rows so that ids carry no persona order
    return frame.sample(frac=1.0, random_state=spec.seed).reset_index(drop=True)
