"""Helpers shared by the segmentation report (``segmentation_report.qmd``) and the
dashboard (``dashboard.py``): reading the marts, sampling customers for scatter plots,
segment colours, number formatting, the matplotlib style and figures shown in both an
interactive (HTML) and a static (PDF) version.

Everything here reads only the public marts (``marts.*`` of the warehouse DuckDB file)
and treats every ML mart as optional: :meth:`Warehouse.table` returns an empty frame
for a missing or empty table, and callers print why a section is empty.

Scaling: aggregates run in DuckDB; only samples (``sample_customers``, a few thousand
rows) and per-segment summaries reach pandas, except :meth:`Warehouse.column`, which
reads one column of ``dim_customers`` at a time (8 MB per million customers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from customer_chunks.ml.features import HEAVY_TAILED as _PACKAGE_HEAVY_TAILED

# Features shown in the distributions and the drill-down, with whether they are
# heavy-tailed (plotted on a log axis). Heavy-tailed is the package's list, the one the
# segmentation log-transforms, so plots and model agree. Every name here and in LABELS
# is a column of dim_customers' contract (checked by tests/test_one_home.py).
HEAVY_TAILED = set(_PACKAGE_HEAVY_TAILED)
KEY_FEATURES: list[tuple[str, bool]] = [
    (name, name in HEAVY_TAILED)
    for name in (
        "recency_days",
        "frequency",
        "monetary",
        "avg_order_value",
        "tenure_days",
        "avg_days_between_orders",
        "distinct_categories",
        "return_rate",
        "web_sessions_90d",
        "email_open_rate",
        "engagement_score",
        "age",
    )
]

LABELS = {
    "recency_days": "Recency (days)",
    "frequency": "Orders",
    "gross_revenue": "Gross revenue",
    "returned_revenue": "Returned revenue",
    "monetary": "Net revenue",
    "avg_order_value": "Avg order value",
    "tenure_days": "Tenure (days)",
    "avg_days_between_orders": "Days between orders",
    "distinct_categories": "Distinct categories",
    "return_rate": "Return rate",
    "web_sessions_90d": "Web sessions (90 d)",
    "web_events_90d": "Web events (90 d)",
    "add_to_cart_90d": "Add to cart (90 d)",
    "checkouts_90d": "Checkouts (90 d)",
    "cart_to_purchase_rate": "Cart to purchase",
    "email_open_rate": "Email open rate",
    "email_click_rate": "Email click rate",
    "emails_sent": "Emails sent",
    "days_since_last_engagement": "Days since engagement",
    "engagement_score": "Engagement score",
    "age": "Age",
}

# Segment colours, in segment id order (1 = highest spend); noise is grey.
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
    "#ad494a",
    "#637939",
]
NOISE_COLOUR = "#9a9a9a"
OUTLIER_COLOUR = "#d62728"

# The ML marts the report reads (tests/test_one_home.py checks this against the
# segmentation_report exposure and the marts built from the ML runs).
ML_TABLES = [
    "kmeans_candidates",
    "model_validation",
    "segment_profiles",
    "pca_components",
    "hierarchy_linkage",
    "high_value_model_metrics",
    "high_value_roc_curve",
    "feature_importances",
    "segment_matches",
    "drift",
]


def label(feature: str) -> str:
    """Human label of a feature column (the column name when unknown)."""
    return LABELS.get(feature, feature.replace("_", " "))


class Warehouse:
    """Read-only access to the ``marts`` schema of a warehouse DuckDB file."""

    def __init__(self, path: str | Path) -> None:
        from customer_chunks.marts import open_read_only

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"warehouse {self.path} not found: run `customer-chunks run` first"
            )
        # attached under a fixed alias: a file named marts.duckdb must not shadow the schema
        self.con = open_read_only(self.path)
        rows = self.con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema = 'marts'"
        ).fetchall()
        self.tables = {r[0] for r in rows}
        if "dim_customers" not in self.tables:
            raise LookupError(f"{self.path} has no marts.dim_customers: run the pipeline first")
        self.customer_columns = set(self.columns("dim_customers"))

    def close(self) -> None:
        self.con.close()

    def has(self, table: str) -> bool:
        return table in self.tables

    def columns(self, table: str) -> list[str]:
        if table not in self.tables:
            return []
        rows = self.con.execute(
            "select column_name from information_schema.columns where table_catalog = "
            "current_database() and table_schema = 'marts' and table_name = ? "
            "order by ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def table(self, table: str, order_by: str | None = None) -> pd.DataFrame:
        """The whole of a small mart (empty frame when missing)."""
        if table not in self.tables:
            return pd.DataFrame()
        sql = f"select * from marts.{table}"
        if order_by:
            sql += f" order by {order_by}"
        return self.con.execute(sql).df()

    def df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]

    def has_values(self, column: str) -> bool:
        """True when ``dim_customers.column`` exists and is not all NULL."""
        if column not in self.customer_columns:
            return False
        return bool(self.scalar(f"select count({column}) > 0 from marts.dim_customers"))

    def column(self, column: str) -> np.ndarray:
        """One numeric column of dim_customers as float (NULL -> NaN)."""
        values = self.con.execute(f"select {column}::double from marts.dim_customers").fetchnumpy()
        array = next(iter(values.values()))
        if np.ma.isMaskedArray(array):
            array = array.filled(np.nan)
        return np.asarray(array, dtype=float)


def chosen_algorithm(validation: pd.DataFrame) -> str | None:
    """The recommended algorithm of ``model_validation`` (None when the table is empty)."""
    if validation.empty:
        return None
    chosen = validation.loc[validation["is_chosen"].fillna(False).astype(bool), "algorithm"]
    return str(chosen.iloc[0]) if len(chosen) else None


# The column of dim_customers holding each algorithm's own (this fit's) segment ids.
FIT_ID_COLUMNS = {
    "kmeans": "kmeans_segment_id",
    "hierarchical": "hierarchical_segment_id",
    "dbscan": "dbscan_cluster_id",
}


def chosen_profiles(wh: Warehouse, algorithm: str | None) -> tuple[pd.DataFrame, str | None]:
    """``segment_profiles`` of ``algorithm`` (the first one present when it has none) and
    the algorithm used, with ``segment_id``/``segment_name`` read as in dim_customers.

    The profiles describe this run's fit, whose ids are not the stable ids of
    ``dim_customers.segment_id``. When each fitted segment is exactly one stable segment
    (a run that refitted), its rows take the stable id and name, so the profile table
    and the customers' segments agree; otherwise (a run that scored against the last
    fit) the fit's ids are kept and ``is_stable_id`` is False."""
    profiles = wh.table("segment_profiles")
    if profiles.empty:
        return profiles, None
    use = algorithm if algorithm in set(profiles["algorithm"]) else profiles["algorithm"].iloc[0]
    profiles = profiles[profiles["algorithm"] == use].reset_index(drop=True)
    fit_column = FIT_ID_COLUMNS.get(use)
    if fit_column not in wh.customer_columns or not wh.has_values("segment_id"):
        return profiles.assign(is_stable_id=False), use
    pairs = wh.df(
        f"select distinct {fit_column} as fit_id, segment_id, segment_name "
        "from marts.dim_customers where segment_id is not null"
    )
    one_to_one = pairs["fit_id"].is_unique and pairs["segment_id"].is_unique
    if not one_to_one or not set(profiles["segment_id"]) <= set(pairs["fit_id"]):
        return profiles.assign(is_stable_id=False), use
    stable = pairs.set_index("fit_id")
    return (
        profiles.assign(
            segment_id=profiles["segment_id"].map(stable["segment_id"]).astype(int),
            segment_name=profiles["segment_id"].map(stable["segment_name"]),
            is_stable_id=True,
        ),
        use,
    )


