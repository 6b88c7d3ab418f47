from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from customer_chunks.ml.exceptions import SegmentationError
from customer_chunks.ml.features import FEATURE_COLUMNS, HEAVY_TAILED, FeaturePreprocessor

from ml_helpers import project_vars


def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "recency_days": [10.0, None, 30.0, 40.0, 50.0],
            "monetary": [-20.0, 0.0, 100.0, 1000.0, np.inf],
            "returned_revenue": [0.0, 0.0, 0.0, 0.0, 50.0],
            "frequency": [3.0, 3.0, 3.0, 3.0, 3.0],
            "age": [None, None, None, None, None],
            "email_open_rate": ["0.1", "x", "0.3", "0.2", "0.4"],
        }
    )


def test_feature_lists() -> None:
    assert len(FEATURE_COLUMNS) == 20
    assert set(HEAVY_TAILED) <= set(FEATURE_COLUMNS)
    # spend, counts and durations (recency included) are logged; rates and scores are not
    for logged in ("monetary", "frequency", "recency_days", "tenure_days"):
        assert logged in HEAVY_TAILED
    for linear in ("return_rate", "email_click_rate", "engagement_score", "age"):
        assert linear not in HEAVY_TAILED


def test_default_segmentation_features_are_behaviour_counted_once() -> None:
    features = project_vars()["segmentation_features"]
    assert set(features) <= set(FEATURE_COLUMNS)
    assert "age" not in features  # demographics describe segments, never define them
    for first, second in [
        ("gross_revenue", "monetary"),
        ("web_sessions_90d", "web_events_90d"),
        ("web_sessions_90d", "engagement_score"),  # the score holds web activity
        ("email_open_rate", "engagement_score"),
    ]:
        assert not {first, second} <= set(features), (first, second)
    # sparse, zero-inflated features do not define segments
    assert not {"return_rate", "email_click_rate", "checkouts_90d"} & set(features)


def test_drop_reasons_and_parameters() -> None:
    pre = FeaturePreprocessor().fit(small_frame())
    assert pre.drop_reasons_["frequency"] == "constant"
    assert pre.drop_reasons_["age"] == "all_null"
    assert pre.drop_reasons_["tenure_days"] == "missing_column"
    assert pre.feature_names_out_ == [
        "recency_days",
        "returned_revenue",
        "monetary",
        "email_open_rate",
    ]
    params = pre.parameters_frame().set_index("feature")
    # median imputation of recency from the four present values, then log1p, then the
    # mean and standard deviation of the transformed values
    assert params.loc["recency_days", "impute_value"] == 35.0
    recency = np.log1p(np.array([10.0, 35.0, 30.0, 40.0, 50.0]))
    assert params.loc["recency_days", "center"] == pytest.approx(recency.mean())
    assert params.loc["recency_days", "scale"] == pytest.approx(recency.std())
    # returned_revenue is mostly 0: its IQR is 0, and the std does not care
    logged = np.log1p(np.array([0.0, 0.0, 0.0, 0.0, 50.0]))
    assert params.loc["returned_revenue", "scale"] == pytest.approx(logged.std())
    assert bool(params.loc["monetary", "is_log_transformed"])
    assert bool(params.loc["recency_days", "is_log_transformed"])
    assert not bool(params.loc["email_open_rate", "is_log_transformed"])
    assert params.loc["age", "drop_reason"] == "all_null"
    assert not bool(params.loc["age", "is_used"])


def test_transform_logs_clips_and_imputes() -> None:
    frame = small_frame()
    pre = FeaturePreprocessor().fit(frame)
    X = pre.transform(frame)
    assert X.dtype == np.float64 and X.shape == (5, 4)
    assert np.isfinite(X).all()
    column = pre.feature_names_out_.index("monetary")
    monetary = X[:, column] * pre.scales_["monetary"] + pre.centers_["monetary"]
    # -20 is clipped to 0 before log1p; +inf is imputed with the median of the rest (50)
    np.testing.assert_allclose(
        monetary, np.log1p([0.0, 0.0, 100.0, 1000.0, pre.impute_values_["monetary"]])
    )
    assert pre.impute_values_["monetary"] == 50.0  # median of -20, 0, 100, 1000
    # text that is not a number is treated as missing
    assert X[1, pre.feature_names_out_.index("email_open_rate")] == pytest.approx(0.0)


