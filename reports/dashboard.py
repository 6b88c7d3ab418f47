"""The interactive customer dashboard: one self-contained HTML page (works offline).

The page (``dashboard.html.j2`` filled in by :func:`build_dashboard`) shows

- segment sizes and revenue shares (click a bar to open the segment below);
- customers in PCA space, one plotly trace per segment, filterable with a drop-down
  or the legend (a stratified sample of at most about ``sample_points`` customers);
- a segment drill-down: pick a segment to see its description, suggested action, key
  numbers, feature profile against all customers, RFM mix and top customers;
- customer lifetime value per segment (BG/NBD + Gamma-Gamma, from dim_customers);
- the high-value list: the ``top_n`` customers with the highest
  ``high_value_probability`` in a table that sorts on a header click and filters by
  text and segment.

When the warehouse has no ML segments the page groups customers by RFM segment, and
when there is no high-value model the list ranks by net revenue; the page says so.

Data and plotly.js are embedded in the page (plotly.js once, ~4.6 MB); everything else
is capped (``sample_points`` scatter points, ``top_n`` list rows, 10 top customers per
segment), so the page stays around 5-6 MB at any number of customers. Aggregates run in
DuckDB, O(N) time and O(segments) memory.

Run it as a script (``python reports/dashboard.py --warehouse W --out page.html``) or
through ``customer_chunks.reporting.build_reports``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as cc  # noqa: E402

HERE = Path(__file__).resolve().parent
TEMPLATE = "dashboard.html.j2"
TOP_PER_SEGMENT = 10
LIST_COLUMNS = [
    "customer_id",
    "segment_name",
    "rfm_segment",
    "country",
    "high_value_probability",
    "monetary",
    "frequency",
    "recency_days",
    "is_predicted_high_value",
]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN/NA -> null, numpy scalars -> Python)."""
    return json.loads(frame.to_json(orient="records", date_format="iso", double_precision=6))


def _num(value: Any) -> float | None:
    """A JSON-safe number: NaN/NA/None -> None."""
    return None if value is None or pd.isna(value) else float(value)


def _figure(fig: Any) -> dict[str, Any]:
    return json.loads(fig.to_json())


def _profile_features(wh: cc.Warehouse, profiles: pd.DataFrame) -> list[str]:
    """Features for the drill-down profile: the segment_profiles mean_* columns that
    exist in dim_customers, else the report's key features."""
    from_profiles = [c[5:] for c in profiles.columns if c.startswith("mean_")]
    features = from_profiles or [f for f, _ in cc.KEY_FEATURES]
    return [f for f in features if f in wh.customer_columns]


def clv_by_segment(wh: cc.Warehouse, segment_name_sql: str) -> dict[str, Any]:
    """Customer lifetime value per segment (from dim_customers' CLV columns): customers,
    mean P(alive), mean expected purchases, mean and total CLV, share of total CLV.
    ``available`` is false, with the fit's note, when the warehouse has no CLV."""
    note = None
    if wh.has("clv_model_parameters"):
        notes = wh.df("select distinct note from marts.clv_model_parameters where note is not null")
        note = "; ".join(notes["note"]) or None
    if not wh.has_values("lifetime_value"):
        return {"available": False, "note": note, "rows": []}
    frame = wh.df(
        f"""
        select
            {segment_name_sql} as segment_name,
            count(*) as customers,
            avg(probability_alive) as mean_probability_alive,
            avg(expected_purchases) as mean_expected_purchases,
            avg(lifetime_value) as mean_lifetime_value,
            sum(lifetime_value) as total_lifetime_value
        from marts.dim_customers
        group by 1
        order by mean_lifetime_value desc nulls last
        """
    )
    total = frame["total_lifetime_value"].sum()
    frame["share"] = frame["total_lifetime_value"] / total if total else None
    return {"available": True, "note": note, "rows": _records(frame)}


