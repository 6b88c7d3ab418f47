"""BG/NBD and Gamma-Gamma (customer_chunks.ml.clv): likelihoods against hand
computations, parameter recovery on simulated data, the published CDNOW fits, and the
awkward-data fallbacks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from customer_chunks.ml import clv

from support import SHARED_DATA

CDNOW_SUMMARY = SHARED_DATA / "cdnow_sample" / "cdnow_customers_summary_with_transactions.csv"
# Fader, Hardie & Lee (2005) / R CLVTools, and Fader & Hardie (2013): see SOURCE.md.
PUBLISHED_BG_NBD = {"r": 0.2425945, "alpha": 4.4136019, "a": 0.7929199, "b": 2.4258881}
PUBLISHED_BG_NBD_LOG_LIKELIHOOD = -9582.43
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
PUBLISHED_GAMMA_GAMMA_LOG_LIKELIHOOD = -4055.92


def summary_frame(x, t_x, T, zbar=None) -> pd.DataFrame:
    n = len(x)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "repeat_purchase_days": np.asarray(x, dtype=float),
            "recency_time": np.asarray(t_x, dtype=float),
            "age_time": np.asarray(T, dtype=float),
            "mean_repeat_spend": np.full(n, np.nan) if zbar is None else zbar,
        }
    )


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not CDNOW_SUMMARY.exists():
        pytest.skip(
            f"CDNOW summary not found at {CDNOW_SUMMARY}: these tests need ../shared/data "
            "beside the checkout (see README, Tests)."
        )
    return pd.read_csv(CDNOW_SUMMARY)


def test_bg_nbd_log_likelihood_matches_hand_computation():
    r, alpha, a, b = 0.5, 3.0, 0.8, 2.5
    # x = 2, t_x = 10, T = 20: equation (6) of Fader, Hardie & Lee (2005) written out.
    beta = math.gamma
    common = (
        beta(r + 2) / beta(r) * alpha**r * beta(a + b) * beta(b + 2) / (beta(b) * beta(a + b + 2))
    )
    expected = math.log(
        common * ((alpha + 20) ** -(r + 2) + a / (b + 1) * (alpha + 10) ** -(r + 2))
    )
    # x = 0: only the "still active" term, (alpha / (alpha + T))^r.
    expected_zero = r * math.log(alpha / (alpha + 20))
    got = clv.bg_nbd_log_likelihood((r, alpha, a, b), [2, 0], [10, 0], [20, 20])
    assert got == pytest.approx([expected, expected_zero], rel=1e-12)


def test_gamma_gamma_log_likelihood_matches_hand_computation():
    p, q, gamma = 6.0, 4.0, 15.0
    x, zbar = 3, 20.0
    # Density of the mean of x Gamma(p, nu) spends with nu ~ Gamma(q, gamma) integrated out.
    g = math.lgamma
    expected = (
        g(p * x + q)
        - g(p * x)
        - g(q)
        + q * math.log(gamma)
        + (p * x - 1) * math.log(zbar)
        + p * x * math.log(x)
        - (p * x + q) * math.log(gamma + x * zbar)
    )
    assert clv.gamma_gamma_log_likelihood((p, q, gamma), [x], [zbar])[0] == pytest.approx(
        expected, rel=1e-12
    )


def test_gamma_gamma_density_integrates_to_one():
    # The likelihood is a density in zbar: numerically it must integrate to 1.
    grid = np.linspace(1e-4, 400, 400_001)
    density = np.exp(clv.gamma_gamma_log_likelihood((6.0, 4.0, 15.0), np.full(grid.size, 2), grid))
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)


def test_bg_nbd_recovers_the_parameters_it_was_simulated_from():
    truth = (0.5, 6.0, 0.7, 3.0)
    # a and b are identified by drop-outs: long histories and many customers are needed
    # (at 20,000 customers aged 10-60 weeks they came out 20% off).
    ages = np.random.default_rng(0).uniform(30, 120, 30_000)
    sim = clv.simulate_bg_nbd(30_000, truth, ages, random_state=10)
    fit = clv.fit_bg_nbd(sim.x, sim.t_x, sim["T"], sample_size=None, random_state=0)
    assert fit.is_converged
    got = [fit.estimates[name] for name in clv.BG_NBD_PARAMETERS]
    assert got == pytest.approx(truth, rel=0.15)


def test_gamma_gamma_recovers_the_parameters_it_was_simulated_from():
    p, q, gamma = 5.0, 4.0, 20.0
    rng = np.random.default_rng(5)
    n = 20_000
    x = rng.integers(1, 8, n)
    nu = rng.gamma(q, 1 / gamma, n)
    zbar = rng.gamma(p * x, 1 / (nu * x))  # mean of x Gamma(p, nu) draws
    fit = clv.fit_gamma_gamma(x, zbar, sample_size=None, random_state=0)
    assert fit.is_converged
    got = [fit.estimates[name] for name in clv.GAMMA_GAMMA_PARAMETERS]
    assert got == pytest.approx((p, q, gamma), rel=0.1)


def test_holdout_prediction_matches_simulated_future_purchases():
    truth = (0.4, 5.0, 0.8, 2.5)
    sim = clv.simulate_bg_nbd(30_000, truth, 40.0, random_state=6, holdout=40.0)
    predicted = clv.expected_purchases(truth, 40.0, sim.x, sim.t_x, sim["T"])
    # Mean per calibration frequency: prediction and simulation agree.
    for x in (0, 1, 3):
        chosen = sim.x == x
        assert predicted[chosen].mean() == pytest.approx(
            sim.holdout_purchases[chosen].mean(), rel=0.1
        )


def test_cdnow_fit_reproduces_published_parameters(cdnow):
    summary = summary_frame(cdnow.x, cdnow.t_x, cdnow["T"], cdnow.zbar.where(cdnow.x > 0))
    params = clv.fit_clv_models(summary, sample_size=None, random_state=0, log=lambda m: None)
    assert params.is_converged.all()
    got = params.set_index("parameter").estimate
    for name, value in {**PUBLISHED_BG_NBD, **PUBLISHED_GAMMA_GAMMA}.items():
        assert got[name] == pytest.approx(value, rel=0.01), name
    log_lik = params.groupby("model").log_likelihood.first()
    assert log_lik["bg_nbd"] == pytest.approx(PUBLISHED_BG_NBD_LOG_LIKELIHOOD, abs=0.05)
    assert log_lik["gamma_gamma"] == pytest.approx(PUBLISHED_GAMMA_GAMMA_LOG_LIKELIHOOD, abs=0.05)
    # lifetimes' BetaGeoFitter summary of the same fit: standard errors 0.0126, 0.378,
    # 0.186, 0.705.
    errors = params.set_index("parameter").standard_error
    assert errors[["r", "alpha", "a", "b"]].tolist() == pytest.approx(
        [0.0126, 0.378, 0.186, 0.705], rel=0.02
    )
    counts = params.groupby("model").n_customers.first()
    assert counts["bg_nbd"] == 2357 and counts["gamma_gamma"] == 946


def test_conditional_expectations_match_published_examples():
    params = tuple(PUBLISHED_BG_NBD.values())
    # Fader & Hardie's BG/NBD Excel note: a customer with x = 2, t_x = 30.43, T = 38.86
    # is expected to make 1.226 purchases in the next 39 weeks.
    assert clv.expected_purchases(params, 39, [2], [30.43], [38.86])[0] == pytest.approx(
        1.226, abs=5e-4
    )
    # R BTYD's BG/NBD walk-through: x = 26, t_x = 30.86, T = 31, next 52 weeks: 25.76.
    assert clv.expected_purchases(params, 52, [26], [30.86], [31.0])[0] == pytest.approx(
        25.76, abs=5e-3
    )
    alive = clv.probability_alive(params, [0, 2, 2], [0, 30.43, 5.0], [38.86, 38.86, 38.86])
    assert alive[0] == 1.0 and alive[2] < alive[1] < 1.0


def test_expected_spend_shrinks_towards_population_mean():
    p, q, gamma = 6.25, 3.74, 15.44
    population = p * gamma / (q - 1)
    spend = clv.expected_average_spend((p, q, gamma), [0, 1, 50], [np.nan, 100.0, 100.0])
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < 100.0


def test_lifetime_value_discounting():
    bg, gg = tuple(PUBLISHED_BG_NBD.values()), (6.25, 3.74, 15.44)
    args = ([2, 5], [30.0, 35.0], [38.0, 38.0], [20.0, 30.0])
    undiscounted = clv.lifetime_value(bg, gg, *args, horizon=52, discount_rate=0.0, unit_days=7)
    expected = clv.expected_purchases(bg, 52, *args[:3]) * clv.expected_average_spend(
        gg, args[0], args[3]
    )
    assert undiscounted == pytest.approx(expected, rel=1e-9)
    discounted = clv.lifetime_value(bg, gg, *args, horizon=52, discount_rate=0.1, unit_days=7)
    assert np.all(discounted < undiscounted) and np.all(discounted > undiscounted / 1.1)


@pytest.mark.parametrize(
    ("x", "t_x", "T", "model", "reason"),
    [
        ([], [], [], "bg_nbd", "no customer"),
        ([0, 0, 0], [0, 0, 0], [5, 9, 12], "bg_nbd", "no customer made a repeat"),
        ([0, 0], [0, 0], [0, 0], "bg_nbd", "no customer made a repeat"),
        ([1, 2, 3] * 50, [30] * 150, [30] * 150, "bg_nbd", "did not converge"),
        ([1], [3], [5], "gamma_gamma", "too few"),
    ],
)
def test_awkward_data_gives_note_and_null_scores(x, t_x, T, model, reason):
    messages: list[str] = []
    zbar = np.where(np.asarray(x) > 0, 10.0, np.nan)
    summary = summary_frame(x, t_x, T, zbar)
    params = clv.fit_clv_models(summary, sample_size=None, random_state=0, log=messages.append)
    rows = params[params.model == model]
    assert not rows.is_converged.any()
    assert rows.note.str.contains(reason).all()
    assert any("NOTE" in m and model in m for m in messages)
    scores = clv.score_customers(summary, params, 52, 0.1, 7, log=messages.append)
    assert len(scores) == len(summary)
    assert scores.lifetime_value.isna().all()
    column = "probability_alive" if model == "bg_nbd" else "expected_average_spend"
    assert scores[column].isna().all()


def test_every_purchase_on_the_calibration_end_day():
    # Everyone bought on the last calibration day: age 0, nothing to fit.
    fit = clv.fit_bg_nbd([0, 0, 1], [0, 0, 0], [0, 0, 0], None, 0)
    assert not fit.is_converged and "age > 0" in fit.note


def test_fit_uses_a_sample_and_is_reproducible():
    sim = clv.simulate_bg_nbd(5_000, (0.5, 6.0, 0.7, 3.0), 40.0, random_state=7)
    first = clv.fit_bg_nbd(sim.x, sim.t_x, sim["T"], sample_size=1_000, random_state=1)
    again = clv.fit_bg_nbd(sim.x, sim.t_x, sim["T"], sample_size=1_000, random_state=1)
    assert first.n_customers == 1_000 and first.n_customers_eligible == 5_000
    assert first.estimates == again.estimates


def test_scores_follow_customer_ids_and_stay_finite_for_heavy_buyers():
    bg = dict(zip(clv.BG_NBD_PARAMETERS, PUBLISHED_BG_NBD.values(), strict=True))
    gg = dict(zip(clv.GAMMA_GAMMA_PARAMETERS, PUBLISHED_GAMMA_GAMMA.values(), strict=True))
    fits = [
        clv.FitResult("bg_nbd", bg, -1.0, 10, 10, True),
        clv.FitResult("gamma_gamma", gg, -1.0, 5, 5, True),
    ]
    params = clv.parameters_frame(fits)
    summary = summary_frame([0, 300, 3, 3], [0, 51.9, 51, 10], [52] * 4, [np.nan, 12.0, 30.0, 30.0])
    scores = clv.score_customers(summary, params, 52, 0.1, 7, log=lambda m: None)
    assert scores.customer_id.tolist() == summary.customer_id.tolist()
    assert np.isfinite(scores[clv.SCORE_COLUMNS[1:]].to_numpy()).all()
    expected = scores.expected_purchases
    # More purchases, and a more recent last one, mean more expected purchases.
    assert expected[1] > expected[2] > expected[3]
    assert 100 < expected[1] < 300  # ~300 a year so far, fewer with future drop-out
