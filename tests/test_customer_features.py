"""Customer-level input (issue 14 item 6): a ``customer_features`` table, one row per
customer with precomputed metrics and extra numeric columns, instead of order lines.

The end-to-end test builds one warehouse from a small generated table with three
planted groups and a few bad rows, and checks it against the input itself: the staged
features equal the generated values, every row is staged or quarantined with the
expected reason, the segments recover the planted groups and their sizes sum to n,
and the stages that need order lines are empty and said to be skipped. The examples
on ../shared/data run when that folder exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from customer_chunks import sources
from customer_chunks.contract import CUSTOMER_FEATURE_COLUMNS
from customer_chunks.errors import InputError
from customer_chunks.load import CUSTOMER_LEVEL_NOTE
from customer_chunks.ml.segments import name_segment
from customer_chunks.ml_tables import with_extra_features
from customer_chunks.run import run

from support import ROOT, SHARED_DATA, load_error, query

SPEC = """
tables:
  customer_features:
    path: crm.csv
    columns:
      customer_id: id
      recency_days: days_since
      frequency: orders
      monetary: spend
    extra_columns:
      visits: web_visits
      # web_visits holds a word in one row, so it is sniffed as text: cast it
      spend_per_visit: "spend / nullif(try_cast(web_visits as double), 0)"
  customers:
    from: customer_features
    columns: {customer_id: id, gender: sex}
vars:
  segmentation_features: [recency_days, frequency, monetary, visits]
  k_min: 2
  k_max: 5
"""


def test_dbt_feature_list_is_the_contract() -> None:
    """The dbt macro listing the features a customer_features table may map is the
    contract's list, which the ML package uses (one home, a checked copy)."""
    macro = (ROOT / "macros" / "customer_features.sql").read_text()
    listed = re.search(r"return\(\[(.*?)\]\)", macro, re.S).group(1)
    assert re.findall(r"'(\w+)'", listed) == list(CUSTOMER_FEATURE_COLUMNS)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "tables:\n  transactions:\n    path: t.csv\n    columns: {customer_id: a}\n"
            "    extra_columns: {x: b}\n",
            "tables.transactions.extra_columns.x: extra_columns are for the customer_features",
        ),
        (
            "tables:\n  customer_features:\n    path: t.csv\n    columns: {customer_id: a}\n"
            "    extra_columns: {Income: b}\n",
            "tables.customer_features: extra_columns: 'Income' is not a usable feature name",
        ),
        (
            "tables:\n  customer_features:\n    path: t.csv\n    columns: {customer_id: a}\n"
            "    extra_columns: {monetary: b}\n",
            "extra_columns: 'monetary' is a contract column",
        ),
        (
            "tables:\n  customer_features:\n    path: t.csv\n    columns: {customer_id: a}\n"
            "    extra_columns: {x: 'read_text(b)'}\n",
            "tables.customer_features.extra_columns.x: function read_text()",
        ),
        (
            "tables:\n  customer_features:\n    path: t.csv\n    columns: {customer_id: a}\n"
            "  transactions:\n    path: t.csv\n    columns: {customer_id: a}\n",
            "give transactions or customer_features, not both",
        ),
        (
            "tables:\n  customers:\n    path: t.csv\n    columns: {customer_id: a}\n",
            "the transactions table (order lines) or a customer_features table",
        ),
    ],
)
def test_source_schema_errors_name_the_key(tmp_path, capsys, yaml_text, expected) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    assert expected in load_error(tmp_path, capsys, yaml_text)


@pytest.mark.parametrize(
    ("vars_text", "expected"),
    [
        ("{k_maxx: 3}", "s.yml: vars.k_maxx: unknown key"),
        ("{k_max: many}", "s.yml: vars.k_max: must be a whole number"),
    ],
)
def test_source_file_vars_are_checked_like_var(tmp_path, vars_text, expected) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    spec = tmp_path / "s.yml"
    spec.write_text(
        f"tables:\n  customer_features:\n    path: t.csv\n    columns: {{customer_id: a}}\n"
        f"vars: {vars_text}\n"
    )
    with pytest.raises(InputError, match=re.escape(expected)):
        sources.source_file_vars(spec)


def test_source_file_vars_reach_the_run_and_var_wins(tmp_path) -> None:
    from customer_chunks import cli

    (tmp_path / "crm.csv").write_text("id,days_since,orders,spend,web_visits,sex\n")
    (tmp_path / "s.yml").write_text(SPEC)
    argv = ["run", "--source", str(tmp_path / "s.yml"), "--var", "k_max=7"]
    got = cli.run_vars(cli.build_parser().parse_args(argv))
    assert got == {
        "segmentation_features": ["recency_days", "frequency", "monetary", "visits"],
        "k_min": 2,
        "k_max": 7,
    }


