"""Seeded synthetic customer feature tables, for tests and benchmarks.

The tables have the same columns as the warehouse's customer feature table
(``customer_id`` plus :data:`~customer_chunks.ml.features.FEATURE_COLUMNS`) and a
``horizon_spend`` column (spend in the period after the cut-off) that depends on the
features, so a high-value model has a signal to find. They are not real data and make
no claim to realism beyond plausible ranges, heavy tails and a few behavioural groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_chunks.ml.features import FEATURE_COLUMNS

# (share, mean orders, mean order value, mean recency in days, engagement level, tenure days)
_GROUPS: tuple[tuple[float, float, float, float, float, float], ...] = (
    (0.10, 14.0, 90.0, 12.0, 0.8, 900.0),  # frequent, recent, high spend
    (0.25, 5.0, 55.0, 45.0, 0.5, 700.0),  # regulars
    (0.25, 2.0, 40.0, 220.0, 0.2, 600.0),  # lapsing
    (0.20, 1.2, 30.0, 520.0, 0.05, 800.0),  # lost
    (0.20, 1.5, 45.0, 20.0, 0.6, 60.0),  # new
)


def make_customer_features(n_customers: int, random_state: int = 0) -> pd.DataFrame:
    """Build a synthetic customer feature table.

    Takes the number of customers and a seed; returns a DataFrame with ``customer_id``
    (``"C0000001"``...), every feature in ``FEATURE_COLUMNS``, a ``horizon_spend``
    column and a ``true_group`` column (the behavioural group used to draw the row).
    Same arguments give the same table. O(n) time and memory (about 200 bytes a row).
    """
    rng = np.random.default_rng(random_state)
    n = int(n_customers)
    shares = np.array([g[0] for g in _GROUPS])
    group = rng.choice(len(_GROUPS), size=n, p=shares / shares.sum())
    params = np.array([g[1:] for g in _GROUPS])[group]
    mean_orders, mean_value, mean_recency, engagement, mean_tenure = params.T

    frequency = 1 + rng.poisson(np.maximum(mean_orders - 1, 0.05))
    avg_order_value = rng.lognormal(np.log(mean_value), 0.5)
    gross_revenue = frequency * avg_order_value
    return_rate = np.clip(rng.beta(1.2, 12.0, n), 0, 1)
    returned_revenue = gross_revenue * return_rate
    monetary = gross_revenue - returned_revenue
    recency_days = np.minimum(rng.gamma(2.0, mean_recency / 2.0), 1500.0).round()
    tenure_days = np.maximum(recency_days, rng.gamma(3.0, mean_tenure / 3.0)).round()
    avg_days_between_orders = np.where(
        frequency > 1, tenure_days / np.maximum(frequency - 1, 1), np.nan
    )
    distinct_categories = np.minimum(frequency, 1 + rng.poisson(frequency / 3.0))
    web_sessions = rng.poisson(1 + 30 * engagement)
    web_events = web_sessions * (3 + rng.poisson(5, n))
    add_to_cart = rng.binomial(web_sessions, 0.15 + 0.2 * engagement)
    checkouts = rng.binomial(add_to_cart, 0.5)
    cart_to_purchase = np.where(add_to_cart > 0, checkouts / np.maximum(add_to_cart, 1), np.nan)
    email_open = np.clip(rng.normal(0.1 + 0.5 * engagement, 0.08), 0, 1)
    email_click = np.clip(email_open * rng.uniform(0.05, 0.4, n), 0, 1)
    days_since_engagement = np.minimum(recency_days, rng.gamma(2.0, 40 * (1.05 - engagement)))
    engagement_score = np.clip(
        100 * (0.5 * email_open + 0.3 * np.tanh(web_sessions / 10) + 0.2 * engagement), 0, 100
    )
    age = np.clip(rng.normal(40, 12, n), 18, 90).round()
    age[rng.random(n) < 0.3] = np.nan  # optional input, often missing

    frame = pd.DataFrame(
        {
            "customer_id": np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7)),
            "recency_days": recency_days,
            "frequency": frequency.astype(float),
            "gross_revenue": gross_revenue.round(2),
            "returned_revenue": returned_revenue.round(2),
            "monetary": monetary.round(2),
            "avg_order_value": avg_order_value.round(2),
            "tenure_days": tenure_days,
            "avg_days_between_orders": avg_days_between_orders,
            "distinct_categories": distinct_categories.astype(float),
            "return_rate": return_rate,
            "web_sessions_90d": web_sessions.astype(float),
            "web_events_90d": web_events.astype(float),
            "add_to_cart_90d": add_to_cart.astype(float),
            "checkouts_90d": checkouts.astype(float),
            "cart_to_purchase_rate": cart_to_purchase,
            "email_open_rate": email_open,
            "email_click_rate": email_click,
            "days_since_last_engagement": days_since_engagement.round(),
            "engagement_score": engagement_score,
            "age": age,
        }
    )
    assert list(frame.columns[1:]) == FEATURE_COLUMNS
    # Future spend: driven by recency, frequency and engagement, with noise and many zeros.
    rate = (frequency / np.maximum(tenure_days, 30)) * np.exp(-recency_days / 200.0)
    rate = rate * (0.5 + engagement)
    n_future_orders = rng.poisson(np.minimum(rate * 90, 20))
    frame["horizon_spend"] = (n_future_orders * avg_order_value).round(2)
    frame["true_group"] = group
    return frame
