"""Entry points for the dbt Python models: segmentation and the high-value model.

Both functions take pandas DataFrames with one row per customer, sort them by
``customer_id`` first (so results do not depend on row order), log progress through
``log`` and return a dict of DataFrames ready to be written as tables. Awkward inputs
(one customer, fewer customers than clusters, constant or null features, no purchase in
the horizon) log a ``NOTE`` line and return the documented fallback instead of raising.
They raise :class:`SegmentationError` only for broken input contracts: no
``customer_id`` column, null or duplicate ids, or (for the high-value model) no spend
column.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from customer_chunks.ml.dbscan import SampledDBSCAN
from customer_chunks.ml.exceptions import HighValueLabelError, SegmentationError
from customer_chunks.ml.features import (
    FEATURE_COLUMNS,
    PARAMETER_COLUMNS,
    FeaturePreprocessor,
    column_as_float,
)
from customer_chunks.ml.hierarchical import LINKAGE_COLUMNS, WardHierarchy
from customer_chunks.ml.high_value import (
    CV_COLUMNS,
    IMPORTANCE_COLUMNS,
    HighValueModel,
    make_high_value_labels,
)
from customer_chunks.ml.kmeans import (
    AGREEMENT_THRESHOLD,
    CANDIDATE_COLUMNS,
    FIT_N_INIT,
    SEARCH_N_INIT,
    SEARCH_SILHOUETTE_SAMPLE_SIZE,
    SELECTION_RULE,
    SampledKMeans,
    fit_kmeans,
    select_k,
    ward_centres,
)
from customer_chunks.ml.pca import (
    EXPLAINED_VARIANCE_COLUMNS,
    LOADING_COLUMNS,
    SCORE_COLUMNS,
    fit_pca,
)
from customer_chunks.ml.progress import PREFIX, note, step
from customer_chunks.ml.segments import PROFILE_COLUMNS, order_segments, profile_segments
from customer_chunks.ml.settings import HighValueSettings, SegmentationSettings
from customer_chunks.ml.validation import (
    SILHOUETTE_SAMPLE_SIZE,
    bootstrap_stability,
    cluster_metrics,
)

Log = Callable[[str], None]

ALGORITHMS = ("kmeans", "hierarchical", "dbscan")
SEGMENT_COLUMNS = [
    "customer_id",
    "kmeans_segment_id",
    "hierarchical_segment_id",
    "dbscan_cluster_id",
    "is_outlier",
    *SCORE_COLUMNS,
    "segment_id",
    "segment_name",
]
VALIDATION_COLUMNS = [
    "algorithm",
    "parameters",
    "n_clusters",
    "silhouette",
    "silhouette_sample_size",
    "davies_bouldin",
    "calinski_harabasz",
    "stability",
    "is_chosen",
    "note",
]
SCORE_OUTPUT_COLUMNS = ["customer_id", "high_value_probability", "is_predicted_high_value"]
ROC_COLUMNS = ["fpr", "tpr", "threshold"]
MAX_ROC_POINTS = 400
METRIC_COLUMNS = [
    *CV_COLUMNS,
    "n_train",
    "label_definition",
    "n_training_customers",
    "positive_count",
    "top_share",
    "probability_threshold",
    "note",
]
MIN_CUSTOMERS_FOR_DBSCAN = 10
# DataFrame.attrs key naming a customer_features input's extra feature columns
# (customer_chunks.ml_tables.with_extra_features sets it).
EXTRA_FEATURES_ATTR = "extra_features"
MAX_HOLDOUT_ROWS = 50_000


def _sorted_customers(frame: pd.DataFrame, role: str) -> pd.DataFrame:
    """Check the customer key and return the rows sorted by it (index reset)."""
    if "customer_id" not in frame.columns:
        raise SegmentationError(f"{role} table has no customer_id column")
    ids = frame["customer_id"]
    if ids.isna().any():
        raise SegmentationError(f"{role} table has {int(ids.isna().sum())} null customer_id")
    duplicated = ids.duplicated()
    if duplicated.any():
        examples = ", ".join(map(str, ids[duplicated].unique()[:3]))
        raise SegmentationError(
            f"{role} table has {int(duplicated.sum())} duplicate customer_id (e.g. {examples})"
        )
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _json(parameters: dict) -> str:
    return json.dumps(parameters, sort_keys=True, default=float)


def _recommend(
    recommended: str,
    validation: pd.DataFrame,
    candidates: pd.DataFrame,
    k: int,
    force_k: int | None,
) -> tuple[str, str]:
    """(algorithm, reason): the recommended segmentation and why, for model_validation.note.

    ``"auto"``: K-Means or Ward, whichever has the higher silhouette on the same
    sub-sample in the same space (ties: K-Means); otherwise the imposed algorithm."""
    row = candidates.loc[candidates["k"] == k]
    if force_k is not None:
        why_k = f"k={k} forced"
    elif row.empty or pd.isna(row["agreement"].iloc[0]):
        why_k = f"k={k}: best K-Means silhouette"
    elif candidates["agreement"].max() >= AGREEMENT_THRESHOLD:
        why_k = (
            f"k={k}: highest mean silhouette among the k where K-Means and Ward agree "
            f"(adjusted Rand {row['agreement'].iloc[0]:.2f}; threshold {AGREEMENT_THRESHOLD})"
        )
    else:
        why_k = (
            f"k={k}: no k reached the agreement threshold {AGREEMENT_THRESHOLD} (best "
            f"{candidates['agreement'].max():.2f}, here {row['agreement'].iloc[0]:.2f}), so "
            "the structure is weak; highest mean silhouette among the k within 0.05 of the "
            "best agreement"
        )
    silhouette = dict(zip(validation["algorithm"], validation["silhouette"], strict=True))
    if recommended != "auto":
        return recommended, f"chosen: imposed by recommended_algorithm; {why_k}"
    km, ward = silhouette["kmeans"], silhouette["hierarchical"]
    algorithm = "hierarchical" if np.isfinite(ward) and not ward <= km else "kmeans"
    if np.isfinite(ward) and np.isfinite(km):
        why = f"silhouette {max(km, ward):.3f} against {min(km, ward):.3f}"
    else:
        why = "the only one with a defined silhouette" if np.isfinite(ward) else "default"
    return algorithm, f"chosen: {why} in the same feature space; {why_k}"


def _customer_segments(
    frame: pd.DataFrame,
    labels: dict[str, np.ndarray],
    pca_scores: np.ndarray,
    profiles: pd.DataFrame,
    recommended: str,
) -> pd.DataFrame:
    chosen = labels[recommended]
    names = profiles.loc[profiles["algorithm"] == recommended]
    name_of = dict(zip(names["segment_id"], names["segment_name"], strict=True))
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "kmeans_segment_id": labels["kmeans"],
            "hierarchical_segment_id": labels["hierarchical"],
            "dbscan_cluster_id": labels["dbscan"],
            "is_outlier": labels["dbscan"] == -1,
        }
    )
    for j, column in enumerate(SCORE_COLUMNS):
        out[column] = pca_scores[:, j]
    out["segment_id"] = chosen
    out["segment_name"] = pd.Series(chosen).map(name_of).to_numpy(dtype=object)
    return out[SEGMENT_COLUMNS]


def _single_segment_outputs(
    frame: pd.DataFrame, preprocessing: pd.DataFrame, reason: str, recommended: str
) -> dict[str, pd.DataFrame]:
    """Everyone in segment 1 for every algorithm, no PCA, no metrics."""
    n = len(frame)
    ones = np.ones(n, dtype=np.int64)
    labels = dict.fromkeys(ALGORITHMS, ones)
    if n:
        profiles = pd.concat(
            [profile_segments(frame, ones, algorithm) for algorithm in ALGORITHMS],
            ignore_index=True,
        )
    else:
        profiles = pd.DataFrame(columns=PROFILE_COLUMNS)
    candidates = pd.DataFrame(
        [
            {
                "k": 1,
                "silhouette_sample_size": 0,
                "is_elbow": False,
                "is_chosen": True,
                "fit_sample_size": 0,
                "note": reason,
            }
        ],
        columns=CANDIDATE_COLUMNS,
    )
    validation = pd.DataFrame(
        [
            {
                "algorithm": algorithm,
                "parameters": _json({"fallback": "single segment"}),
                "n_clusters": 1 if n else 0,
                "silhouette": np.nan,
                "silhouette_sample_size": 0,
                "davies_bouldin": np.nan,
                "calinski_harabasz": np.nan,
                "stability": np.nan,
                "is_chosen": algorithm == recommended,
                "note": reason,
            }
            for algorithm in ALGORITHMS
        ],
        columns=VALIDATION_COLUMNS,
    )
    return {
        "customer_segments": _customer_segments(
            frame, labels, np.full((n, len(SCORE_COLUMNS)), np.nan), profiles, recommended
        ),
        "preprocessing": preprocessing,
        "kmeans_candidates": candidates,
        "model_validation": validation,
        "segment_profiles": profiles,
        "pca_explained_variance": pd.DataFrame(columns=EXPLAINED_VARIANCE_COLUMNS),
        "pca_loadings": pd.DataFrame(columns=LOADING_COLUMNS),
        "hierarchy_linkage": pd.DataFrame(columns=LINKAGE_COLUMNS),
    }


@dataclass
class KMeansSegmentation:
    """The K-Means step of a segmentation, fitted: the Ward tree it was started from, the
    k search table, the chosen k, the fitted model, each fit row's segment id (1 = highest
    mean monetary) and ``segment_of_label`` (K-Means label -> segment id), so new rows
    get ``segment_of_label[kmeans.predict(X_new)]``."""

    hierarchy: WardHierarchy
    candidates: pd.DataFrame
    k: int
    kmeans: SampledKMeans
    labels: np.ndarray
    segment_of_label: np.ndarray


def fit_kmeans_segmentation(
    X: np.ndarray,
    monetary: np.ndarray,
    *,
    k_min: int,
    k_max: int,
    force_k: int | None,
    sample_size: int,
    random_state: int,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE_SIZE,
    n_micro_clusters: int = 200,
    log: Log = print,
    flag: Log | None = None,
) -> KMeansSegmentation:
    """The K-Means steps of :func:`run_segmentation`, the one home of them (the Spark job
    ``customer_chunks.spark_score`` fits with this too, so its segments equal this path's
    for the same fit rows): the Ward tree on micro-clusters, k by
    :func:`~customer_chunks.ml.kmeans.select_k` (or ``force_k``), K-Means started from the
    Ward means at k, segments ordered by mean ``monetary``.

    Takes the prepared (n, p) matrix, each row's monetary and the dbt-var settings;
    ``flag`` receives the K-Means notes (default: logged). Scales as run_segmentation's
    steps: samples of ``sample_size`` for the tree and the k search, the final fit on up
    to 200,000 rows, O(n * k * p) to label every row.
    """
    n = X.shape[0]
    if flag is None:
        flag = lambda message: note(f"kmeans: {message}", log)  # noqa: E731
    with step("hierarchy (Ward tree on micro-clusters)", n, log):
        hierarchy = WardHierarchy(
            n_clusters=None,
            n_micro_clusters=n_micro_clusters,
            sample_size=sample_size,
            random_state=random_state,
        ).fit(X)
    with step("k search (K-Means and Ward at each k)", n, log):
        candidates, k = select_k(
            X,
            k_min=k_min,
            k_max=k_max,
            sample_size=sample_size,
            random_state=random_state,
            force_k=force_k,
            log=flag,
            silhouette_sample_size=min(silhouette_sample_size, SEARCH_SILHOUETTE_SAMPLE_SIZE),
            hierarchy_cut=hierarchy.cut,
        )
    with step(f"kmeans fit (k={k})", n, log):
        kmeans = fit_kmeans(
            X, k, random_state=random_state, init=ward_centres(X, hierarchy.cut(k), k)
        )
    if kmeans.note_:
        flag(kmeans.note_)
    labels = order_segments(kmeans.labels_, monetary)
    segment_of_label = np.zeros(kmeans.n_clusters_, dtype=np.int64)
    segment_of_label[kmeans.labels_] = labels
    return KMeansSegmentation(hierarchy, candidates, k, kmeans, labels, segment_of_label)


def run_segmentation(
    features: pd.DataFrame,
    settings: SegmentationSettings,
    *,
    hierarchical_clusters: int | None = None,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE_SIZE,
    bootstrap_sample_size: int = 5_000,
    n_micro_clusters: int = 200,
    log: Log = print,
) -> dict[str, pd.DataFrame]:
    """Segment customers with K-Means, Ward hierarchy and DBSCAN, and describe the result.

    Takes the customer feature table (``customer_id`` plus any of ``FEATURE_COLUMNS``;
    other columns are ignored) and ``settings``, the dbt vars of the fit (no defaults
    here: they live in dbt_project.yml): ``segmentation_features`` (the columns that
    define segments; every feature still describes them in the profiles), the k range,
    ``force_k`` (None: chosen by :data:`~customer_chunks.ml.kmeans.SELECTION_RULE`),
    ``recommended_algorithm`` (``"auto"``, or an algorithm in :data:`ALGORITHMS` to
    impose), ``ml_sample_size`` (``sample_size`` below), ``ml_bootstrap_resamples``
    (``n_bootstrap``) and ``random_state``. Returns a dict of DataFrames:

    * ``customer_segments``: customer_id, kmeans_segment_id, hierarchical_segment_id,
      dbscan_cluster_id (-1 = noise), is_outlier, pca_1..pca_3, and segment_id /
      segment_name of the recommended algorithm; sorted by customer_id;
    * ``preprocessing``: the feature parameters (reload with
      ``FeaturePreprocessor.from_parameters`` to score new customers);
    * ``kmeans_candidates``: one row per k tried (see ``select_k``), with the K-Means
      and Ward silhouettes and their agreement;
    * ``model_validation``: one row per algorithm: parameters (JSON), n_clusters
      (excluding noise), metrics on a sample, bootstrap stability, is_chosen (the
      recommended algorithm), note (for the chosen one: why it was chosen);
    * ``segment_profiles``: one row per (algorithm, segment) with name, description,
      action, size, revenue share and feature means;
    * ``pca_explained_variance``, ``pca_loadings``, ``hierarchy_linkage``.

    With ``recommended="auto"`` the recommendation is the one of K-Means and Ward with
    the higher silhouette at the chosen k, both measured on the same sub-sample in the
    same space (DBSCAN is an outlier finder here, not a segmentation). Segment ids are
    ordered by mean monetary (1 = highest) for every algorithm.
    Fallbacks (each logged as a NOTE): no usable feature or no customer -> everyone in
    segment 1 for every algorithm and empty PCA/linkage tables; fewer distinct customers
    than k -> fewer clusters; fewer than 10 customers -> DBSCAN not run, everyone in
    cluster 1, nobody an outlier.

    Scales: O(n * p) passes over all customers (preprocessing, assignment of each
    algorithm in batches, PCA scoring, profiles); the k search, micro-cluster and DBSCAN
    fits and the Davies-Bouldin / Calinski-Harabasz metrics work on uniform samples of
    ``sample_size`` customers, silhouettes (O(m^2)) on ``silhouette_sample_size``, each
    of the ``n_bootstrap`` refits per algorithm on ``bootstrap_sample_size``; the final
    K-Means fits on up to 200,000 customers. Measured with ``tests/ml/benchmark_1m.py``
    on 1,000,000 synthetic customers, 2 cores shared with other jobs: 71 s and 0.8 GiB
    peak RSS, against 198 s for the previous k rule run alongside it (100,000
    customers: 14 s).
    """
    segmentation_features, random_state = settings.segmentation_features, settings.random_state
    k_min, k_max, force_k = settings.k_min, settings.k_max, settings.force_k
    recommended = settings.recommended_algorithm
    sample_size, n_bootstrap = settings.ml_sample_size, settings.ml_bootstrap_resamples
    if recommended not in ("auto", *ALGORITHMS):
        raise ValueError(f"recommended must be 'auto' or one of {ALGORITHMS}, got {recommended!r}")
    started = time.perf_counter()
    extra_features = list(features.attrs.get(EXTRA_FEATURES_ATTR, []))
    frame = _sorted_customers(features, "features")
    n = len(frame)
    log(f"{PREFIX} segmentation of {n:,} customers (recommended: {recommended})")
    monetary = column_as_float(frame, "monetary")
    if not np.isfinite(monetary).any():
        note("monetary is missing or null: segments are ordered by size instead", log)

    preprocessor = FeaturePreprocessor(features=list(segmentation_features))
    with step("preprocessing", n, log):
        try:
            X = preprocessor.fit(frame).transform(frame)
            failure = None
        except SegmentationError as error:
            failure = str(error)
    for feature, reason in preprocessor.drop_reasons_.items():
        note(f"feature {feature} not used ({reason})", log)
    fallback_algorithm = "kmeans" if recommended == "auto" else recommended
    if failure is not None:
        reason = f"{failure}; fallback: every customer in segment 1"
        note(reason, log)
        return _single_segment_outputs(
            frame, preprocessor.parameters_frame(), reason, fallback_algorithm
        )

    labels: dict[str, np.ndarray] = {}
    parameters: dict[str, dict] = {}
    refit: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {}
    notes: dict[str, list[str]] = {algorithm: [] for algorithm in ALGORITHMS}

    def flag(algorithm: str, message: str) -> None:
        notes[algorithm].append(message)
        note(f"{algorithm}: {message}", log)

    fitted = fit_kmeans_segmentation(
        X,
        monetary,
        k_min=k_min,
        k_max=k_max,
        force_k=force_k,
        sample_size=sample_size,
        random_state=random_state,
        silhouette_sample_size=silhouette_sample_size,
        n_micro_clusters=n_micro_clusters,
        log=log,
        flag=lambda message: flag("kmeans", message),
    )
    hierarchy, candidates, k, kmeans = (
        fitted.hierarchy,
        fitted.candidates,
        fitted.k,
        fitted.kmeans,
    )
    labels["kmeans"] = fitted.labels
    parameters["kmeans"] = {
        "k": kmeans.n_clusters_,
        "k_selection": "forced" if force_k is not None else SELECTION_RULE,
        "k_range": [int(candidates["k"].min()), int(candidates["k"].max())],
        "init": "means of the Ward clusters at k (K-Means++ if unavailable)",
        "n_init": FIT_N_INIT,
        "fit_sample_size": kmeans.fit_sample_size_,
        "random_state": random_state,
    }
    k_used = kmeans.n_clusters_
    refit["kmeans"] = lambda rows: (
        SampledKMeans(
            n_clusters=k_used, n_init=SEARCH_N_INIT, fit_sample_size=None, random_state=random_state
        )
        .fit(rows)
        .labels_
    )

    n_hierarchical = k_used if hierarchical_clusters is None else hierarchical_clusters
    h_used = max(1, min(int(n_hierarchical), hierarchy.n_leaves_))
    if h_used < n_hierarchical:
        flag(
            "hierarchical",
            f"n_clusters lowered from {n_hierarchical} to {h_used}: "
            f"only {hierarchy.n_leaves_} leaves",
        )
    if hierarchy.note_:
        flag("hierarchical", hierarchy.note_)
    labels["hierarchical"] = order_segments(hierarchy.cut(h_used), monetary)
    parameters["hierarchical"] = {
        "n_clusters": h_used,
        "linkage": "ward (weighted, on K-Means micro-clusters)",
        "n_leaves": hierarchy.n_leaves_,
        "micro_cluster_sample_size": min(n, sample_size),
        "random_state": random_state,
    }
    refit["hierarchical"] = lambda rows: (
        WardHierarchy(
            n_clusters=h_used,
            n_micro_clusters=n_micro_clusters,
            sample_size=None,
            random_state=random_state,
        )
        .fit(rows)
        .labels_
    )

    if n < MIN_CUSTOMERS_FOR_DBSCAN:
        flag(
            "dbscan",
            f"not run on {n} customers (needs {MIN_CUSTOMERS_FOR_DBSCAN}): "
            "everyone in cluster 1, nobody an outlier",
        )
        labels["dbscan"] = np.ones(n, dtype=np.int64)
        parameters["dbscan"] = {"skipped": True}
        refit["dbscan"] = None
    else:
        with step("dbscan fit", n, log):
            dbscan = SampledDBSCAN(sample_size=sample_size, random_state=random_state).fit(X)
        if dbscan.n_clusters_ == 0:
            flag("dbscan", "no dense cluster found: every customer is noise")
        labels["dbscan"] = order_segments(dbscan.labels_, monetary)
        parameters["dbscan"] = {
            "eps": dbscan.eps_,
            "min_samples": dbscan.min_samples_,
            "fit_sample_size": int(dbscan.sample_indices_.size),
            "noise_share": float(dbscan.is_outlier_.mean()),
            "eps_rule": "knee of the sorted k-distance curve (k = min_samples)",
            "min_samples_rule": (
                "max(2 * n_features, ceil(ln n_sample)), capped at 100 and at half the sample"
            ),
            "random_state": random_state,
        }
        eps, min_samples = dbscan.eps_, dbscan.min_samples_
        refit["dbscan"] = lambda rows: (
            SampledDBSCAN(eps=eps, min_samples=min_samples, sample_size=None).fit(rows).labels_
        )

    with step("pca", n, log):
        pca = fit_pca(X, preprocessor.feature_names_out_, random_state=random_state)
    if pca.note:
        note(pca.note, log)

    rows = []
    for algorithm in ALGORITHMS:
        with step(f"validation of {algorithm}", n, log):
            metrics = cluster_metrics(
                X, labels[algorithm], sample_size, random_state, silhouette_sample_size
            )
            stability = np.nan
            if refit[algorithm] is not None and n_bootstrap >= 2 and n >= 3:
                stability = bootstrap_stability(
                    X, refit[algorithm], n_bootstrap, bootstrap_sample_size, random_state
                )
        if metrics["note"]:
            notes[algorithm].append(metrics["note"])
        rows.append(
            {
                "algorithm": algorithm,
                "parameters": _json(parameters[algorithm]),
                "n_clusters": metrics["n_clusters"],
                "silhouette": metrics["silhouette"],
                "silhouette_sample_size": metrics["silhouette_sample_size"],
                "davies_bouldin": metrics["davies_bouldin"],
                "calinski_harabasz": metrics["calinski_harabasz"],
                "stability": stability,
                "is_chosen": False,
                "note": "; ".join(notes[algorithm]) or None,
            }
        )
    validation = pd.DataFrame(rows, columns=VALIDATION_COLUMNS)
    chosen_algorithm, reason = _recommend(recommended, validation, candidates, k, force_k)
    log(f"{PREFIX} recommended: {chosen_algorithm} ({reason})")
    chosen = validation["algorithm"] == chosen_algorithm
    validation["is_chosen"] = chosen
    validation.loc[chosen, "note"] = validation.loc[chosen, "note"].map(
        lambda text: reason if text is None or pd.isna(text) else f"{reason}; {text}"
    )

    with step("segment profiles", n, log):
        profiles = pd.concat(
            [profile_segments(frame, labels[a], a, extra_features) for a in ALGORITHMS],
            ignore_index=True,
        )
    outputs = {
        "customer_segments": _customer_segments(
            frame, labels, pca.scores, profiles, chosen_algorithm
        ),
        "preprocessing": preprocessor.parameters_frame(),
        "kmeans_candidates": candidates,
        "model_validation": validation,
        "segment_profiles": profiles,
        "pca_explained_variance": pca.explained_variance,
        "pca_loadings": pca.loadings,
        "hierarchy_linkage": hierarchy.linkage_frame(),
    }
    log(f"{PREFIX} segmentation done in {time.perf_counter() - started:.1f} s")
    return outputs


def _roc_curve(labels: np.ndarray, probability: np.ndarray) -> pd.DataFrame:
    """The out-of-fold ROC curve, thinned to at most MAX_ROC_POINTS points (ends kept)."""
    fpr, tpr, threshold = roc_curve(labels, probability, drop_intermediate=True)
    points = min(fpr.size, MAX_ROC_POINTS)
    keep = np.unique(np.linspace(0, fpr.size - 1, points).round().astype(int))
    threshold = np.minimum(threshold, 1.0)  # sklearn puts +inf before the first point
    return pd.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep], "threshold": threshold[keep]})


def _stratified_holdout(y: np.ndarray, share: float, cap: int, random_state: int) -> np.ndarray:
    """Sorted positions held out: per class, round(share * count) rows, at least 1 and at
    most count - 1, scaled down so the total stays under ``cap``."""
    rng = np.random.default_rng([random_state, 2])
    scale = min(1.0, cap / max(1.0, share * y.size))
    held = []
    for value in (False, True):
        positions = np.flatnonzero(y == value)
        take = min(positions.size - 1, max(1, round(share * scale * positions.size)))
        held.append(rng.choice(positions, size=take, replace=False))
    return np.sort(np.concatenate(held))


def _top_share_threshold(probability: np.ndarray, n_top: int) -> float:
    """The n_top-th largest probability (1.0 when n_top is 0)."""
    if n_top <= 0 or probability.size == 0:
        return 1.0
    n_top = min(n_top, probability.size)
    return float(np.partition(probability, probability.size - n_top)[probability.size - n_top])


def run_high_value(
    training: pd.DataFrame,
    scoring: pd.DataFrame,
    settings: HighValueSettings,
    *,
    log: Log = print,
) -> dict[str, pd.DataFrame]:
    """Train the high-value model on a past cut-off and score customers as of today.

    Takes ``training`` (customer_id, features as of the cut-off, and the settings'
    ``spend_column``: spend in the horizon after it), ``scoring`` and the
    :class:`~customer_chunks.ml.settings.HighValueSettings` (its dbt vars
    ``high_value_top_share``, ``high_value_trees``, ``random_state`` have their
    defaults in dbt_project.yml; the other fields' defaults live in the class). Every
    feature in ``FEATURE_COLUMNS`` is offered to the forest (trees need no feature
    design); ``scoring`` is (customer_id, features as of the scoring date). Labels:
    :func:`make_high_value_labels` with ``high_value_top_share``.

    Steps: stratified k-fold cross-validation (``n_splits`` folds) on the training
    customers (ROC AUC, PR AUC); a stratified hold-out (``holdout_share``, at most 50,000
    customers) is set aside, the forest is fitted on the rest, evaluated on the hold-out,
    permutation importances are computed there, and the probability threshold for
    ``is_predicted_high_value`` is the one that flags as many hold-out customers as there
    are high-value ones (so the predicted share matches the label share); then every
    scoring customer is scored in batches.

    Returns a dict with ``scores`` (customer_id, high_value_probability,
    is_predicted_high_value; sorted by customer_id), ``metrics`` (rows "1".."k", "mean",
    "std", "holdout", columns :data:`METRIC_COLUMNS` with the label definition and the
    positive count), ``feature_importances`` (feature, importance_mean, importance_std,
    impurity_importance, rank) and ``preprocessing``.

    Fallback (logged): when the labels have a single class or fewer than 2 customers in a
    class (e.g. nobody bought in the horizon), or no feature is usable, no model is
    trained: probabilities and flags are null, ``metrics`` is one row ("none") with the
    reason, ``feature_importances`` is empty.

    Scales: the final forest fits on at most ``max_train_rows`` customers, each CV forest
    on at most ``cv_max_rows``, every tree on a bootstrap of at most 10,000 rows;
    importances on 5,000 hold-out customers; scoring O(n) in batches.
    """
    started = time.perf_counter()
    score = _sorted_customers(scoring, "scoring")
    n_training = len(training)
    log(f"{PREFIX} high-value model: {n_training:,} training and {len(score):,} scoring customers")
    scorer, frames = fit_high_value(training, settings, log=log)
    with step("high-value scoring", len(score), log):
        scores = scorer.score(score)
    log(f"{PREFIX} high-value model done in {time.perf_counter() - started:.1f} s")
    return {"scores": scores, **frames}


@dataclass
class HighValueScorer:
    """A fitted high-value model ready to score customers: the preprocessor, the forest
    (None when no model could be trained: every score is then null) and the probability
    threshold of ``is_predicted_high_value``. Picklable, so Spark can broadcast it."""

    preprocessor: FeaturePreprocessor
    model: HighValueModel | None
    threshold: float

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """customer_id, high_value_probability, is_predicted_high_value for each row of
        ``frame`` (customer features), in its order. O(rows), in batches."""
        ids = frame["customer_id"].to_numpy()
        if self.model is None:
            return pd.DataFrame(
                {
                    "customer_id": ids,
                    "high_value_probability": pd.array([None] * len(ids), dtype="Float64"),
                    "is_predicted_high_value": pd.array([None] * len(ids), dtype="boolean"),
                }
            )
        probability = self.model.predict_proba(self.preprocessor.transform(frame))[:, 1]
        return pd.DataFrame(
            {
                "customer_id": ids,
                "high_value_probability": probability,
                "is_predicted_high_value": probability >= self.threshold,
            }
        )


def fit_high_value(
    training: pd.DataFrame,
    settings: HighValueSettings,
    *,
    log: Log = print,
) -> tuple[HighValueScorer, dict[str, pd.DataFrame]]:
    """The fitting half of :func:`run_high_value` (labels, cross-validation, hold-out,
    forest, threshold, importances), its one home: the Spark job
    ``customer_chunks.spark_score`` fits with it too and broadcasts the scorer. Takes
    the same ``training`` and :class:`~customer_chunks.ml.settings.HighValueSettings`.
    Returns the :class:`HighValueScorer` and the frames ``metrics``, ``roc_curve``,
    ``feature_importances`` and ``preprocessing`` (see run_high_value, also for the
    fallback and how it scales)."""
    top_share = settings.high_value_top_share
    spend_column = settings.spend_column
    random_state = settings.random_state
    n_splits = settings.n_splits
    train = _sorted_customers(training, "training")
    if spend_column not in train.columns:
        raise SegmentationError(f"training table has no {spend_column} column")
    n = len(train)
    y = make_high_value_labels(train[spend_column], top_share)
    positives = int(y.sum())
    definition = (
        f"top {top_share:.0%} of training customers by {spend_column} in the horizon "
        "(spend > 0; ties at the threshold included)"
    )
    context = {
        "label_definition": definition,
        "n_training_customers": n,
        "positive_count": positives,
        "top_share": top_share,
    }
    log(f"{PREFIX} label: {definition}: {positives:,} of {n:,} customers")

    preprocessor = FeaturePreprocessor(features=FEATURE_COLUMNS)

    def fallback(reason: str) -> tuple[HighValueScorer, dict[str, pd.DataFrame]]:
        note(f"{reason}; fallback: no model, null probabilities", log)
        metrics = pd.DataFrame(
            [{"fold": "none", **context, "probability_threshold": np.nan, "note": reason}],
            columns=METRIC_COLUMNS,
        )
        parameters = (
            preprocessor.parameters_frame()
            if hasattr(preprocessor, "feature_names_out_")
            else pd.DataFrame(columns=PARAMETER_COLUMNS)
        )
        return HighValueScorer(preprocessor, None, np.nan), {
            "metrics": metrics,
            "roc_curve": pd.DataFrame(columns=ROC_COLUMNS, dtype="float64"),
            "feature_importances": pd.DataFrame(columns=IMPORTANCE_COLUMNS),
            "preprocessing": parameters,
        }

    if positives == 0:
        return fallback(f"no training customer has {spend_column} > 0, so no positive label")
    if positives == n:
        return fallback("every training customer is labelled high value")
    with step("high-value preprocessing", n, log):
        try:
            X = preprocessor.fit(train).transform(train)
        except SegmentationError as error:
            return fallback(str(error))
    for feature, reason in preprocessor.drop_reasons_.items():
        note(f"feature {feature} not used ({reason})", log)

    model = HighValueModel(
        n_estimators=settings.high_value_trees,
        max_depth=settings.max_depth,
        n_splits=n_splits,
        random_state=random_state,
        max_train_rows=settings.max_train_rows,
        cv_max_rows=settings.cv_max_rows,
    )
    with step("high-value cross-validation", n, log):
        try:
            cv = model.cross_validate(X, y)
        except HighValueLabelError as error:
            return fallback(str(error))
    notes = []
    if model.n_splits_ < n_splits:
        notes.append(f"folds lowered from {n_splits} to {model.n_splits_} (few customers)")
        note(notes[-1], log)

    held = _stratified_holdout(y, settings.holdout_share, MAX_HOLDOUT_ROWS, random_state)
    fit_rows = np.setdiff1d(np.arange(n), held, assume_unique=True)
    with step("high-value fit", int(fit_rows.size), log):
        model.fit(X, y, rows=fit_rows)
    with step("high-value hold-out evaluation and importances", int(held.size), log):
        held_probability = model.predict_proba(X[held])[:, 1]
        holdout = {
            "fold": "holdout",
            "roc_auc": float(roc_auc_score(y[held], held_probability)),
            "pr_auc": float(average_precision_score(y[held], held_probability)),
            "n_rows": int(held.size),
            "n_positive": int(y[held].sum()),
        }
        threshold = _top_share_threshold(held_probability, int(y[held].sum()))
        importances = model.permutation_importances(
            X[held],
            y[held],
            n_repeats=settings.n_repeats,
            feature_names=preprocessor.feature_names_out_,
        )
    pool = int(cv.loc[cv["fold"] == "mean", "n_rows"].iloc[0])
    cv["n_train"] = np.where(cv["fold"].str.isdigit(), pool - cv["n_rows"], np.nan)
    holdout["n_train"] = int(fit_rows.size)
    metrics = pd.concat([cv, pd.DataFrame([holdout])], ignore_index=True)
    for column, value in context.items():
        metrics[column] = value
    metrics["probability_threshold"] = threshold
    metrics["note"] = "; ".join(notes) or None
    return HighValueScorer(preprocessor, model, threshold), {
        "metrics": metrics[METRIC_COLUMNS],
        "roc_curve": _roc_curve(model.oof_labels_, model.oof_probability_),
        "feature_importances": importances,
        "preprocessing": preprocessor.parameters_frame(),
    }
