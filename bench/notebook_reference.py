"""The notebook reference: the segmentation a data scientist would write in a notebook.

Plain pandas + scikit-learn, written the way a competent analyst would (vectorised
pandas, only the needed columns read, fixed seeds, no deliberate slowness), doing the
same work as the warehouse's features and ML steps:

1. read the four Parquet files with pandas;
2. clean: drop rows without a customer or timestamp, future timestamps, negative
   prices and exact duplicate lines (the warehouse quarantines the same rows);
3. RFM-style features per customer as of ``as_of`` (the day after the last order) and
   as of the training cut-off (``as_of`` - 90 days): recency, frequency, gross and
   returned revenue, monetary, average order value, tenure, days between orders,
   distinct categories, return rate, web sessions / events / add-to-carts / checkouts
   in the last 90 days, cart-to-purchase rate, email open and click rates, age;
4. median imputation, ``log1p`` of the skewed features, ``StandardScaler``;
5. K-Means k search over 2..10 with the silhouette on a 20,000-customer sample, then
   K-Means with the best k on every customer;
6. AgglomerativeClustering (Ward) and DBSCAN on a 20,000-customer sample;
7. PCA (3 components) of every customer;
8. RandomForest with 5-fold stratified cross-validation (ROC AUC) on the label "top 20%
   of spend in the 90 days after the cut-off", then a fit on every training customer
   and the probability for every current customer.

The models are specified as the warehouse's are by default (:func:`model_settings`):
K-Means with 4 k-means++ restarts, a forest of ``high_value_trees`` (dbt_project.yml)
trees with leaves of at least 10 customers and balanced class weights. What the
notebook does not do is the warehouse's scaling work: it fits on every row where the
warehouse samples (each tree sees all training customers, not a 10,000-row bootstrap).

Run: ``python bench/notebook_reference.py DATA_DIR``. Prints one line per step
(``[notebook] <step>: <rows> rows, done in <s> s``), the format the benchmark parses.
Memory: every table is held in pandas at once (about 45 transaction lines per
customer); the Ward step needs O(sample^2) memory (a 20,000-row sample: 1.6 GB).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import silhouette_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

SEED = 0
SAMPLE = 20_000
PROJECT = Path(__file__).resolve().parents[1]
WEB_WINDOW = pd.Timedelta(days=90)
HORIZON = pd.Timedelta(days=90)
LOGGED = [
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


def model_settings() -> dict:
    """The warehouse's default model settings, so both sides fit the same models:
    the forest size from dbt_project.yml, the rest from the package's defaults."""
    import inspect

    import yaml

    from customer_chunks.ml.high_value import HighValueModel
    from customer_chunks.ml.kmeans import FIT_N_INIT, SEARCH_N_INIT

    project_vars = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]
    forest = inspect.signature(HighValueModel).parameters
    return {
        "search_n_init": SEARCH_N_INIT,
        "fit_n_init": FIT_N_INIT,
        "n_estimators": int(project_vars["high_value_trees"]),
        "min_samples_leaf": forest["min_samples_leaf"].default,
    }


@contextmanager
def step(name: str, rows: int):
    started = time.perf_counter()
    print(f"[notebook] {name}: {rows:,} rows ...", flush=True)
    yield
    took = time.perf_counter() - started
    print(f"[notebook] {name}: {rows:,} rows, done in {took:.1f} s", flush=True)


def read(data: Path):
    tx = pd.read_parquet(
        data / "transactions.parquet",
        columns=[
            "order_id",
            "customer_id",
            "ordered_at",
            "product_id",
            "category",
            "quantity",
            "unit_price",
        ],
    )
    customers = pd.read_parquet(data / "customers.parquet", columns=["customer_id", "birth_year"])
    web = pd.read_parquet(data / "web_events.parquet")
    engagement = pd.read_parquet(
        data / "engagement_events.parquet",
        columns=["customer_id", "channel", "event_type", "occurred_at"],
    )
    return tx, customers, web, engagement


