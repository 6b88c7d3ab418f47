"""Customer features: which columns the models use and how they are prepared.

:class:`FeaturePreprocessor` turns the warehouse's customer feature table into the
numeric matrix the models read. Per feature, in this order:

1. drop it when every value is null (``all_null``), the column is absent
   (``missing_column``), it takes a single value once nulls are imputed and the log
   is applied (``constant``), or it is logged and its log varies by less than
   :data:`NEAR_CONSTANT_LOG_SPREAD` (``near_constant``);
2. impute nulls (and +/-inf) with the median of the non-null values;
3. for the features in :data:`HEAVY_TAILED` (spend, counts and durations, recency
   included), clip at 0 and apply ``log1p`` (net ``monetary`` can be negative after
   returns; negatives become 0 before the log);
4. standard scaling: subtract the mean, divide by the standard deviation, of the
   transformed values (1 when that is negligible), then limit to ``[-clip, clip]``.

Why standard and not robust scaling: the inter-quartile range of a zero-inflated
feature is tiny (on real data return_rate had IQR 0.03, email_click_rate 0.12), so
dividing by it put every customer with one return or one click at the clip and let
those sparse features decide the clusters. After standard scaling every feature has
variance 1, so each adds the same total to the squared distances between customers,
whatever its shape. Sparse features are still best left out of the features that
define segments; which ones do is the dbt var ``segmentation_features`` (see
models/_feature_definitions.md, "Segmentation feature design").

The learned parameters can be written to a table (:meth:`~FeaturePreprocessor.parameters_frame`)
and read back (:meth:`~FeaturePreprocessor.from_parameters`) to score new customers later
with exactly the same transform.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from customer_chunks.contract import CUSTOMER_FEATURE_COLUMNS
from customer_chunks.ml.exceptions import SegmentationError

# The features of the warehouse, in order: their one home is the input contract (a
# customer_features table maps onto the same names).
FEATURE_COLUMNS: list[str] = list(CUSTOMER_FEATURE_COLUMNS)

# Spend, counts and durations: right-skewed with long tails, so they are log1p-transformed.
# Durations (recency, tenure, gaps between orders, days since engagement) are included:
# the difference between 3 and 30 days since the last order matters as much as the one
# between 100 and 1,000 days, which is what a log scale says. Rates and 0-100 scores
# (return_rate, email_open_rate, engagement_score, ...) and age stay linear. This is
# the one home of the list: reports import it.
HEAVY_TAILED: list[str] = [
    "recency_days",
    "tenure_days",
    "days_since_last_engagement",
    "frequency",
    "gross_revenue",
    "returned_revenue",
    "monetary",
    "avg_order_value",
    "avg_days_between_orders",
    "distinct_categories",
    "web_sessions_90d",
    "web_events_90d",
    "add_to_cart_90d",
    "checkouts_90d",
]

DEFAULT_CLIP = 4.0
# A logged feature whose standard deviation is under 0.05 varies by about 5% between
# customers: no behavioural difference, but standard scaling would blow that noise up to
# the weight of every other feature. On CDNOW, where every customer joined in one
# quarter, tenure_days had a log spread of 0.046. Dropped as "near_constant".
NEAR_CONSTANT_LOG_SPREAD = 0.05
PARAMETER_COLUMNS: list[str] = [
    "feature",
    "is_used",
    "drop_reason",
    "impute_value",
    "is_log_transformed",
    "center",
    "scale",
    "clip",
]

_RELATIVE_TOLERANCE = 1e-12


def column_as_float(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Return ``frame[name]`` as a float64 array, with nulls, text and +/-inf as NaN.

    An absent column gives an all-NaN array. O(n) time and memory.
    """
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[name], errors="coerce")
    array = np.asarray(values.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64)
    return np.where(np.isfinite(array), array, np.nan)


def _is_negligible(spread: float, magnitude: float) -> bool:
    return not spread > _RELATIVE_TOLERANCE * max(1.0, magnitude)