def test_parquet_customer_features_load_with_their_extra_columns(tmp_path) -> None:
    import duckdb

    from customer_chunks.load import load_all

    duckdb.sql(
        "copy (select * from (values ('a', 3, 10.5, 7), ('b', 1, 2.0, null)) "
        f"t(id, r, m, v)) to '{tmp_path / 'crm.parquet'}' (format parquet)"
    )
    (tmp_path / "s.yml").write_text(
        "tables:\n  customer_features:\n    path: crm.parquet\n"
        "    columns: {customer_id: id, recency_days: r, monetary: m}\n"
        "    extra_columns: {visits: v, twice_spend: 'm * 2'}\n"
    )
    summary = load_all(tmp_path / "w.duckdb", sources.from_source_file(tmp_path / "s.yml"))
    assert summary["customer_features"]["rows"] == 2
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    rows = con.sql(
        "select customer_id, recency_days, monetary, visits, twice_spend "
        "from raw.customer_features order by _row_id"
    ).fetchall()
    con.close()
    assert rows == [("a", 3, 10.5, 7, 21.0), ("b", 1, 2.0, None, 4.0)]


def test_extra_features_join_by_customer() -> None:
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "monetary": [1.0, 2.0, 3.0]})
    extra = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a", "c"],
            "feature_name": ["x", "x", "y", "y"],
            "feature_value": [10.0, None, 5.0, 7.0],
        }
    )
    joined = with_extra_features(frame, extra)
    assert joined.attrs["extra_features"] == ["x", "y"]
    assert joined["x"].tolist()[0] == 10.0 and np.isnan(joined["x"].iloc[1:]).all()
    assert (
        joined["y"].tolist()[0] == 5.0
        and np.isnan(joined["y"].iloc[1])
        and joined["y"].iloc[2] == 7.0
    )
    with pytest.raises(ValueError, match="clash"):
        with_extra_features(
            frame, extra.loc[extra.feature_name == "x"].assign(feature_name="monetary")
        )


def test_segments_without_behaviour_are_named_after_what_sets_them_apart() -> None:
    name, description, _ = name_segment({"spending_score": 1.2, "income": -1.4, "age": 0.1})
    assert name == "Low income, high spending_score"
    assert "No purchase behaviour was given" in description
    assert name_segment({"spending_score": 0.2, "income": -0.1})[0] == "Average profile"
    # with a behaviour feature the rule table applies as before
    assert name_segment({"recency_days": 1.5, "frequency": 0.0, "income": 2.0})[0] == "Lapsing"


def _generated(folder: Path) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """crm.csv: 3 planted groups of 40 customers, then 5 bad rows. Returns the good rows
    (with their group) and the (row, reason) of the bad ones."""
    rng = np.random.default_rng(7)
    centres = {  # recency, orders, spend, web visits
        1: (5, 30, 3000.0, 2),
        2: (200, 2, 60.0, 12),
        3: (40, 8, 400.0, 6),
    }
    rows = []
    for group, (recency, orders, spend, visits) in centres.items():
        for i in range(40):
            rows.append(
                {
                    "id": f"g{group}-{i:02d}",
                    "days_since": int(recency * rng.uniform(0.8, 1.2)),
                    "orders": int(round(orders * rng.uniform(0.8, 1.2))),
                    "spend": round(spend * rng.uniform(0.8, 1.2), 2),
                    "web_visits": int(round(visits * rng.uniform(0.8, 1.2))),
                    "sex": "F" if i % 2 else "M",
                    "group": group,
                }
            )
    good = pd.DataFrame(rows)
    good.loc[3, "web_visits"] = None  # a missing extra value is kept (imputed), not quarantined
    lines = ["id,days_since,orders,spend,web_visits,sex"]
    for r in good.itertuples():
        visits = "" if pd.isna(r.web_visits) else str(int(r.web_visits))
        lines.append(f"{r.id},{r.days_since},{r.orders},{r.spend},{visits},{r.sex}")
    first = lines[1]
    bad = [
        (first, "duplicate"),  # an exact repeat: the id proves it
        ("g1-01,1,1,1.0,1,F", "duplicate_customer_id"),  # same id, other values
        (",5,5,50.0,5,M", "missing_customer_id"),
        ("x-1,5,lots,50.0,5,M", "unparseable_feature"),  # a contract feature
        ("x-2,5,5,50.0,many,M", "unparseable_feature"),  # an extra column
    ]
    lines += [line for line, _ in bad]
    (folder / "crm.csv").write_text("\n".join(lines) + "\n")
    return good, bad