def clean(tx, customers, web, engagement):
    now = pd.Timestamp.now()
    tx = tx.dropna(subset=["customer_id", "ordered_at"])
    tx = tx[(tx["ordered_at"] <= now) & ~(tx["unit_price"] < 0)]
    tx = tx.drop_duplicates()
    web = web.dropna(subset=["customer_id", "occurred_at", "event_type"])
    web = web[web["occurred_at"] <= now].drop_duplicates()
    engagement = engagement.dropna(subset=["customer_id", "occurred_at", "event_type"])
    engagement = engagement[engagement["occurred_at"] <= now].drop_duplicates()
    customers = customers.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    tx = tx.assign(
        line_amount=tx["quantity"] * tx["unit_price"],
        is_purchase=(tx["quantity"] > 0) & (tx["unit_price"] > 0),
        is_return=tx["quantity"] < 0,
    )
    return tx, customers, web, engagement


def features(tx, customers, web, engagement, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per customer with a purchase before ``as_of``."""
    tx = tx[tx["ordered_at"] < as_of]
    buys = tx[tx["is_purchase"]]
    f = buys.groupby("customer_id").agg(
        frequency=("order_id", "nunique"),
        gross_revenue=("line_amount", "sum"),
        distinct_categories=("category", "nunique"),
        first_purchase_at=("ordered_at", "min"),
        last_purchase_at=("ordered_at", "max"),
    )
    returns = tx[tx["is_return"]].groupby("customer_id")["line_amount"].sum()
    f["returned_revenue"] = -returns.reindex(f.index, fill_value=0.0)
    f["monetary"] = f["gross_revenue"] - f["returned_revenue"]
    f["avg_order_value"] = f["gross_revenue"] / f["frequency"]
    day = as_of.normalize()
    f["recency_days"] = (day - f["last_purchase_at"].dt.normalize()).dt.days
    f["tenure_days"] = (day - f["first_purchase_at"].dt.normalize()).dt.days
    span = (f["last_purchase_at"].dt.normalize() - f["first_purchase_at"].dt.normalize()).dt.days
    f["avg_days_between_orders"] = (span / (f["frequency"] - 1)).where(f["frequency"] > 1)
    f["return_rate"] = (f["returned_revenue"] / f["gross_revenue"]).where(f["gross_revenue"] > 0)

    recent = web[(web["occurred_at"] < as_of) & (web["occurred_at"] >= as_of - WEB_WINDOW)]
    recent = recent.assign(
        cart_session=recent["session_id"].where(recent["event_type"] == "add_to_cart"),
        checkout_session=recent["session_id"].where(recent["event_type"] == "checkout"),
    )
    w = recent.groupby("customer_id").agg(
        web_sessions_90d=("session_id", "nunique"),
        web_events_90d=("event_type", "size"),
        cart_sessions=("cart_session", "nunique"),
        checkout_sessions=("checkout_session", "nunique"),
        add_to_cart_90d=("cart_session", "count"),
        checkouts_90d=("checkout_session", "count"),
    )
    w["cart_to_purchase_rate"] = (w["checkout_sessions"] / w["cart_sessions"]).where(
        w["cart_sessions"] > 0
    )
    f = f.join(w.drop(columns=["cart_sessions", "checkout_sessions"]))
    web_columns = ["web_sessions_90d", "web_events_90d", "add_to_cart_90d", "checkouts_90d"]
    f[web_columns] = f[web_columns].fillna(0)

    email = engagement[(engagement["occurred_at"] < as_of) & (engagement["channel"] == "email")]
    counts = pd.crosstab(email["customer_id"], email["event_type"])
    counts = counts.reindex(columns=["sent", "open", "click"], fill_value=0)
    sent = counts["sent"].where(counts["sent"] > 0)
    f["email_open_rate"] = (counts["open"] / sent).reindex(f.index)
    f["email_click_rate"] = (counts["click"] / sent).reindex(f.index)

    birth_year = customers.set_index("customer_id")["birth_year"]
    f["age"] = as_of.year - birth_year.reindex(f.index)
    return f.drop(columns=["first_purchase_at", "last_purchase_at"])


def prepare(frame: pd.DataFrame) -> np.ndarray:
    X = frame.fillna(frame.median())
    X[LOGGED] = np.log1p(X[LOGGED].clip(lower=0))
    return StandardScaler().fit_transform(X)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with the four Parquet files")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    settings = model_settings()
    print(f"[notebook] model settings (the warehouse's defaults): {settings}", flush=True)

    with step("read parquet", 0):
        tx, customers, web, engagement = read(args.data)
    n_lines = len(tx)
    with step("clean and deduplicate", n_lines):
        tx, customers, web, engagement = clean(tx, customers, web, engagement)
    as_of = tx["ordered_at"].max().normalize() + pd.Timedelta(days=1)
    cutoff = as_of - HORIZON
    with step("features as of as_of", n_lines):
        current = features(tx, customers, web, engagement, as_of)
    with step("features as of the training cut-off and horizon spend", n_lines):
        training = features(tx, customers, web, engagement, cutoff)
        horizon = tx[tx["is_purchase"] & (tx["ordered_at"] >= cutoff) & (tx["ordered_at"] < as_of)]
        spend = horizon.groupby("customer_id")["line_amount"].sum()
        spend = spend.reindex(training.index, fill_value=0.0)
    del tx, web, engagement
    n = len(current)

    with step("impute, log1p, StandardScaler", n):
        X = prepare(current)
    sample = rng.choice(n, size=min(SAMPLE, n), replace=False)
    Xs = X[sample]

    with step("kmeans k search 2..10 (silhouette on a sample)", len(sample)):
        silhouettes = {}
        for k in range(2, 11):
            labels = KMeans(
                n_clusters=k, n_init=settings["search_n_init"], random_state=SEED
            ).fit_predict(Xs)
            silhouettes[k] = silhouette_score(Xs, labels)
        best_k = max(silhouettes, key=silhouettes.get)
    with step(f"kmeans fit (k={best_k})", n):
        kmeans = KMeans(n_clusters=best_k, n_init=settings["fit_n_init"], random_state=SEED).fit(X)
        current["kmeans_segment"] = kmeans.labels_
    with step("agglomerative (ward) on a sample", len(sample)):
        AgglomerativeClustering(n_clusters=best_k, linkage="ward").fit(Xs)
    with step("dbscan on a sample", len(sample)):
        min_samples = 2 * X.shape[1]
        distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(Xs).kneighbors(Xs)
        eps = float(np.quantile(distances[:, -1], 0.9))
        DBSCAN(eps=eps, min_samples=min_samples).fit(Xs)
    with step("pca (3 components)", n):
        PCA(n_components=3, random_state=SEED).fit_transform(X)

    t = max(1, int(np.ceil(0.2 * len(spend))))
    threshold = np.sort(spend.to_numpy())[-t]
    y = ((spend >= threshold) & (spend > 0)).to_numpy()
    X_train = prepare(training)
    forest = RandomForestClassifier(
        n_estimators=settings["n_estimators"],
        min_samples_leaf=settings["min_samples_leaf"],
        class_weight="balanced",
        n_jobs=-1,
        random_state=SEED,
    )
    with step("random forest 5-fold stratified CV", len(y)):
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
        auc = cross_val_score(forest, X_train, y, cv=folds, scoring="roc_auc")
        print(f"[notebook] cv roc_auc {auc.mean():.3f} +/- {auc.std():.3f}", flush=True)
    with step("random forest fit and score every customer", n):
        forest.fit(X_train, y)
        forest.predict_proba(prepare(current.drop(columns=["kmeans_segment"])))[:, 1]

    print(
        f"[notebook] done: {n:,} customers, {n_lines:,} transaction lines, "
        f"k={best_k}, in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
