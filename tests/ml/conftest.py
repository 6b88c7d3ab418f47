"""Fixtures for the ML tests (data builders live in ml_helpers.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_helpers import Recorder, planted_groups


@pytest.fixture
def planted() -> pd.DataFrame:
    return planted_groups()


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """(X, y): 800 points in 5 dimensions around 4 centres 10 apart."""
    rng = np.random.default_rng(1)
    centres = np.array(
        [[0, 0, 0, 0, 0], [10, 0, 0, 0, 0], [0, 10, 0, 0, 0], [0, 0, 10, 0, 0]], dtype=float
    )
    y = np.arange(800) % 4
    X = centres[y] + rng.normal(0.0, 1.0, (800, 5))
    return X, y


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
