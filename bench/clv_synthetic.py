"""Time the CLV fit and scoring on synthetic customers, without dbt.

    .venv/bin/python -m bench.clv_synthetic --customers 1000000

Draws calibration summaries from BG/NBD (the published CDNOW parameters, ages of 1-104
weeks rounded to days, a Gamma-Gamma mean spend per repeat buyer), then runs what the
dbt Python models run: the fit (on a sample of ``--sample-size`` customers), the hold-out
prediction and the scoring of every customer. Prints seconds per step and the estimates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from customer_chunks.ml import clv

TRUTH = (0.243, 4.414, 0.793, 2.426)
SPEND = (6.25, 3.74, 15.44)


def summary(n: int, seed: int):
    rng = np.random.default_rng(seed)
    ages = np.round(rng.uniform(1, 104, n) * 7) / 7
    sim = clv.simulate_bg_nbd(n, TRUTH, ages, random_state=seed)
    p, q, gamma = SPEND
    x = sim["x"].to_numpy()
    nu = rng.gamma(q, 1 / gamma, n)
    zbar = np.where(x > 0, rng.gamma(p * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), np.nan)
    frame = sim.rename(
        columns={"x": "repeat_purchase_days", "t_x": "recency_time", "T": "age_time"}
    )
    frame["recency_time"] = np.round(frame["recency_time"] * 7) / 7  # whole days
    frame["mean_repeat_spend"] = np.round(zbar, 2)
    frame.insert(0, "customer_id", [f"c{i:07d}" for i in range(n)])
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--sample-size", type=int, default=100_000)
    args = parser.parse_args()
    started = time.perf_counter()
    frame = summary(args.customers, seed=0)
    print(f"simulated {len(frame):,} customers in {time.perf_counter() - started:.1f} s")
    timings = {}
    started = time.perf_counter()
    params = clv.fit_clv_models(frame, args.sample_size, 0, log=print)
    timings["fit"] = time.perf_counter() - started
    started = time.perf_counter()
    clv.predict_holdout(frame, params, 39.0, log=print)
    timings["hold-out prediction"] = time.perf_counter() - started
    started = time.perf_counter()
    scores = clv.score_customers(frame, params, 52.0, 0.1, 7.0, log=print)
    timings["scoring"] = time.perf_counter() - started
    print(params[["model", "parameter", "estimate", "n_customers", "is_converged"]].to_string())
    print(f"scored {scores['lifetime_value'].notna().sum():,} customers")
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.1f} s")
    print(f"total (fit + hold-out + scoring): {sum(timings.values()):.1f} s")


if __name__ == "__main__":
    main()