def collect(wh: cc.Warehouse, *, sample_points: int = 5_000, top_n: int = 500) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready Python objects."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    seg = cc.segmentation(wh)
    segments = cc.segment_summary(wh)
    n_customers = int(segments["n_customers"].sum())
    validation = wh.table("model_validation")
    algorithm = cc.chosen_algorithm(validation)
    profiles, _ = cc.chosen_profiles(wh, algorithm)
    has_model = wh.has_values("high_value_probability")
    has_pca = wh.has_values("pca_1") and wh.has_values("pca_2")
    notes: list[str] = []
    if seg["source"] != "ml":
        notes.append(
            "No ML segments in this warehouse (no clustering could be fitted): customers "
            "are grouped by RFM segment instead."
        )
    if not has_model:
        notes.append(
            "No high-value model could be trained: the customer list ranks by net revenue "
            "instead of predicted probability."
        )
    if not has_pca:
        notes.append("No PCA coordinates in this warehouse: the customer map is left out.")

    # -- per-segment profile: mean of each feature against all customers (population z)
    features = _profile_features(wh, profiles)
    segment_key = f"{seg['id']}"
    name_key = f"{seg['name']}"
    profile_rows: dict[Any, list[dict[str, Any]]] = {}
    if features and n_customers:
        means = wh.df(
            f"select {segment_key} as segment_id, {name_key} as segment_name, "
            + ", ".join(f"avg({f}::double) as {f}" for f in features)
            + " from marts.dim_customers group by 1, 2"
        )
        overall = wh.df(
            "select "
            + ", ".join(
                f"avg({f}::double) as mean_{f}, stddev_pop({f}::double) as std_{f}"
                for f in features
            )
            + " from marts.dim_customers"
        ).iloc[0]
        for _, row in means.iterrows():
            rows = []
            for f in features:
                mean, pop, std = row[f], overall[f"mean_{f}"], overall[f"std_{f}"]
                z = (mean - pop) / std if pd.notna(std) and std > 0 and pd.notna(mean) else None
                rows.append(
                    {
                        "feature": f,
                        "label": cc.label(f),
                        "mean": _num(mean),
                        "overall": _num(pop),
                        "z": None if z is None or pd.isna(z) else round(float(z), 3),
                    }
                )
            profile_rows[row["segment_name"]] = rows

    rfm_mix = wh.df(
        f"select {name_key} as segment_name, rfm_segment, count(*) as n "
        "from marts.dim_customers group by 1, 2 order by 1, 3 desc"
    )
    order_by = (
        "high_value_probability desc nulls last, monetary desc" if has_model else "monetary desc"
    )
    list_columns = [c for c in LIST_COLUMNS if c in wh.customer_columns and c != "segment_name"]
    if not has_model:
        list_columns = [c for c in list_columns if "high_value" not in c]
    select = ", ".join(list_columns)
    top = wh.df(
        f"""
        select {name_key} as segment_name, {select}
        from marts.dim_customers
        qualify row_number() over (partition by {name_key} order by {order_by}) <= ?
        order by segment_name, {order_by}
        """,
        [TOP_PER_SEGMENT],
    )
    seed = wh.table("rfm_segments")
    texts = {}
    if seg["source"] == "ml" and not profiles.empty:
        for _, row in profiles.iterrows():
            texts[row["segment_name"]] = (row.get("description"), row.get("suggested_action"))
    elif seg["source"] != "ml" and not seed.empty:
        for _, row in seed.iterrows():
            texts[row["segment_name"]] = (row["description"], row["suggested_action"])

    segment_items = []
    for _, row in segments.iterrows():
        name = row["segment_name"]
        description, action = texts.get(name, (None, None))
        mix = rfm_mix[rfm_mix["segment_name"] == name]
        segment_items.append(
            {
                "id": None if pd.isna(row["segment_id"]) else int(row["segment_id"]),
                "name": str(name),
                "colour": row["colour"],
                "n": int(row["n_customers"]),
                "share": _num(row["share"]),
                "revenue": _num(row["revenue"]),
                "revenue_share": _num(row["revenue_share"]),
                "mean_monetary": _num(row["mean_monetary"]),
                "high_value_share": _num(row["high_value_share"]),
                "outlier_share": _num(row["outlier_share"]),
                "description": description if isinstance(description, str) else None,
                "action": action if isinstance(action, str) else None,
                "profile": profile_rows.get(name, []),
                "rfm_mix": _records(mix[["rfm_segment", "n"]]),
                "top": _records(top[top["segment_name"] == name].drop(columns="segment_name")),
            }
        )

    # -- figures built here (plotly JSON), drawn by the page
    figures: dict[str, Any] = {}
    if len(segments):
        names = [str(n) for n in segments["segment_name"]]
        sizes = make_subplots(
            rows=1,
            cols=2,
            shared_yaxes=True,
            horizontal_spacing=0.04,
            subplot_titles=("Customers", "Share of net revenue"),
        )
        sizes.add_trace(
            go.Bar(
                y=names,
                x=segments["n_customers"],
                orientation="h",
                marker_color=list(segments["colour"]),
                text=[
                    f"{n:,} ({100 * s:.1f}%)"
                    for n, s in zip(segments["n_customers"], segments["share"], strict=True)
                ],
                textposition="auto",
                hovertemplate="%{y}: %{x:,} customers<extra></extra>",
                name="customers",
            ),
            row=1,
            col=1,
        )
        sizes.add_trace(
            go.Bar(
                y=names,
                x=segments["revenue_share"],
                orientation="h",
                marker_color=list(segments["colour"]),
                text=[f"{100 * s:.1f}%" for s in segments["revenue_share"]],
                textposition="auto",
                hovertemplate="%{y}: %{x:.1%} of net revenue<extra></extra>",
                name="net revenue",
            ),
            row=1,
            col=2,
        )
        sizes.update_layout(
            showlegend=False,
            height=max(260, 70 + 38 * len(names)),
            margin={"l": 10, "r": 10, "t": 40, "b": 30},
            template="plotly_white",
            yaxis={"autorange": "reversed", "automargin": True},
        )
        sizes.update_xaxes(tickformat=".0%", row=1, col=2)
        figures["sizes"] = _figure(sizes)

    scatter_note = None
    scatter_counts: dict[str, int] = {}
    if has_pca:
        sample, total = cc.sample_customers(
            wh,
            ["pca_1", "pca_2", "monetary", "rfm_segment"],
            sample_points,
            where="pca_1 is not null and pca_2 is not null",
        )
        scatter = go.Figure()
        for item in segment_items:
            part = sample[sample["segment_name"] == item["name"]]
            if part.empty:
                continue
            scatter_counts[item["name"]] = len(part)
            scatter.add_trace(
                go.Scatter(
                    x=part["pca_1"].round(3),
                    y=part["pca_2"].round(3),
                    mode="markers",
                    name=item["name"],
                    marker={"size": 5, "opacity": 0.65, "color": item["colour"]},
                    customdata=np.column_stack(
                        [part["customer_id"], part["monetary"].round(0), part["rfm_segment"]]
                    ),
                    hovertemplate="%{customdata[0]}<br>net revenue %{customdata[1]}"
                    "<br>RFM: %{customdata[2]}<extra>%{fullData.name}</extra>",
                )
            )
        scatter.update_layout(
            height=560,
            template="plotly_white",
            xaxis_title="PC1",
            yaxis_title="PC2",
            margin={"l": 50, "r": 10, "t": 20, "b": 50},
            legend={"title": {"text": "Segment"}, "itemsizing": "constant"},
        )
        figures["scatter"] = _figure(scatter)
        scatter_note = (
            f"A sample of {len(sample):,} of {total:,} customers, stratified by segment "
            "(each segment keeps at least 50 points)."
        )

    hv = wh.df(
        f"""
        select {name_key} as segment_name, {select}
        from marts.dim_customers
        order by {order_by}, customer_id
        limit ?
        """,
        [top_n],
    )
    hv_summary = wh.table("high_value_model_metrics")
    auc = None
    if not hv_summary.empty and (hv_summary["fold"] == "mean").any():
        auc = _num(hv_summary.loc[hv_summary["fold"] == "mean", "roc_auc"].iloc[0])
    label_definition = None
    if not hv_summary.empty and hv_summary["label_definition"].notna().any():
        label_definition = str(hv_summary["label_definition"].dropna().iloc[0])

    moved, moved_total, last_run = pd.DataFrame(), 0, None
    if wh.has("customer_segment_history") and wh.has("run_history"):
        last_run = wh.scalar("select max(run_id) from marts.run_history")
        moves = """
            from marts.customer_segment_history as now
            inner join marts.customer_segment_history as before
                on before.customer_id = now.customer_id
                and before.valid_to_run_id = now.valid_from_run_id
            left join marts.dim_customers as customers
                on customers.customer_id = now.customer_id
            where now.valid_from_run_id = ?
        """
        moved_total = int(wh.scalar(f"select count(*) {moves}", [last_run]) or 0)
        moved = wh.df(
            f"""
            select now.customer_id, before.segment_name as from_segment,
                now.segment_name as to_segment, customers.monetary
            {moves}
            order by customers.monetary desc nulls last, now.customer_id
            limit ?
            """,
            [last_run, top_n],
        )

    as_of = wh.scalar("select max(as_of_date) from marts.dim_customers")
    return {
        "meta": {
            "warehouse": wh.path.name,
            "as_of": str(as_of) if as_of else None,
            "generated_at": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "n_customers": n_customers,
            "net_revenue": _num(segments["revenue"].sum()) if len(segments) else 0.0,
            "n_segments": len(segments),
            "segment_source": seg["source"],
            "algorithm": algorithm,
            "has_model": has_model,
            "roc_auc": auc,
            "label_definition": label_definition,
            "n_predicted": int(
                wh.scalar(
                    "select count(*) filter (is_predicted_high_value) from marts.dim_customers"
                )
                or 0
            )
            if has_model
            else None,
            "scatter_note": scatter_note,
            "scatter_counts": scatter_counts,
            "top_n": int(len(hv)),
            "list_basis": "high_value_probability" if has_model else "monetary",
        },
        "notes": notes,
        "segments": segment_items,
        "figures": figures,
        "high_value": _records(hv),
        "clv": clv_by_segment(wh, name_key),
        "moved": _records(moved),
        "moved_meta": {"total": moved_total, "run_id": last_run, "shown": int(len(moved))},
    }


