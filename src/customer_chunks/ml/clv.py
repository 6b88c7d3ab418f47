"""Customer lifetime value: BG/NBD purchase counts and Gamma-Gamma spend per purchase.

The two standard probabilistic CLV models, fitted by maximum likelihood with scipy:

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while
  active, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each purchase
  she drops out with probability p ~ Beta(a, b). From each customer's calibration
  summary ``(x, t_x, T)`` - repeat purchase days, time of the last one and age, both from
  the first purchase day - it gives the probability she is still active and her expected
  purchases in a future period.
* **Gamma-Gamma** (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"): the
  spend of one purchase is Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer. From the
  number of repeat purchases ``x`` and their mean spend ``zbar`` it gives the expected
  spend of a future purchase.

Both log-likelihoods are closed-form (gammaln and logs), so a small scipy fit is exact
and fast; `lifetimes` (abandoned, breaks on pandas 3), `btyd` (does not import on
Python 3.11) and `pymc-marketing` (~800 MB, flat priors needed to match the published
maximum-likelihood fits) would add weight or breakage for the same numbers. The fit
reproduces the published CDNOW estimates (tests/ml/test_ml_clv.py).

Scale: the likelihood depends on a customer only through ``(x, t_x, T)`` (BG/NBD) or
``(x, zbar)`` (Gamma-Gamma), so the fit runs on the distinct rows of a sample of at most
``sample_size`` customers, each weighted by its count; a fit is O(distinct rows) per
likelihood evaluation. Scoring is vectorised numpy/scipy over all customers, O(n) time
and memory, with one ``hyp2f1`` call per customer and discounting step.

Times are in one unit throughout (the caller's: weeks in this project). Awkward inputs
(no customer, no repeat buyer, every purchase on one day, a fit that does not converge)
are reported by :func:`fit_clv_models` as rows with ``is_converged = False`` and a
``note``; :func:`score_customers` then leaves the affected columns null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from customer_chunks.ml.progress import note, step
from customer_chunks.ml.sampling import sample_indices

Log = Callable[[str], None]

BG_NBD = "bg_nbd"
GAMMA_GAMMA = "gamma_gamma"
BG_NBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "gamma")
MODEL_PARAMETERS = {BG_NBD: BG_NBD_PARAMETERS, GAMMA_GAMMA: GAMMA_GAMMA_PARAMETERS}

# Columns of the calibration summary the package reads (the SQL model's names).
SUMMARY_COLUMNS = {
    "customer_id": "customer_id",
    "x": "repeat_purchase_days",
    "t_x": "recency_time",
    "T": "age_time",
    "zbar": "mean_repeat_spend",
}
PARAMETER_COLUMNS = [
    "model",
    "parameter",
    "estimate",
    "standard_error",
    "log_likelihood",
    "n_customers",
    "n_customers_eligible",
    "is_converged",
    "note",
]
SCORE_COLUMNS = [
    "customer_id",
    "probability_alive",
    "expected_purchases",
    "expected_average_spend",
    "lifetime_value",
]
# Cash flows are discounted at the end of each period of this many days (a month).
DISCOUNT_PERIOD_DAYS = 365.25 / 12
DAYS_PER_YEAR = 365.25
# Log-parameters are searched in [-LOG_BOUND, LOG_BOUND]; an estimate at the edge means
# the likelihood keeps rising towards 0 or infinity: no finite maximum, not converged.
LOG_BOUND = 12.0
# A fit is identified when every log-parameter's standard error is below this (an
# estimate known to within a factor e^3 = 20); at CDNOW's 2,357 customers they are < 0.2.
MAX_LOG_STANDARD_ERROR = 3.0
HESSIAN_STEP = 1e-3


@dataclass
class FitResult:
    """One model's maximum-likelihood fit."""

    model: str
    estimates: dict[str, float] | None  # None when no fit was attempted
    log_likelihood: float | None  # summed over the customers fitted on
    n_customers: int  # customers the fit used (the sample)
    n_customers_eligible: int  # customers the model applies to
    is_converged: bool
    note: str | None = None
    standard_errors: dict[str, float] | None = None


