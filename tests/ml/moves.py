"""Planted personas over consecutive runs: a known set of customers changes persona.

Built on ml_helpers.planted_groups (four personas far apart). ``runs`` returns one
features frame per run and the planted moves between consecutive runs, so tests can
check stable ids, transitions and drift against what was planted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml_helpers import GROUP_CENTRES, GROUP_SPREAD

FEATURES = ["recency_days", "tenure_days", "engagement_score", "monetary"]


def persona_rows(group: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Fresh feature values for customers of the given personas."""
    out = {}
    for feature, centres in GROUP_CENTRES.items():
        out[feature] = np.asarray(centres)[group] + rng.normal(
            0.0, GROUP_SPREAD[feature], group.size
        )
    out["monetary"] = 1000.0 * (4 - group) * rng.uniform(0.9, 1.1, group.size)
    return pd.DataFrame(out)


def runs(
    n_customers: int = 800,
    moves: tuple[tuple[int, int, int], ...] = ((0, 1, 40), (2, 3, 30)),
    engagement_shift_last: float = 0.0,
    random_state: int = 0,
) -> tuple[list[pd.DataFrame], list[dict[str, tuple[int, int]]]]:
    """Frames for len(moves) + 1 runs. ``moves[i] = (from_group, to_group, count)``: between
    run i and run i + 1, ``count`` customers of ``from_group`` (the lowest ids) take
    ``to_group``'s persona. Customers that do not move keep exactly their values.
    ``engagement_shift_last`` is added to every engagement_score in the last run (drift).
    Returns (frames, planted): planted[i] maps each mover's id to (from, to)."""
    rng = np.random.default_rng(random_state)
    group = np.arange(n_customers) % 4
    rng.shuffle(group)
    ids = np.array([f"C{i:05d}" for i in range(n_customers)])
    values = persona_rows(group, rng)
    frames = [pd.DataFrame({"customer_id": ids, **values, "true_group": group})]
    planted = []
    for from_group, to_group, count in moves:
        group = group.copy()
        movers = np.flatnonzero(group == from_group)[:count]
        group[movers] = to_group
        values = values.copy()
        values.iloc[movers] = persona_rows(group[movers], rng).to_numpy()
        frames.append(pd.DataFrame({"customer_id": ids, **values, "true_group": group}))
        planted.append({ids[m]: (from_group, to_group) for m in movers})
    if engagement_shift_last:
        frames[-1] = frames[-1].assign(
            engagement_score=frames[-1]["engagement_score"] + engagement_shift_last
        )
    return frames, planted