def test_parameters_round_trip_through_duckdb() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(300)],
            **{name: rng.lognormal(2, 1, 300) for name in FEATURE_COLUMNS},
        }
    )
    frame.loc[::7, "recency_days"] = np.nan
    frame["age"] = np.nan
    pre = FeaturePreprocessor().fit(frame)
    con = duckdb.connect()
    con.register("params_view", pre.parameters_frame())
    stored = con.execute("select * from params_view order by feature").df()
    rebuilt = FeaturePreprocessor.from_parameters(stored)
    new_customers = frame.sample(frac=1.0, random_state=3).head(50)
    new_customers.loc[new_customers.index[:5], "monetary"] = np.nan
    assert rebuilt.feature_names_out_ == sorted(pre.feature_names_out_)
    original = pd.DataFrame(pre.transform(new_customers), columns=pre.feature_names_out_)
    again = pd.DataFrame(rebuilt.transform(new_customers), columns=rebuilt.feature_names_out_)
    pd.testing.assert_frame_equal(original[again.columns], again, check_exact=True)
    assert rebuilt.drop_reasons_ == {"age": "all_null"}


def test_from_parameters_keeps_order() -> None:
    pre = FeaturePreprocessor().fit(small_frame())
    rebuilt = FeaturePreprocessor.from_parameters(pre.parameters_frame())
    assert np.array_equal(rebuilt.transform(small_frame()), pre.transform(small_frame()))
    assert rebuilt.get_params() == {
        "features": list(FEATURE_COLUMNS),
        "log_features": [f for f in FEATURE_COLUMNS if f in HEAVY_TAILED],
        "clip": 4.0,
    }


def test_no_usable_feature_raises_clear_error() -> None:
    frame = pd.DataFrame({"customer_id": ["a", "b"], "monetary": [5.0, 5.0], "age": [None, None]})
    with pytest.raises(SegmentationError, match="no usable feature") as error:
        FeaturePreprocessor().fit(frame)
    assert "monetary: constant" in str(error.value)
    assert "age: all_null" in str(error.value)


def test_empty_frame_raises() -> None:
    with pytest.raises(SegmentationError):
        FeaturePreprocessor().fit(pd.DataFrame({"customer_id": [], "monetary": []}))


def test_every_feature_weighs_the_same_and_sparse_ones_are_not_blown_up() -> None:
    rng = np.random.default_rng(0)
    n = 2_000
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "monetary": rng.lognormal(5, 1, n),
            # issue 12: 5% of customers return anything, and then a small share
            "return_rate": np.where(rng.random(n) < 0.05, rng.uniform(0.01, 0.3, n), 0.0),
            "email_click_rate": np.where(rng.random(n) < 0.3, rng.uniform(0, 0.2, n), 0.0),
        }
    )
    pre = FeaturePreprocessor(features=list(frame.columns[1:]), clip=None).fit(frame)
    X = pre.transform(frame)
    # each column adds the same total to the squared distances: variance 1
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(X.std(axis=0), 1.0, rtol=1e-9)
    # the scale is the spread of the whole column, not its (near zero) quartile gap
    params = pre.parameters_frame().set_index("feature")
    q25, q75 = np.percentile(frame["email_click_rate"], [25, 75])
    scale = params.loc["email_click_rate", "scale"]
    assert scale == pytest.approx(frame["email_click_rate"].std(ddof=0))
    assert scale > q75 - q25
    # one small return does not put a customer at the clip any more
    one_return = frame["return_rate"].between(0.01, 0.05)
    assert np.abs(X[one_return.to_numpy(), 1]).max() < 4.0


def test_scaled_values_are_clipped_and_the_clip_round_trips():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(50)],
            "monetary": rng.lognormal(3, 1, 50),
            "age": np.r_[rng.normal(40, 5, 49), 400.0],  # one extreme (linear) value
        }
    )
    pre = FeaturePreprocessor().fit(frame)
    out = pre.transform(frame)
    assert out.max() == 4.0
    unclipped = FeaturePreprocessor(clip=None).fit(frame).transform(frame)
    assert unclipped.max() > 4.0
    rebuilt = FeaturePreprocessor.from_parameters(pre.parameters_frame())
    assert np.array_equal(rebuilt.transform(frame), out)
    none = FeaturePreprocessor.from_parameters(
        FeaturePreprocessor(clip=None).fit(frame).parameters_frame()
    )
    assert none.clip is None


def test_a_logged_feature_that_barely_varies_is_dropped() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(500)],
            "monetary": rng.lognormal(4, 1, 500),
            # one cohort: every customer joined within a few days (CDNOW's tenure)
            "tenure_days": 520 + rng.integers(0, 20, 500),
        }
    )
    pre = FeaturePreprocessor(features=["monetary", "tenure_days"]).fit(frame)
    assert pre.drop_reasons_ == {"tenure_days": "near_constant"}
    assert pre.feature_names_out_ == ["monetary"]
    # a spread of about 10% is kept
    frame["tenure_days"] = 520 * rng.lognormal(0, 0.1, 500)
    assert FeaturePreprocessor(features=["monetary", "tenure_days"]).fit(frame).drop_reasons_ == {}