def render_page(data: dict[str, Any]) -> str:
    """The dashboard HTML for :func:`collect`'s data, plotly.js inlined once."""
    import jinja2
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    payload = json.dumps(data, allow_nan=False, separators=(",", ":"))
    # inside <script type="application/json">: never let the data close the tag
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return env.get_template(TEMPLATE).render(
        data=data,
        meta=data["meta"],
        fmt_int=cc.fmt_int,
        fmt_money=cc.fmt_money,
        fmt_pct=cc.fmt_pct,
        payload=Markup(payload),
        plotly_js=Markup(get_plotlyjs()),
    )


def build_dashboard(
    warehouse: str | Path,
    out_path: str | Path,
    *,
    sample_points: int = 5_000,
    top_n: int = 500,
) -> Path:
    """Write the dashboard for ``warehouse`` to ``out_path`` and return the path.

    ``sample_points`` caps the PCA scatter, ``top_n`` the high-value list. Raises
    ``FileNotFoundError``/``LookupError`` when the warehouse or ``marts.dim_customers``
    is missing.
    """
    wh = cc.Warehouse(warehouse)
    try:
        data = collect(wh, sample_points=sample_points, top_n=top_n)
    finally:
        wh.close()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page(data), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Customer Chunks dashboard.")
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--sample-points", type=int, default=5_000)
    parser.add_argument("--top-n", type=int, default=500)
    args = parser.parse_args(argv)
    try:
        build_dashboard(
            args.warehouse, args.out, sample_points=args.sample_points, top_n=args.top_n
        )
    except (FileNotFoundError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