def segmentation(wh: Warehouse) -> dict[str, str]:
    """Which columns group customers into segments.

    The ML segments (``segment_id``/``segment_name``) when present, else the RFM
    segments, so the dashboard still has something to drill into.
    """
    if wh.has_values("segment_id"):
        return {
            "source": "ml",
            "id": "segment_id",
            "name": "coalesce(segment_name, 'Segment ' || segment_id)",
        }
    ranked = "(select priority from marts.rfm_segments s where s.segment_name = rfm_segment)"
    return {
        "source": "rfm",
        "id": ranked if wh.has("rfm_segments") else "null::integer",
        "name": "rfm_segment",
    }


def segment_summary(wh: Warehouse) -> pd.DataFrame:
    """One row per segment: id, name, customers, share, revenue, revenue share, mean
    monetary, high-value share (NULL without a model), outlier share."""
    seg = segmentation(wh)
    hv = (
        "avg(is_predicted_high_value::int)"
        if wh.has_values("is_predicted_high_value")
        else "null::double"
    )
    outlier = "avg(is_outlier::int)" if wh.has_values("is_outlier") else "null::double"
    frame = wh.df(
        f"""
        with customers as (
            select {seg["id"]} as segment_id, {seg["name"]} as segment_name, *
            exclude (segment_id, segment_name)
            from marts.dim_customers
        )
        select
            segment_id,
            segment_name,
            count(*) as n_customers,
            sum(monetary) as revenue,
            avg(monetary) as mean_monetary,
            {hv} as high_value_share,
            {outlier} as outlier_share
        from customers
        group by 1, 2
        order by 1, 2
        """
    )
    total = frame["n_customers"].sum()
    revenue = frame["revenue"].sum()
    frame["share"] = frame["n_customers"] / total if total else 0.0
    frame["revenue_share"] = frame["revenue"] / revenue if revenue else 0.0
    frame["colour"] = segment_colours(frame["segment_id"])
    return frame


