from __future__ import annotations

import sys
import threading
import warnings

import numpy as np
import pytest
from sklearn.utils import parallel

from customer_chunks.ml.exceptions import HighValueLabelError
from customer_chunks.ml.high_value import (
    HighValueModel,
    make_high_value_labels,
    stratified_subsample,
)


def test_labels_top_share_ties_and_zero_spend() -> None:
    spend = np.array([100, 90, 90, 50, 10, 0, 0, 0, 0, 0], dtype=float)
    # top 20% of 10 = 2 customers; the 2nd largest is 90, tied -> 3 flagged
    assert make_high_value_labels(spend, 0.2).tolist() == [True, True, True] + [False] * 7
    # top 80% would reach spend 0, which never counts
    assert make_high_value_labels(spend, 0.8).sum() == 5
    assert make_high_value_labels([None, 5.0, np.nan], 0.5).tolist() == [False, True, False]
    assert not make_high_value_labels(np.zeros(4)).any()
    assert make_high_value_labels([], 0.2).size == 0
    with pytest.raises(ValueError):
        make_high_value_labels(spend, 0.0)


def signal_data(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    spend = np.exp(1.5 * X[:, 2] + rng.normal(0, 0.5, n))
    return X, make_high_value_labels(spend, 0.2)


def small_model(**kwargs) -> HighValueModel:
    return HighValueModel(n_estimators=40, random_state=0, **kwargs)


def test_cross_validation_and_importances_find_the_signal() -> None:
    X, y = signal_data()
    model = small_model(n_splits=4)
    cv = model.cross_validate(X, y)
    assert cv["fold"].tolist() == ["1", "2", "3", "4", "mean", "std"]
    mean = cv.set_index("fold").loc["mean"]
    assert mean["roc_auc"] > 0.85
    assert mean["pr_auc"] > 0.5
    assert mean["n_positive"] == y.sum()
    X_new, y_new = signal_data(600, seed=1)
    model.fit(X, y)
    importances = model.permutation_importances(
        X_new, y_new, n_repeats=3, feature_names=list("abcde")
    )
    assert importances["feature"].iloc[0] == "c"
    assert importances["rank"].tolist() == [1, 2, 3, 4, 5]
    assert importances["importance_mean"].iloc[0] > 5 * abs(importances["importance_mean"].iloc[1])


def test_predict_proba_in_batches_matches_forest() -> None:
    X, y = signal_data(300)
    model = small_model(batch_size=7).fit(X, y)
    probability = model.predict_proba(X)
    assert probability.shape == (300, 2)
    model.model_.set_params(n_jobs=1)
    np.testing.assert_array_equal(probability, model.model_.predict_proba(X))
    assert model.classes_.tolist() == [False, True]


def test_predict_proba_over_threads_matches_the_forest_to_the_last_bit() -> None:
    X, y = signal_data(2500)
    model = small_model(n_jobs=2).fit(X, y)  # two blocks of 1,250 rows, one per thread
    probability = model.predict_proba(X)
    model.model_.set_params(n_jobs=1)
    np.testing.assert_array_equal(probability, model.model_.predict_proba(X))


def test_no_scikit_learn_parallel_runs_inside_our_threads(monkeypatch) -> None:
    """scikit-learn's Parallel resets the process-wide warning filters in every call,
    which is not thread-safe before Python 3.14: called from several threads at once it
    emptied warnings.filters, and a 2M-customer run then printed "`sklearn.utils.
    parallel.delayed` should be used with `sklearn.utils.parallel.Parallel`" 812 times.
    Prediction and permutation importances spread rows and features over threads; none
    of those threads may call it (only the main thread does)."""
    X, y = signal_data(3000)
    model = small_model(n_jobs=2).fit(X, y)
    on_main_thread = []
    call = parallel.Parallel.__call__

    def recorded(self, iterable):
        on_main_thread.append(threading.current_thread() is threading.main_thread())
        return call(self, iterable)

    monkeypatch.setattr(parallel.Parallel, "__call__", recorded)
    model.predict_proba(X)  # three blocks of rows over two threads
    model.permutation_importances(X, y, n_repeats=2)  # features over threads
    assert on_main_thread and all(on_main_thread), on_main_thread


def test_threaded_scoring_leaves_the_warning_filters_alone(recwarn) -> None:
    """The symptom, made likely: with a tiny thread switch interval, threads that call
    scikit-learn's Parallel interleave inside its filter reset; before the fix this
    lost or reordered warnings.filters (and then warned)."""
    X, y = signal_data(20_000)
    model = small_model(n_jobs=4, batch_size=1_000).fit(X, y)
    before = list(warnings.filters)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(3):
            model.predict_proba(X)
        after = list(warnings.filters)
    finally:
        sys.setswitchinterval(interval)
    assert after == before
    assert not [w for w in recwarn if "sklearn.utils.parallel" in str(w.message)]


def test_single_class_raises_documented_error() -> None:
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(HighValueLabelError, match="both classes"):
        small_model().fit(X, np.zeros(20, bool))
    with pytest.raises(HighValueLabelError, match="need at least 2"):
        small_model().cross_validate(X, np.r_[True, np.zeros(19, bool)])


def test_few_positives_reduce_folds() -> None:
    X, _ = signal_data(60)
    y = np.zeros(60, bool)
    y[np.argsort(-X[:, 2])[:3]] = True
    model = small_model(n_splits=5)
    cv = model.cross_validate(X, y)
    assert model.n_splits_ == 3
    assert cv["fold"].tolist() == ["1", "2", "3", "mean", "std"]
    assert (cv["n_positive"].iloc[:3] == 1).all()


def test_training_rows_are_capped_by_stratified_sample() -> None:
    X, y = signal_data(1000)
    model = small_model(max_train_rows=250).fit(X, y)
    assert model.n_train_rows_ == 250
    rows = stratified_subsample(y, 250, 0)
    assert abs(y[rows].mean() - y.mean()) < 0.01
    assert np.array_equal(rows, np.sort(rows))


def test_fit_on_rows_equals_fit_on_their_copy() -> None:
    X, y = signal_data(1000)
    rows = np.setdiff1d(np.arange(1000), np.arange(0, 1000, 7))
    on_rows = small_model(max_train_rows=300).fit(X, y, rows=rows)
    on_copy = small_model(max_train_rows=300).fit(X[rows], y[rows])
    assert on_rows.n_train_rows_ == on_copy.n_train_rows_ == 300
    assert np.array_equal(on_rows.predict_proba(X), on_copy.predict_proba(X))


def test_predict_proba_on_no_rows() -> None:
    X, y = signal_data(200)
    model = small_model().fit(X, y)
    assert model.predict_proba(X[:0]).shape == (0, 2)