@pytest.mark.e2e
def test_customer_level_table_end_to_end(tmp_path) -> None:
    good, bad = _generated(tmp_path)
    (tmp_path / "s.yml").write_text(SPEC)
    messages: list[str] = []
    warehouse = tmp_path / "w.duckdb"
    run(
        sources.from_source_file(tmp_path / "s.yml"),
        warehouse=warehouse,
        extra_vars=sources.source_file_vars(tmp_path / "s.yml"),
        log=messages.append,
    )

    # every row is accounted for, with the reason each bad row was built to have
    accounting = query(warehouse, "select * from marts.row_accounting").set_index("table_name")
    row = accounting.loc["customer_features"]
    assert row.rows_read == len(good) + len(bad)
    assert (row.rows_staged, row.rows_quarantined) == (len(good), len(bad))
    assert accounting.is_balanced.all()
    reasons = query(
        warehouse,
        "select quarantine_reason from marts.quarantined_rows "
        "where table_name = 'customer_features' order by source_row_id",
    ).quarantine_reason.tolist()
    assert reasons == [reason for _, reason in bad]

    # the features staged are the input's values, for exactly the good customers
    dim = query(warehouse, "select * from marts.dim_customers order by customer_id")
    expected = good.sort_values("id").reset_index(drop=True)
    assert dim.customer_id.tolist() == expected.id.tolist()
    assert dim.recency_days.tolist() == expected.days_since.tolist()
    assert dim.frequency.tolist() == expected.orders.tolist()
    assert np.allclose(dim.monetary, expected.spend)
    assert dim.gender.tolist() == expected.sex.tolist()
    extra = query(
        warehouse,
        "select customer_id, feature_name, feature_value from marts.customer_extra_features",
    ).pivot(index="customer_id", columns="feature_name", values="feature_value")
    extra = extra.loc[expected.id]
    assert np.allclose(extra.visits, expected.web_visits, equal_nan=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = expected.spend / expected.web_visits.replace(0, np.nan)
    assert np.allclose(extra.spend_per_visit, ratio, equal_nan=True)

    # segments: sizes sum to n, and the planted groups are found (an extra column is
    # one of the segmentation features, so it reached the model)
    profiles = query(
        warehouse,
        "select segment_id, n_customers from marts.segment_profiles where algorithm = 'kmeans'",
    )
    assert profiles.n_customers.sum() == len(good)
    assert adjusted_rand_score(expected.group, dim.kmeans_segment_id) > 0.9
    used = query(
        warehouse,
        "select feature from marts.preprocessing_parameters "
        "where model_name = 'segmentation' and is_used order by 1",
    ).feature.tolist()
    assert used == ["frequency", "monetary", "recency_days", "visits"]
    description = " ".join(
        query(warehouse, "select description from marts.segment_profiles").description
    )
    assert "visits" in description or "spend_per_visit" in description

    # RFM from the given R, F and M; no order lines, so no high-value model and no CLV
    assert dim.rfm_segment.notna().all() and dim.r_score.between(1, 5).all()
    assert dim.high_value_probability.isna().all()
    assert dim.lifetime_value.isna().all() and dim.probability_alive.isna().all()
    assert dim.first_purchase_at.isna().all()
    assert query(warehouse, "select count(*) as n from marts.high_value_roc_curve").n[0] == 0
    assert any(CUSTOMER_LEVEL_NOTE in m for m in messages)


EXAMPLES = {
    "marketing_campaign": (SHARED_DATA / "marketing_campaign" / "marketing_campaign.csv", 2240),
    "mall_customers": (SHARED_DATA / "mall_customers" / "Mall_Customers.csv", 200),
}


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_on_shared_data(tmp_path, name) -> None:
    data, customers = EXAMPLES[name]
    if not data.exists():
        pytest.skip(f"{data} is absent (../shared/data beside the checkout holds the datasets)")
    spec = ROOT / "examples" / f"{name}.yml"
    warehouse = run(
        sources.from_source_file(spec),
        warehouse=tmp_path / "w.duckdb",
        extra_vars=sources.source_file_vars(spec),
    )
    dim = query(warehouse, "select * from marts.dim_customers")
    assert len(dim) == customers and dim.customer_id.is_unique
    assert dim.segment_id.notna().all()
    profiles = query(
        warehouse, "select n_customers from marts.segment_profiles where algorithm = 'kmeans'"
    )
    assert profiles.n_customers.sum() == customers
    accounting = query(warehouse, "select * from marts.row_accounting")
    assert accounting.is_balanced.all()
