"""Predicting which customers will be high value: labels from the future, a forest, CV.

Labels (:func:`make_high_value_labels`) come from spend in a horizon after a cut-off
date, while features are computed as of the cut-off, so the model learns to predict
the future, not to restate the past.

:class:`HighValueModel` is a class-weight-balanced random forest. Training is capped at
``max_train_rows`` customers (stratified sample) and each tree sees a bootstrap of at
most ``max_samples`` rows, so fitting cost does not grow with the customer base;
prediction runs in batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils.validation import check_is_fitted

from customer_chunks.ml.exceptions import HighValueLabelError
from customer_chunks.ml.sampling import DEFAULT_BATCH_SIZE, batches
from customer_chunks.ml.settings import MAX_TRAIN_ROWS

CV_COLUMNS = ["fold", "roc_auc", "pr_auc", "n_rows", "n_positive"]
IMPORTANCE_COLUMNS = [
    "feature",
    "importance_mean",
    "importance_std",
    "impurity_importance",
    "rank",
]


def make_high_value_labels(horizon_spend: Sequence[float], top_share: float = 0.2) -> np.ndarray:
    """Flag the top ``top_share`` of customers by spend within the horizon.

    Takes each customer's spend after the cut-off (null = no purchase = 0) and a share
    in (0, 1]. Let t = ``ceil(top_share * n)`` over all n customers and s the t-th largest
    spend: a customer is high value when spend >= s and spend > 0. Every customer tied
    at s is included (the share can exceed ``top_share`` by the ties); customers with no
    positive spend are never high value (so with few buyers fewer than t are flagged).
    Returns a bool array. O(n) (``np.partition``).
    """
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share must be in (0, 1], got {top_share}")
    spend = pd.to_numeric(pd.Series(horizon_spend), errors="coerce")
    spend = np.nan_to_num(spend.to_numpy(dtype="float64", na_value=np.nan), nan=0.0)
    n = spend.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    t = min(n, max(1, math.ceil(top_share * n)))
    threshold = np.partition(spend, n - t)[n - t]
    return (spend >= threshold) & (spend > 0)


def _summed_tree_proba(forest: RandomForestClassifier, X: np.ndarray) -> np.ndarray:
    """``forest.predict_proba(X)`` as scikit-learn computes it with ``n_jobs=1`` (each
    tree's probabilities added in tree order, then divided by the number of trees), the
    same to the last bit, but without scikit-learn's ``Parallel``.

    That ``Parallel`` wraps every call in ``warnings.catch_warnings()`` and resets the
    process-wide warning filters, which is not thread-safe before Python 3.14: called
    from several threads at once (ours, or permutation importance's) it can leave
    ``warnings.filters`` empty, after which every later call prints
    "`sklearn.utils.parallel.delayed` should be used with
    `sklearn.utils.parallel.Parallel`" (812 times in a 2M-customer run). So the threads
    here call this instead. O(n * trees * depth)."""
    if X.shape[1] != forest.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but the forest was fitted on {forest.n_features_in_}"
        )
    rows = np.ascontiguousarray(X, dtype=np.float32)  # the trees' dtype, as sklearn casts
    total = np.zeros((rows.shape[0], forest.n_classes_), dtype=np.float64)
    for tree in forest.estimators_:
        total += tree.predict_proba(rows, check_input=False)
    total /= len(forest.estimators_)
    return total


def forest_predict_proba(
    forest: RandomForestClassifier,
    X: np.ndarray,
    batch_size: int = DEFAULT_BATCH_SIZE,
    n_jobs: int = -1,
) -> np.ndarray:
    """Class probabilities of a fitted forest, bit-for-bit reproducible.

    scikit-learn's parallel ``predict_proba`` adds the trees' votes in the order the
    threads finish, so the last bits of a probability can change from run to run. Here
    threads work on separate blocks of rows and each block sums its trees in tree
    order (:func:`_summed_tree_proba`, which also keeps scikit-learn's ``Parallel`` out
    of the threads), so the result does not depend on scheduling, block size or
    ``n_jobs``. O(n * trees * depth) time, O(batch_size) extra memory per thread.
    """
    forest.set_params(n_jobs=1)
    n = X.shape[0]
    if n == 0:
        return np.empty((0, forest.n_classes_), dtype=np.float64)
    workers = max(1, effective_n_jobs(n_jobs))
    size = int(min(batch_size, max(1_000, -(-n // workers))))
    parts = list(batches(n, size))
    if len(parts) <= 1:
        return _summed_tree_proba(forest, X)
    blocks = Parallel(n_jobs=workers, prefer="threads")(
        delayed(_summed_tree_proba)(forest, X[part]) for part in parts
    )
    return np.concatenate(blocks, axis=0)


def stratified_subsample(y: np.ndarray, size: int, random_state: int = 0) -> np.ndarray:
    """Sorted positions of a class-stratified sample of ``size`` rows (all rows when
    ``size >= len(y)`` or a class is too small to stratify). O(n)."""
    n = len(y)
    if size >= n:
        return np.arange(n)
    try:
        chosen, _ = train_test_split(
            np.arange(n), train_size=size, stratify=y, random_state=random_state
        )
    except ValueError:  # a class too small to split: plain uniform sample
        chosen, _ = train_test_split(np.arange(n), train_size=size, random_state=random_state)
    return np.sort(chosen)


class HighValueModel(ClassifierMixin, BaseEstimator):
    """Class-weight-balanced random forest for the high-value label.

    Parameters
    ----------
    n_estimators, max_depth, min_samples_leaf : forest settings (``n_estimators`` is the
        dbt var ``high_value_trees``: required, its default lives in dbt_project.yml).
    max_samples : int
        Bootstrap rows per tree (capped at the training rows): bounds the cost of a tree.
    n_splits : int
        Folds for :meth:`cross_validate` (lowered to the size of the smaller class).
    max_train_rows : int
        Training rows cap (stratified sample) for :meth:`fit`.
    cv_max_rows : int
        Rows cap (stratified sample) for :meth:`cross_validate`, which fits ``n_splits``
        forests. A tree's cost grows with the rows it is drawn from (scikit-learn sorts
        the labels of the whole pool for each tree), so folds use a smaller pool; the
        hold-out evaluation of the final model (see ``run_high_value``) shows the
        difference is small.
    importance_rows : int
        Rows (stratified sample) used by :meth:`permutation_importances`.
    batch_size : int
        Rows per batch in :meth:`predict_proba`.
    n_jobs : int
        Threads for the forest (-1 = all cores); results do not depend on it.
    random_state : int
        Seed for samples, folds, the forest and the permutations.

    Attributes
    ----------
    model_ (fitted ``RandomForestClassifier``), classes_, n_train_rows_, n_splits_ (after
    :meth:`cross_validate`), feature_importances_ (impurity based).

    Raises :class:`HighValueLabelError` when the labels cannot support the request
    (one class only; fewer than 2 of a class for cross-validation).
    """

    def __init__(
        self,
        *,
        n_estimators: int,
        random_state: int,
        max_depth: int | None = None,
        n_splits: int = 5,
        max_train_rows: int = MAX_TRAIN_ROWS,
        cv_max_rows: int = 50_000,
        min_samples_leaf: int = 10,
        max_samples: int = 10_000,
        importance_rows: int = 5_000,
        batch_size: int = DEFAULT_BATCH_SIZE,
        n_jobs: int = -1,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.n_splits = n_splits
        self.random_state = random_state
        self.max_train_rows = max_train_rows
        self.cv_max_rows = cv_max_rows
        self.min_samples_leaf = min_samples_leaf
        self.max_samples = max_samples
        self.importance_rows = importance_rows
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def _forest(self, n_rows: int) -> RandomForestClassifier:
        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_samples=min(int(self.max_samples), n_rows) if self.max_samples else None,
            class_weight="balanced",
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )

    @staticmethod
    def _class_counts(y: np.ndarray) -> tuple[int, int]:
        positives = int(np.sum(y))
        return positives, int(len(y) - positives)

    def _training_rows(self, y: np.ndarray, cap: int) -> np.ndarray:
        return stratified_subsample(y, int(cap), self.random_state)

    def cross_validate(self, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Stratified k-fold ROC AUC and PR AUC (average precision).

        Takes the prepared matrix and bool labels; returns one row per fold ("1", "2", ...)
        plus "mean" and "std" rows, columns :data:`CV_COLUMNS` (n_rows and n_positive
        count the test fold). Folds are lowered to the size of the smaller class when it
        has fewer customers than ``n_splits``; raises :class:`HighValueLabelError` when
        a class has fewer than 2. Cost: ``n_splits_`` forest fits on at most
        ``min(max_train_rows, cv_max_rows)`` rows.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=bool)
        positives, negatives = self._class_counts(y)
        if min(positives, negatives) < 2:
            raise HighValueLabelError(
                f"cannot cross-validate: {positives} high-value and {negatives} other "
                "customers (need at least 2 of each)"
            )
        rows = self._training_rows(y, min(self.max_train_rows, self.cv_max_rows))
        Xs, ys = X[rows], y[rows]
        positives, negatives = self._class_counts(ys)
        self.n_splits_ = int(max(2, min(int(self.n_splits), positives, negatives)))
        folds = StratifiedKFold(self.n_splits_, shuffle=True, random_state=self.random_state)
        records = []
        self.oof_labels_ = ys.copy()
        self.oof_probability_ = np.full(ys.size, np.nan)
        for number, (train, test) in enumerate(folds.split(Xs, ys), start=1):
            model = self._forest(train.size).fit(Xs[train], ys[train])
            probability = forest_predict_proba(model, Xs[test], self.batch_size, self.n_jobs)[:, 1]
            self.oof_probability_[test] = probability
            records.append(
                {
                    "fold": str(number),
                    "roc_auc": float(roc_auc_score(ys[test], probability)),
                    "pr_auc": float(average_precision_score(ys[test], probability)),
                    "n_rows": int(test.size),
                    "n_positive": int(ys[test].sum()),
                }
            )
        frame = pd.DataFrame(records, columns=CV_COLUMNS)
        summary = [
            {
                "fold": name,
                "roc_auc": float(getattr(frame["roc_auc"], name)(**extra)),
                "pr_auc": float(getattr(frame["pr_auc"], name)(**extra)),
                "n_rows": int(frame["n_rows"].sum()),
                "n_positive": int(frame["n_positive"].sum()),
            }
            for name, extra in (("mean", {}), ("std", {"ddof": 0}))
        ]
        return pd.concat([frame, pd.DataFrame(summary)], ignore_index=True)

    def fit(self, X: np.ndarray, y: np.ndarray, rows: np.ndarray | None = None) -> HighValueModel:
        """Fit the forest on at most ``max_train_rows`` rows (stratified sample).

        ``rows`` (positions) restricts the fit to those rows of ``X`` and ``y``, as
        ``fit(X[rows], y[rows])`` does, with the same result, without copying every one
        of them: only the sample is taken (the copy was 20 features x 8 bytes a customer,
        1.6 GB at 10M customers).
        Raises :class:`HighValueLabelError` when only one class is present."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=bool)
        if rows is not None:
            y = y[rows]
        positives, negatives = self._class_counts(y)
        if min(positives, negatives) < 1:
            raise HighValueLabelError(
                f"cannot fit: {positives} high-value and {negatives} other customers "
                "(both classes are needed)"
            )
        picked = self._training_rows(y, self.max_train_rows)
        take = picked if rows is None else np.asarray(rows)[picked]
        self.model_ = self._forest(picked.size).fit(X[take], y[picked])
        self.classes_ = self.model_.classes_
        self.n_train_rows_ = int(picked.size)
        self.feature_importances_ = self.model_.feature_importances_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2) class probabilities ``[P(other), P(high value)]``, in batches of rows
        spread over ``n_jobs`` threads; reproducible to the last bit
        (:func:`forest_predict_proba`). O(n)."""
        check_is_fitted(self, "model_")
        X = np.asarray(X, dtype=np.float64)
        return forest_predict_proba(self.model_, X, self.batch_size, self.n_jobs)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where P(high value) >= 0.5 (balanced classes); in batches."""
        return self.predict_proba(X)[:, 1] >= 0.5

    def permutation_importances(
        self,
        X: np.ndarray,
        y: np.ndarray,
        n_repeats: int = 5,
        feature_names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Drop in ROC AUC when each feature is shuffled, on held-out rows.

        Pass rows the model was not fitted on. Uses a stratified sample of at most
        ``importance_rows`` of them; returns columns :data:`IMPORTANCE_COLUMNS` sorted by
        rank (1 = most important; ties by feature order), with the forest's impurity
        importance alongside. Raises :class:`HighValueLabelError` when the rows hold a
        single class. Cost: ``n_repeats * p`` predictions of ``importance_rows`` rows.
        """
        check_is_fitted(self, "model_")
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=bool)
        if min(self._class_counts(y)) < 1:
            raise HighValueLabelError("cannot compute importances: held-out rows have one class")
        rows = stratified_subsample(y, int(self.importance_rows), self.random_state)
        # the forest predicts on one thread (deterministic sums); features are spread
        # over threads instead, each with the same seed, so results do not depend on it.
        # The score is the "roc_auc" scorer's, on _summed_tree_proba: the threads must
        # not call scikit-learn's Parallel (forest.predict_proba would), see there.
        self.model_.set_params(n_jobs=1)

        def roc_auc(forest: RandomForestClassifier, X: np.ndarray, y: np.ndarray) -> float:
            return float(roc_auc_score(y, _summed_tree_proba(forest, X)[:, 1]))

        with parallel_config(backend="threading"):
            result = permutation_importance(
                self.model_,
                X[rows],
                y[rows],
                scoring=roc_auc,
                n_repeats=n_repeats,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            )
        names = (
            list(feature_names)
            if feature_names is not None
            else [f"x{i}" for i in range(X.shape[1])]
        )
        frame = pd.DataFrame(
            {
                "feature": names,
                "importance_mean": result.importances_mean,
                "importance_std": result.importances_std,
                "impurity_importance": self.model_.feature_importances_,
            }
        )
        frame = frame.sort_values("importance_mean", ascending=False, kind="stable")
        frame["rank"] = np.arange(1, len(frame) + 1, dtype=np.int64)
        return frame[IMPORTANCE_COLUMNS].reset_index(drop=True)
