"""Seeded data sets and helpers shared by the ML tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from customer_chunks.ml.settings import HighValueSettings, SegmentationSettings

# Four groups, far apart in the non-logged features and ordered by monetary:
# group g has monetary around 1000 * (4 - g), so segment id g + 1 after ordering.
GROUP_CENTRES = {
    "recency_days": [10.0, 200.0, 40.0, 400.0],
    "tenure_days": [900.0, 700.0, 60.0, 300.0],
    "engagement_score": [90.0, 20.0, 70.0, 5.0],
    "return_rate": [0.05, 0.30, 0.10, 0.02],
}
GROUP_SPREAD = {
    "recency_days": 8.0,
    "tenure_days": 25.0,
    "engagement_score": 3.0,
    "return_rate": 0.01,
}


def planted_groups(n_customers: int = 600, random_state: int = 0) -> pd.DataFrame:
    """Customers in four well separated groups; ``true_group`` holds the plant.

    Ids are shuffled relative to groups; other feature columns are absent.
    """
    rng = np.random.default_rng(random_state)
    group = np.arange(n_customers) % 4
    rng.shuffle(group)
    frame = pd.DataFrame({"customer_id": [f"C{i:05d}" for i in range(n_customers)]})
    for feature, centres in GROUP_CENTRES.items():
        frame[feature] = np.asarray(centres)[group] + rng.normal(
            0.0, GROUP_SPREAD[feature], n_customers
        )
    frame["monetary"] = 1000.0 * (4 - group) * rng.uniform(0.9, 1.1, n_customers)
    frame["true_group"] = group
    return frame


class Recorder:
    """A ``log`` callable that keeps the lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)


def project_vars() -> dict:
    """The dbt vars of dbt_project.yml: the one home of every ML default."""
    project = Path(__file__).resolve().parents[2] / "dbt_project.yml"
    return yaml.safe_load(project.read_text())["vars"]


def segmentation_settings(**overrides) -> SegmentationSettings:
    """The settings of ``run_segmentation`` from the project vars, then ``overrides``
    (keyed by var, e.g. ``ml_bootstrap_resamples=2``)."""
    return dataclasses.replace(SegmentationSettings.from_vars(project_vars()), **overrides)


def high_value_settings(**overrides) -> HighValueSettings:
    """The settings of ``run_high_value`` from the project vars, then ``overrides``
    (keyed by field, e.g. ``high_value_trees=20``)."""
    return dataclasses.replace(HighValueSettings.from_vars(project_vars()), **overrides)