def _log_clipped(values: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(values, 0.0))


class FeaturePreprocessor(TransformerMixin, BaseEstimator):
    """Impute, log-transform and standard-scale the customer features.

    Parameters
    ----------
    features : list of str or None
        Columns to consider; ``None`` means :data:`FEATURE_COLUMNS`.
    log_features : list of str or None
        Columns to ``log1p`` (after clipping at 0); ``None`` means :data:`HEAVY_TAILED`.
    clip : float or None, default 4.0
        Scaled values are limited to ``[-clip, clip]`` (z-scores winsorised), so
        a handful of extreme customers cannot claim K-Means clusters of their own (on
        UCI Online Retail, unclipped, k-means spent two of three clusters on 34
        customers). Finding outliers is DBSCAN's job. ``None`` keeps values as they are.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        The features considered, in order.
    feature_names_out_ : list of str
        The features kept, in the order of the output columns.
    drop_reasons_ : dict
        ``{feature: reason}`` for every dropped feature.
    impute_values_, centers_, scales_ : dict
        ``{feature: value}`` for every kept feature.
    log_features_ : set of str
        Kept features that are log-transformed.

    Scales O(n * p) time, O(n) extra memory per feature while fitting (medians and
    quartiles on the full column, no sampling).
    """

    def __init__(
        self,
        features: Iterable[str] | None = None,
        log_features: Iterable[str] | None = None,
        clip: float | None = DEFAULT_CLIP,
    ):
        self.features = features
        self.log_features = log_features
        self.clip = clip

    def _feature_list(self) -> list[str]:
        return list(FEATURE_COLUMNS if self.features is None else self.features)

    def _log_set(self) -> set[str]:
        return set(HEAVY_TAILED if self.log_features is None else self.log_features)

    def fit(self, X: pd.DataFrame, y=None) -> FeaturePreprocessor:
        """Learn the per-feature parameters from a DataFrame of customers.

        Raises :class:`SegmentationError` when no feature is usable (the message lists
        why each one was dropped), including when ``X`` has no rows.
        """
        if not isinstance(X, pd.DataFrame):
            raise TypeError("FeaturePreprocessor expects a pandas DataFrame with named columns")
        features = self._feature_list()
        log_set = self._log_set()
        self.feature_names_in_ = np.asarray(features, dtype=object)
        self.drop_reasons_: dict[str, str] = {}
        self.impute_values_: dict[str, float] = {}
        self.centers_: dict[str, float] = {}
        self.scales_: dict[str, float] = {}
        self.log_features_: set[str] = set()
        kept: list[str] = []
        for name in features:
            if name not in X.columns:
                self.drop_reasons_[name] = "missing_column"
                continue
            values = column_as_float(X, name)
            present = ~np.isnan(values)
            if not present.any():
                self.drop_reasons_[name] = "all_null"
                continue
            impute = float(np.median(values[present]))
            values[~present] = impute
            if name in log_set:
                values = _log_clipped(values)
            low, high = float(values.min()), float(values.max())
            if _is_negligible(high - low, max(abs(low), abs(high))):
                self.drop_reasons_[name] = "constant"
                continue
            center = float(values.mean())
            scale = float(values.std())
            if name in log_set and scale < NEAR_CONSTANT_LOG_SPREAD:
                self.drop_reasons_[name] = "near_constant"
                continue
            if _is_negligible(scale, max(abs(low), abs(high))):
                scale = 1.0
            kept.append(name)
            self.impute_values_[name] = impute
            self.centers_[name] = center
            self.scales_[name] = scale
            if name in log_set:
                self.log_features_.add(name)
        self.feature_names_out_ = kept
        self.n_features_in_ = len(features)
        if not kept:
            reasons = ", ".join(f"{k}: {v}" for k, v in self.drop_reasons_.items()) or "none given"
            raise SegmentationError(
                f"no usable feature among {len(features)} considered on {len(X)} rows "
                f"(every feature is missing, entirely null or constant; {reasons})"
            )
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the prepared float64 matrix, one column per ``feature_names_out_``.

        Nulls, text and +/-inf are imputed with the learned medians; a kept feature absent
        from ``X`` is imputed entirely (the same as an all-null column). O(n * p) time and
        memory for the output, processed one column at a time.
        """
        check_is_fitted(self, "feature_names_out_")
        if not isinstance(X, pd.DataFrame):
            raise TypeError("FeaturePreprocessor expects a pandas DataFrame with named columns")
        out = np.empty((len(X), len(self.feature_names_out_)), dtype=np.float64)
        for j, name in enumerate(self.feature_names_out_):
            values = column_as_float(X, name)
            values[np.isnan(values)] = self.impute_values_[name]
            if name in self.log_features_:
                values = _log_clipped(values)
            out[:, j] = (values - self.centers_[name]) / self.scales_[name]
        if self.clip is not None:
            np.clip(out, -self.clip, self.clip, out=out)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns (the kept features)."""
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def parameters_frame(self) -> pd.DataFrame:
        """One row per considered feature with what was learned for it.

        Columns: feature, is_used, drop_reason (null when used), impute_value,
        is_log_transformed, center, scale (NaN when dropped). Rows keep the input order.
        """
        check_is_fitted(self, "feature_names_out_")
        log_set = self._log_set()
        rows = []
        for name in self.feature_names_in_:
            used = name in self.centers_
            rows.append(
                {
                    "feature": str(name),
                    "is_used": used,
                    "drop_reason": None if used else self.drop_reasons_[name],
                    "impute_value": self.impute_values_.get(name, np.nan),
                    "is_log_transformed": name in log_set,
                    "center": self.centers_.get(name, np.nan),
                    "scale": self.scales_.get(name, np.nan),
                    "clip": np.nan if self.clip is None else float(self.clip),
                }
            )
        frame = pd.DataFrame(rows, columns=PARAMETER_COLUMNS)
        for column in ("impute_value", "center", "scale", "clip"):
            frame[column] = frame[column].astype("float64")
        frame["is_used"] = frame["is_used"].astype(bool)
        frame["is_log_transformed"] = frame["is_log_transformed"].astype(bool)
        return frame

    @classmethod
    def from_parameters(cls, frame: pd.DataFrame) -> FeaturePreprocessor:
        """Rebuild a fitted preprocessor from :meth:`parameters_frame` output.

        The result transforms any DataFrame exactly as the original did (float64
        parameters round-trip exactly through DuckDB ``DOUBLE`` columns).
        """
        missing = [c for c in PARAMETER_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"parameters frame lacks columns {missing}")
        features = [str(f) for f in frame["feature"]]
        log_features = [
            str(f)
            for f, is_log in zip(frame["feature"], frame["is_log_transformed"], strict=True)
            if is_log
        ]
        clip = frame["clip"].dropna() if "clip" in frame.columns else pd.Series(dtype=float)
        self = cls(
            features=features,
            log_features=log_features,
            clip=float(clip.iloc[0]) if len(clip) else None,
        )
        self.feature_names_in_ = np.asarray(features, dtype=object)
        self.n_features_in_ = len(features)
        self.drop_reasons_, self.impute_values_, self.centers_, self.scales_ = {}, {}, {}, {}
        self.log_features_ = set()
        kept = []
        for row in frame.itertuples(index=False):
            name = str(row.feature)
            if not bool(row.is_used):
                reason = row.drop_reason
                self.drop_reasons_[name] = "unknown" if pd.isna(reason) else str(reason)
                continue
            kept.append(name)
            self.impute_values_[name] = float(row.impute_value)
            self.centers_[name] = float(row.center)
            self.scales_[name] = float(row.scale)
            if bool(row.is_log_transformed):
                self.log_features_.add(name)
        if not kept:
            raise SegmentationError("parameters frame has no used feature")
        self.feature_names_out_ = kept
        return self
