from __future__ import annotations

import numpy as np
import pytest

from customer_chunks.ml.pca import fit_pca


def test_three_components_and_tables(blobs) -> None:
    X, _ = blobs
    names = [f"f{i}" for i in range(X.shape[1])]
    result = fit_pca(X, names)
    assert result.scores.shape == (800, 3)
    assert np.isfinite(result.scores).all()
    ratios = result.explained_variance["explained_variance_ratio"].to_numpy()
    assert (np.diff(ratios) <= 0).all() and ratios.sum() <= 1.0
    np.testing.assert_allclose(result.explained_variance["cumulative"], np.cumsum(ratios))
    assert len(result.loadings) == 15
    first = result.loadings[result.loadings["component"] == 1]["loading"].to_numpy()
    assert np.linalg.norm(first) == pytest.approx(1.0)
    # the centred scores are the projection on the loadings
    np.testing.assert_allclose(result.scores[:, 0], (X - X.mean(axis=0)) @ first, atol=1e-9)


def test_missing_components_are_nan() -> None:
    X = np.random.default_rng(0).normal(size=(50, 2))
    result = fit_pca(X, ["a", "b"])
    assert np.isfinite(result.scores[:, :2]).all()
    assert np.isnan(result.scores[:, 2]).all()
    assert result.explained_variance["component"].tolist() == [1, 2]


def test_degenerate_inputs() -> None:
    one = fit_pca(np.ones((1, 4)), list("abcd"))
    assert np.isnan(one.scores).all() and one.explained_variance.empty
    assert "at least 2 customers" in one.note
    flat = fit_pca(np.ones((5, 2)), ["a", "b"])
    assert np.isnan(flat.scores).all() and "constant" in flat.note