def segment_colours(ids: Iterable[Any]) -> list[str]:
    """A colour per segment, in the order given (first -> first palette colour);
    noise (-1) is grey."""
    out = []
    position = 0
    for value in ids:
        if value is not None and not pd.isna(value) and value == -1:
            out.append(NOISE_COLOUR)
        else:
            out.append(PALETTE[position % len(PALETTE)])
            position += 1
    return out


def sample_customers(
    wh: Warehouse,
    columns: Sequence[str],
    n: int = 5_000,
    *,
    where: str = "true",
    seed: int = 42,
    min_per_segment: int = 50,
) -> tuple[pd.DataFrame, int]:
    """A repeatable sample of about ``n`` customers, stratified by segment.

    Each segment gets its proportional share of ``n`` but at least ``min_per_segment``
    rows (or all of its rows), so small segments stay visible. Returns the sample (with
    ``segment_id`` and ``segment_name`` columns) and the number of customers it was
    drawn from. Order of rows is by a hash of the customer id, so the same warehouse
    always gives the same sample. O(N) in DuckDB, O(n) in pandas.
    """
    seg = segmentation(wh)
    wanted = [c for c in columns if c in wh.customer_columns and c not in ("segment_id",)]
    wanted = [c for c in wanted if c != "segment_name"]
    select = ", ".join(dict.fromkeys(["customer_id", *wanted]))
    frame = wh.df(
        f"""
        with base as (
            select {seg["id"]} as segment_id, {seg["name"]} as segment_name, {select}
            from marts.dim_customers
            where {where}
        ),
        sized as (
            select *, count(*) over (partition by segment_id) as group_size,
                count(*) over () as total
            from base
        )
        select * exclude (group_size, total), total
        from sized
        qualify row_number() over (partition by segment_id order by hash(customer_id, ?))
            <= greatest(least(?, group_size), floor(? * group_size / total))
        order by hash(customer_id, ?)
        """,
        [seed, min_per_segment, n, seed],
    )
    total = int(frame["total"].iloc[0]) if len(frame) else 0
    return frame.drop(columns="total"), total


# --------------------------------------------------------------------------- formatting