# --------------------------------------------------------------------- likelihoods


def bg_nbd_log_likelihood(
    params: tuple[float, float, float, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood of ``(x, t_x, T)`` under ``(r, alpha, a, b)``.

    Equation (6) of Fader, Hardie & Lee (2005), in logs. O(n).
    """
    r, alpha, a, b = params
    x = np.asarray(x, dtype=np.float64)
    t_x = np.asarray(t_x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def gamma_gamma_log_likelihood(
    params: tuple[float, float, float], x: np.ndarray, zbar: np.ndarray
) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``zbar`` of ``x`` > 0
    purchases under ``(p, q, gamma)``: the density of the mean of ``x`` Gamma(p, nu)
    spends, nu ~ Gamma(q, gamma) integrated out. O(n)."""
    p, q, gamma = params
    x = np.asarray(x, dtype=np.float64)
    zbar = np.asarray(zbar, dtype=np.float64)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(zbar)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * zbar)
    )


# --------------------------------------------------------------------- fitting


def _hessian(objective: Callable[[np.ndarray], float], theta: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of ``objective`` at ``theta`` (4 k^2 evaluations)."""
    k = len(theta)
    h = HESSIAN_STEP
    hessian = np.empty((k, k))
    centre = objective(theta)
    for i in range(k):
        e_i = np.eye(k)[i] * h
        hessian[i, i] = (objective(theta + e_i) - 2 * centre + objective(theta - e_i)) / h**2
        for j in range(i):
            e_j = np.eye(k)[j] * h
            hessian[i, j] = hessian[j, i] = (
                objective(theta + e_i + e_j)
                - objective(theta + e_i - e_j)
                - objective(theta - e_i + e_j)
                + objective(theta - e_i - e_j)
            ) / (4 * h**2)
    return hessian


def _maximise(
    log_likelihood: Callable[[tuple], np.ndarray],
    weights: np.ndarray,
    start: np.ndarray,
) -> tuple[np.ndarray, float, np.ndarray | None, str | None]:
    """Maximise sum(weights * log_likelihood(exp(theta))) over log-parameters theta.

    L-BFGS-B within [-LOG_BOUND, LOG_BOUND], then Nelder-Mead from its answer when it
    did not converge. A maximum counts only when it is finite and identified: inside
    the bounds, with a positive definite Hessian and a standard error of every
    log-parameter below :data:`MAX_LOG_STANDARD_ERROR` (data with no finite maximum
    lets the optimiser stop anywhere on a flat ridge). Returns (parameters, summed
    log-likelihood, standard errors of the parameters or None, problem or None).
    """
    total = float(weights.sum())

    def objective(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = -float(np.dot(weights, log_likelihood(tuple(np.exp(theta))))) / total
        return value if np.isfinite(value) else 1e300

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    best = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    if not best.success:
        # L-BFGS-B can stop on a rough stretch of the surface; Nelder-Mead needs no
        # gradient. (When L-BFGS-B converges, polishing changed the CDNOW
        # log-likelihood by less than 1e-6 and doubled the time.)
        retry = optimize.minimize(
            objective,
            best.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
        )
        if retry.fun <= best.fun:
            best = retry
    theta = np.asarray(best.x, dtype=np.float64)
    params = np.exp(theta)
    log_lik = -float(best.fun) * total
    if not best.success or not np.isfinite(log_lik):
        return params, log_lik, None, f"the optimiser stopped: {best.message}"
    if np.any(np.abs(theta) > LOG_BOUND - 0.5):
        return params, log_lik, None, "an estimate ran to 0 or infinity (no finite maximum)"
    hessian = _hessian(objective, theta) * total
    with np.errstate(all="ignore"):
        eigenvalues = np.linalg.eigvalsh(hessian) if np.all(np.isfinite(hessian)) else [0.0]
    if np.min(eigenvalues) <= 0:
        return params, log_lik, None, "the log-likelihood has no peak (flat or saddle)"
    log_se = np.sqrt(np.diag(np.linalg.inv(hessian)))
    if np.any(log_se > MAX_LOG_STANDARD_ERROR):
        return (
            params,
            log_lik,
            None,
            "the estimates are not identified by the data "
            f"(standard error of a log-parameter {np.max(log_se):.3g})",
        )
    return params, log_lik, params * log_se, None


def _distinct_rows(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the given equal-length columns and how often each occurs."""
    frame = pd.DataFrame({i: c for i, c in enumerate(columns)})
    counts = frame.groupby(list(frame.columns), sort=True).size()
    index = counts.index.to_frame(index=False)
    return [index[i].to_numpy(np.float64) for i in frame.columns], counts.to_numpy(np.float64)


def _distinct_rows_inverse(columns: list) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the given columns and, per input row, the index of its row."""
    frame = pd.DataFrame({i: np.asarray(c, dtype=np.float64) for i, c in enumerate(columns)})
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    return [frame[i].to_numpy()[first] for i in frame.columns], codes


def fit_bg_nbd(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    sample_size: int | None,
    random_state: int,
) -> FitResult:
    """Fit BG/NBD by maximum likelihood on ``(x, t_x, T)``.

    Takes one value per customer (times in one unit), the largest number of customers
    to fit on (``None``: all) and a seed for the sample. Returns a :class:`FitResult`;
    data with no finite maximum (no customer, no repeat buyer, every customer's age 0)
    returns ``is_converged = False`` with a note instead of raising. O(sample) time per
    likelihood evaluation (on distinct rows).
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    n = len(x)
    problem = None
    if n == 0:
        problem = "no customer with a purchase before the calibration end"
    elif not np.any(x > 0):
        problem = "no customer made a repeat purchase in the calibration period"
    elif not np.any(T > 0):
        problem = "every purchase was on the calibration end day (no customer has age > 0)"
    if problem:
        return FitResult(BG_NBD, None, None, 0, n, False, problem)
    chosen = sample_indices(n, sample_size, random_state)
    (ux, ut_x, uT), weights = _distinct_rows([x[chosen], t_x[chosen], T[chosen]])
    # Start alpha at the mean age: alpha carries the time unit.
    start = np.log([1.0, max(float(np.mean(uT)), 1e-3), 1.0, 1.0])
    params, log_lik, errors, problem = _maximise(
        lambda p: bg_nbd_log_likelihood(p, ux, ut_x, uT), weights, start
    )
    return _result(BG_NBD, params, log_lik, errors, problem, len(chosen), n)


def fit_gamma_gamma(
    x: np.ndarray,
    zbar: np.ndarray,
    sample_size: int | None,
    random_state: int,
) -> FitResult:
    """Fit Gamma-Gamma by maximum likelihood on repeat buyers' ``(x, zbar)``.

    Customers with ``x == 0`` or a non-positive or missing mean spend are not eligible.
    Needs at least two eligible customers and two distinct mean spends; otherwise, or
    when ``q <= 1`` (no finite mean spend), returns ``is_converged = False`` with a note.
    O(sample) per likelihood evaluation.
    """
    x = np.asarray(x, dtype=np.float64)
    zbar = np.asarray(zbar, dtype=np.float64)
    eligible = (x > 0) & np.isfinite(zbar) & (zbar > 0)
    ex, ez = x[eligible], zbar[eligible]
    n = len(ex)
    problem = None
    if n < 2:
        problem = f"{n} repeat buyer(s) with a positive spend: too few for Gamma-Gamma"
    elif np.unique(ez).size < 2:
        problem = "every repeat buyer has the same mean spend: Gamma-Gamma has no finite fit"
    if problem:
        return FitResult(GAMMA_GAMMA, None, None, 0, n, False, problem)
    chosen = sample_indices(n, sample_size, random_state)
    (ux, uz), weights = _distinct_rows([ex[chosen], ez[chosen]])
    start = np.log([1.0, 2.0, max(float(np.mean(uz)), 1e-3)])
    params, log_lik, errors, problem = _maximise(
        lambda p: gamma_gamma_log_likelihood(p, ux, uz), weights, start
    )
    if problem is None and params[1] <= 1:
        problem = f"q = {params[1]:.3g} <= 1, so the expected spend is infinite"
    return _result(GAMMA_GAMMA, params, log_lik, errors, problem, len(chosen), n)


def _result(model, params, log_lik, errors, problem, n_fitted, n_eligible) -> FitResult:
    names = MODEL_PARAMETERS[model]
    return FitResult(
        model=model,
        estimates=dict(zip(names, map(float, params), strict=True)),
        log_likelihood=log_lik,
        n_customers=n_fitted,
        n_customers_eligible=n_eligible,
        is_converged=problem is None,
        note=None if problem is None else f"the fit did not converge: {problem}",
        standard_errors=None
        if errors is None
        else dict(zip(names, map(float, errors), strict=True)),
    )


def parameters_frame(fits: list[FitResult]) -> pd.DataFrame:
    """One row per model and parameter (estimates null when no fit was attempted)."""
    rows = []
    for fit in fits:
        for name in MODEL_PARAMETERS[fit.model]:
            rows.append(
                {
                    "model": fit.model,
                    "parameter": name,
                    "estimate": None if fit.estimates is None else fit.estimates[name],
                    "standard_error": None
                    if fit.standard_errors is None
                    else fit.standard_errors[name],
                    "log_likelihood": fit.log_likelihood,
                    "n_customers": fit.n_customers,
                    "n_customers_eligible": fit.n_customers_eligible,
                    "is_converged": fit.is_converged,
                    "note": fit.note,
                }
            )
    frame = pd.DataFrame(rows, columns=PARAMETER_COLUMNS)
    return frame.astype(
        {
            "estimate": "float64",
            "standard_error": "float64",
            "log_likelihood": "float64",
            "n_customers": "int64",
            "n_customers_eligible": "int64",
            "is_converged": "bool",
        }
    )


def fit_clv_models(
    summary: pd.DataFrame, sample_size: int | None, random_state: int, log: Log
) -> pd.DataFrame:
    """Fit BG/NBD and Gamma-Gamma on a calibration summary; return the parameter table.

    ``summary`` has one row per customer with the columns of :data:`SUMMARY_COLUMNS`
    (rows are sorted by customer id first, so the sample does not depend on row order).
    Each fit that cannot be made or does not converge is logged as a NOTE and kept as
    rows with ``is_converged = False``. Fits on a sample of at most ``sample_size``
    customers per model.
    """
    c = SUMMARY_COLUMNS
    summary = summary.sort_values(c["customer_id"], kind="stable")
    x = summary[c["x"]].to_numpy(np.float64)
    fits = []
    with step("clv fit (BG/NBD)", len(summary), log):
        fits.append(
            fit_bg_nbd(
                x,
                summary[c["t_x"]].to_numpy(np.float64),
                summary[c["T"]].to_numpy(np.float64),
                sample_size,
                random_state,
            )
        )
    with step("clv fit (Gamma-Gamma)", int(np.sum(x > 0)), log):
        fits.append(
            fit_gamma_gamma(x, summary[c["zbar"]].to_numpy(np.float64), sample_size, random_state)
        )
    for fit in fits:
        if not fit.is_converged:
            note(f"CLV {fit.model}: {fit.note}; its CLV columns are left null", log)
    return parameters_frame(fits)


# --------------------------------------------------------------------- predictions


def _log_odds_dropped(params, x, t_x, T) -> np.ndarray:
    """log(a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)) for x > 0, else -inf."""
    r, alpha, a, b = params
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (
            np.log(a)
            - np.log(np.where(repeat, b + x - 1, 1.0))
            + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(repeat, value, -np.inf)


def probability_alive(params, x, t_x, T) -> np.ndarray:
    """P(still active | x, t_x, T) under BG/NBD ``(r, alpha, a, b)``. 1 when x = 0. O(n)."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    return special.expit(-_log_odds_dropped(params, x, t_x, T))


def expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """Expected purchases in the next ``t`` time units given ``(x, t_x, T)``.

    Equation (10) of Fader, Hardie & Lee (2005), with the Gaussian hypergeometric
    function from scipy; the large powers are taken in logs. O(n), one hyp2f1 per row.
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    with np.errstate(all="ignore"):
        z = t / (alpha + T + t)
        power = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        numerator = (a + b + x - 1) / (a - 1) * (1 - power * hyper)
    return numerator * probability_alive(params, x, t_x, T)


def expected_average_spend(params, x, zbar) -> np.ndarray:
    """Gamma-Gamma expected spend per purchase given ``x`` purchases of mean ``zbar``.

    A weighted mean of the population mean ``p gamma / (q - 1)`` and the customer's own
    ``zbar`` (weight ``p x / (p x + q - 1)``); customers with ``x = 0`` (or no spend)
    get the population mean. O(n).
    """
    p, q, gamma = params
    x = np.asarray(x, dtype=np.float64)
    zbar = np.asarray(zbar, dtype=np.float64)
    own = np.where((x > 0) & np.isfinite(zbar) & (zbar > 0), zbar, 0.0)
    x = np.where(own > 0, x, 0.0)
    return p * (gamma + x * own) / (p * x + q - 1)


def lifetime_value(
    bg_params, gg_params, x, t_x, T, zbar, horizon: float, discount_rate: float, unit_days: float
) -> np.ndarray:
    """Discounted expected spend over the next ``horizon`` time units.

    The horizon is cut into months (:data:`DISCOUNT_PERIOD_DAYS`); each month's expected
    purchases (the increase of :func:`expected_purchases`) times the expected spend per
    purchase is discounted at the yearly ``discount_rate`` from the month's end.
    O(n) to find the distinct ``(x, t_x, T)``, then one hyp2f1 per distinct triple and
    month.
    """
    period = DISCOUNT_PERIOD_DAYS / unit_days
    ends = np.append(np.arange(period, horizon, period), horizon)
    ends = ends[ends > 0]
    spend = expected_average_spend(gg_params, x, zbar)
    # The purchase part depends on (x, t_x, T) only, and many customers share them
    # (every one-time buyer of the same day): compute it once per distinct triple.
    (ux, ut_x, uT), inverse = _distinct_rows_inverse([x, t_x, T])
    total = np.zeros(len(ux), dtype=np.float64)
    previous = np.zeros_like(total)
    for end in ends:
        current = expected_purchases(bg_params, float(end), ux, ut_x, uT)
        years = end * unit_days / DAYS_PER_YEAR
        total += (current - previous) / (1 + discount_rate) ** years
        previous = current
    return total[inverse] * spend


def _estimates(parameters: pd.DataFrame, model: str) -> tuple | None:
    rows = parameters[parameters["model"] == model].set_index("parameter")
    names = MODEL_PARAMETERS[model]
    if rows.empty or not bool(rows["is_converged"].all()):
        return None
    values = rows["estimate"].reindex(list(names))
    if values.isna().any():
        return None
    return tuple(float(v) for v in values)


def score_customers(
    summary: pd.DataFrame,
    parameters: pd.DataFrame,
    horizon: float,
    discount_rate: float,
    unit_days: float,
    log: Log,
) -> pd.DataFrame:
    """P(alive), expected purchases over ``horizon``, expected spend and CLV per customer.

    ``summary`` has the columns of :data:`SUMMARY_COLUMNS` (times in units of
    ``unit_days`` days, the horizon too); ``parameters`` is :func:`fit_clv_models`'s
    table. Columns of a model that did not converge stay null, and so does CLV; so does
    any value that comes out non-finite (logged as a NOTE). Vectorised: O(n * months).
    """
    c = SUMMARY_COLUMNS
    n = len(summary)
    out = pd.DataFrame({"customer_id": summary[c["customer_id"]].to_numpy()})
    for column in SCORE_COLUMNS[1:]:
        out[column] = np.full(n, np.nan)
    bg = _estimates(parameters, BG_NBD)
    gg = _estimates(parameters, GAMMA_GAMMA)
    x = summary[c["x"]].to_numpy(np.float64)
    t_x = summary[c["t_x"]].to_numpy(np.float64)
    T = summary[c["T"]].to_numpy(np.float64)
    zbar = summary[c["zbar"]].to_numpy(np.float64)
    with step("clv scores", n, log):
        if bg is not None:
            out["probability_alive"] = probability_alive(bg, x, t_x, T)
            out["expected_purchases"] = expected_purchases(bg, horizon, x, t_x, T)
        if gg is not None:
            out["expected_average_spend"] = expected_average_spend(gg, x, zbar)
        if bg is not None and gg is not None:
            out["lifetime_value"] = lifetime_value(
                bg, gg, x, t_x, T, zbar, horizon, discount_rate, unit_days
            )
    computed = {
        "probability_alive": bg is not None,
        "expected_purchases": bg is not None,
        "expected_average_spend": gg is not None,
        "lifetime_value": bg is not None and gg is not None,
    }
    for column, was_computed in computed.items():
        bad = ~np.isfinite(out[column].to_numpy(np.float64))
        if was_computed and bad.any():
            count = int(bad.sum())
            note(f"CLV {column}: {count:,} customer(s) got no finite value; left null", log)
            out.loc[bad, column] = np.nan
    return out


def predict_holdout(
    summary: pd.DataFrame, parameters: pd.DataFrame, holdout: float, log: Log
) -> pd.DataFrame:
    """Expected purchases in the ``holdout`` time units after the calibration end.

    Takes the calibration summary (columns of :data:`SUMMARY_COLUMNS`) and
    :func:`fit_clv_models`'s table; returns ``customer_id, predicted_purchases`` (null
    when BG/NBD did not converge or the value is not finite). O(n), vectorised.
    """
    c = SUMMARY_COLUMNS
    out = pd.DataFrame(
        {
            "customer_id": summary[c["customer_id"]].to_numpy(),
            "predicted_purchases": np.full(len(summary), np.nan),
        }
    )
    bg = _estimates(parameters, BG_NBD)
    if bg is None:
        return out
    with step("clv hold-out predictions", len(summary), log):
        predicted = expected_purchases(
            bg,
            float(holdout),
            summary[c["x"]].to_numpy(np.float64),
            summary[c["t_x"]].to_numpy(np.float64),
            summary[c["T"]].to_numpy(np.float64),
        )
    bad = ~np.isfinite(predicted)
    if bad.any():
        note(f"CLV hold-out: {int(bad.sum()):,} customer(s) got no finite prediction", log)
    out["predicted_purchases"] = np.where(bad, np.nan, predicted)
    return out


# --------------------------------------------------------------------- simulation


def simulate_bg_nbd(
    n: int,
    params: tuple[float, float, float, float],
    T: float | np.ndarray,
    random_state: int,
    holdout: float = 0.0,
) -> pd.DataFrame:
    """Draw ``n`` customers' calibration summaries ``(x, t_x, T)`` from BG/NBD.

    Each customer gets lambda ~ Gamma(r, 1/alpha) and p ~ Beta(a, b), buys at times of a
    Poisson process and drops out after each purchase with probability p. With
    ``holdout > 0`` also the number of purchases in ``(T, T + holdout]``. For tests and
    benchmarks; O(n * purchases) time.
    """
    r, alpha, a, b = params
    rng = np.random.default_rng(random_state)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    future = np.zeros(n)
    clock = np.zeros(n)
    active = np.ones(n, dtype=bool)
    end = T + holdout
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1 / np.maximum(lam[idx], 1e-300))
        in_window = clock[idx] <= end[idx]
        done = idx[~in_window]
        active[done] = False
        idx = idx[in_window]
        calibration = clock[idx] <= T[idx]
        x[idx[calibration]] += 1
        t_x[idx[calibration]] = clock[idx[calibration]]
        future[idx[~calibration]] += 1
        dropped = idx[rng.random(idx.size) < drop[idx]]
        active[dropped] = False
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T})
    if holdout > 0:
        frame["holdout_purchases"] = future
    return frame