def fmt_int(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{int(value):,}"


# A parameter value longer than this is a rule written in words: it goes in the note
# under the validation table, not in its cell.
SHORT_PARAMETER_CHARS = 24


def split_parameters(text: Any) -> tuple[str, list[str], Any]:
    """A ``model_validation.parameters`` JSON object, split for the report:

    * ``short``: the values that fit a table cell, ``"k = 5; n init = 10; k range =
      2–10"`` (names with spaces, so a narrow cell can wrap them; numbers to 3
      significant digits, integers with thousands separators);
    * ``rules``: the long values (the k rule, the init, the linkage, DBSCAN's eps and
      min_samples rules) as ``"init: means of the Ward ..."``, for a note below it;
    * ``seed``: ``random_state`` (the same for every algorithm: said once), or None.

    Text that is not a JSON object is returned as ``short`` unchanged."""
    import json

    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return str(text), [], None
    if not isinstance(value, dict):
        return str(value), [], None
    short, rules = [], []
    seed = value.pop("random_state", None)
    for key, item in value.items():
        name, shown = key.replace("_", " "), _parameter_value(item)
        if len(shown) > SHORT_PARAMETER_CHARS:
            rules.append(f"{name}: {shown}")
        else:
            short.append(f"{name} = {shown}")
    return "; ".join(short), rules, seed


def _parameter_value(item: Any) -> str:
    if isinstance(item, bool) or item is None:
        return str(item).lower()
    if isinstance(item, int):
        return f"{item:,}"
    if isinstance(item, float):
        return f"{item:.3g}"
    if isinstance(item, list) and len(item) == 2 and all(isinstance(v, int) for v in item):
        return f"{item[0]}–{item[1]}"
    if isinstance(item, list):
        return ", ".join(_parameter_value(v) for v in item)
    return str(item)


def fmt_pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * float(value):.{digits}f}%"


def fmt_num(value: Any, digits: int = 2) -> str:
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.1f}k"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def fmt_money(value: Any) -> str:
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:,.1f}k"
    return f"{value:,.0f}"


# --------------------------------------------------------------------------- notebook output


def setup_matplotlib() -> None:
    """The reports' matplotlib style (100 dpi: the PDF maps 100 px to an inch)."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (9, 4),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.titlesize": 11,
            "axes.titleweight": "bold",
            "axes.labelsize": 9,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "legend.fontsize": 8,
            "legend.frameon": False,
        }
    )


def md(text: str) -> None:
    """Show Markdown from a code cell (HTML and PDF)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def missing(what: str, why: str) -> None:
    """Say in the document that a section has nothing to show, and why."""
    md(f"> **{what}: not available.** {why}")


def show_plotly(interactive: Any, static: Any) -> None:
    """Show a figure as ONE output carrying both versions: the plotly figure
    ``interactive`` (the HTML report draws it) and the matplotlib figure ``static`` as
    a PNG (the PDF uses it; no browser is needed to make it). Closes ``static``."""
    import base64
    import io
    import json

    import matplotlib.pyplot as plt
    import plotly.io as pio
    from IPython.display import display

    from customer_chunks.reporting.notebook import PLOTLY_MIME

    buffer = io.BytesIO()
    static.savefig(buffer, format="png")
    plt.close(static)
    bundle = {
        PLOTLY_MIME: json.loads(pio.to_json(interactive, validate=False)),
        "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
        "text/plain": f"<figure: {interactive.layout.title.text or 'plotly'}>",
    }
    display(bundle, raw=True)


def show_table(frame: pd.DataFrame, formats: dict[str, Any] | None = None) -> None:
    """Display a frame as a table without its index, with per-column formats."""
    from IPython.display import display

    text = [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
    ]
    styler = frame.style.hide(axis="index").format(formats or {}, na_rep="–")
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
        styler = styler.set_table_styles(
            [
                {"selector": f"th.col{frame.columns.get_loc(c)}", "props": "text-align: left;"}
                for c in text
            ],
            overwrite=False,
        )
    display(styler)


def histogram_bins(values: np.ndarray, heavy: bool, n_bins: int = 40) -> tuple[Any, bool]:
    """Bins for a histogram of ``values`` and whether to draw the x axis on a log scale.

    Small integer ranges (counts such as orders up to 60) get one bin per value on a
    linear axis, so there are no aliasing stripes and every bar is one value. Other
    heavy-tailed features get log-spaced bins over their positive values (log axis).
    """
    low, high = float(values.min()), float(values.max())
    integer = bool(np.all(np.mod(values, 1) == 0))
    if integer and high - low <= (60 if heavy else 2 * n_bins):
        return np.arange(low - 0.5, high + 1.5), False
    if heavy and high > low > 0:
        return np.geomspace(low, high * 1.0001, n_bins + 1), True
    return n_bins, False
