"""Two `customer-chunks run`s through dbt, the second after planted moves: the history is
carried forward from the published warehouse and the lifecycle marts agree with it.

Exact planted moves, drift and identical-input behaviour are tested on feature frames in
tests/ml/test_ml_lifecycle.py; this is the one end-to-end pair (about 2 minutes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_chunks import sources
from customer_chunks.generate import generate
from customer_chunks.run import run, score

AS_OF = "2026-01-01"  # fixed, so only the planted customers' features change
VARS = {"ml_bootstrap_resamples": 2}
N_MOVERS = 40
# dim_customers' segment beside the stable id and name the lifecycle marts decided
DIM_SEGMENTS = """
    select dim.customer_id, dim.segment_id, dim.segment_name,
        assigned.stable_segment_id, named.segment_name as stable_segment_name
    from marts.dim_customers as dim
    left join marts.segment_assignments as assigned using (customer_id)
    left join marts.segment_matches as named
        on assigned.stable_segment_id = named.stable_segment_id
        and named.match_status != 'retired'
    order by dim.customer_id
"""


def _frame(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def _plant_big_spenders(data: Path, customers: list[str]) -> None:
    """Eight orders of 1,000 each in December for every customer in ``customers``."""
    path = data / "transactions.parquet"
    con = duckdb.connect()
    try:
        movers = pd.DataFrame({"customer_id": customers})
        con.register("movers", movers)
        con.execute(
            f"""copy (
                select * from read_parquet('{path}')
                union all
                select
                    'planted-' || customer_id || '-' || n as order_id,
                    customer_id,
                    timestamp '2025-12-01 10:00:00' + n * interval 2 day as ordered_at,
                    'p-planted' as product_id,
                    'planted' as category,
                    5 as quantity,
                    200.0 as unit_price
                from movers, range(8) as t(n)
            ) to '{path}.new' (format parquet)"""
        )
    finally:
        con.close()
    shutil.move(f"{path}.new", path)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    data = tmp_path_factory.mktemp("lifecycle_data")
    generate(n_customers=1500, seed=1, out_dir=data)
    warehouse = tmp_path_factory.mktemp("lifecycle_wh") / "w.duckdb"
    run(sources.from_data_dir(data), warehouse=warehouse, as_of=AS_OF, extra_vars=VARS)
    first = _frame(warehouse, "select * from marts.segment_assignments")
    centroids_1 = _frame(warehouse, "select * from marts.segment_centroids")
    history_1 = _frame(warehouse, "select * from marts.customer_segment_history")
    # movers: the lowest-spending customers of the largest low-spend segment
    low = _frame(
        warehouse,
        "select customer_id, monetary from marts.dim_customers "
        "where segment_id = (select max(segment_id) from marts.dim_customers) "
        "order by monetary, customer_id",
    )
    movers = list(low["customer_id"].head(N_MOVERS))
    _plant_big_spenders(data, movers)
    dim_1 = _frame(warehouse, DIM_SEGMENTS)
    run(sources.from_data_dir(data), warehouse=warehouse, as_of=AS_OF, extra_vars=VARS)
    return warehouse, first, history_1, movers, centroids_1, data, dim_1


def test_run_history_has_one_row_per_published_run(two_runs):
    warehouse, *_ = two_runs
    runs = _frame(warehouse, "select * from marts.run_history order by run_id")
    assert list(runs["run_id"]) == [1, 2]
    assert runs["finished_at"].notna().all() and runs["started_at"].notna().all()
    assert (runs["finished_at"] > runs["started_at"]).all()
    assert (runs["as_of"].astype(str) == AS_OF).all()
    assert runs["inputs"].str.contains("sha256|transactions", regex=True).all()
    # the planted orders changed the transactions file, so its hash differs
    assert runs["inputs"].iloc[0] != runs["inputs"].iloc[1]
    assert runs["library_versions"].str.contains('"dbt-core"').all()
    assert runs["run_vars"].str.contains('"segment_match_max_distance"').all()
    assert runs["stage_seconds"].str.contains('"dbt_build"').all()
    # refit=auto: no feature drifted majorly, so the second run kept the first run's k
    assert runs["chosen_k"].iloc[1] == runs["chosen_k"].iloc[0]


def test_planted_movers_moved_and_history_is_contiguous(two_runs):
    warehouse, first, history_1, movers, *_ = two_runs
    assert history_1["valid_to_run_id"].isna().all()  # a first run opens every row
    second = _frame(warehouse, "select * from marts.segment_assignments")
    both = first.merge(second, on="customer_id", suffixes=("_1", "_2"))
    moved = set(both.loc[both["stable_segment_id_1"] != both["stable_segment_id_2"], "customer_id"])
    assert set(movers) <= moved
    print(f"moved: {len(moved)} customers, {len(movers)} planted")  # shown with pytest -s
    history = _frame(warehouse, "select * from marts.customer_segment_history")
    # carried forward: every first-run row is still there (closed or open)
    assert len(history) == len(history_1) + len(moved)
    closed = history.loc[history["valid_to_run_id"].notna()]
    assert set(closed["customer_id"]) == moved
    assert (closed["valid_to_run_id"] == 2).all()
    opened = history.loc[history["valid_from_run_id"] == 2]
    assert set(opened["customer_id"]) == moved  # contiguous: closed at 2, reopened at 2
    current = history.loc[history["valid_to_run_id"].isna()].set_index("customer_id")
    assert current.index.is_unique  # no overlaps
    pd.testing.assert_series_equal(
        current["segment_id"].sort_index(),
        second.set_index("customer_id")["stable_segment_id"].sort_index(),
        check_names=False,
        check_dtype=False,
    )


def test_dim_customers_shows_the_stable_segment_in_both_runs(two_runs):
    """dim_customers.segment_id/segment_name are the stable id and name (issue 16), so a
    customer who did not move keeps them from one run to the next, even though the
    second run's fit numbers its segments on its own."""
    warehouse, *_, movers, _, _, dim_1 = two_runs
    dim_2 = _frame(warehouse, DIM_SEGMENTS)
    for dim in (dim_1, dim_2):
        assert dim["segment_id"].notna().all() and dim["segment_name"].notna().all()
        assert (dim["segment_id"] == dim["stable_segment_id"]).all()
        assert (dim["segment_name"] == dim["stable_segment_name"]).all()
    both = dim_1.merge(dim_2, on="customer_id", suffixes=("_1", "_2"))
    assert len(both) == len(dim_1) == len(dim_2)
    stayed = both.loc[both["stable_segment_id_1"] == both["stable_segment_id_2"]]
    assert len(stayed) >= len(both) - 2 * len(movers)  # nearly everyone stayed
    assert (stayed["segment_id_1"] == stayed["segment_id_2"]).all()
    assert (stayed["segment_name_1"] == stayed["segment_name_2"]).all()


def test_transitions_equal_the_crosstab_of_the_two_runs(two_runs):
    warehouse, first, *_ = two_runs
    second = _frame(warehouse, "select * from marts.segment_assignments")
    both = first.merge(second, on="customer_id", suffixes=("_1", "_2"))
    expected = (
        both.groupby(["stable_segment_id_1", "stable_segment_id_2"]).size().rename("customers")
    )
    transitions = _frame(
        warehouse,
        "select * from marts.segment_transitions where from_run_id = 1 and to_run_id = 2",
    ).set_index(["from_segment_id", "to_segment_id"])["customers"]
    pd.testing.assert_series_equal(
        transitions.sort_index(), expected.sort_index(), check_names=False, check_dtype=False
    )


def test_second_run_scored_against_the_first_fit(two_runs):
    """refit=auto and no feature drifted majorly: the second run keeps every id and
    centre of the first fit and assigns customers to the nearest of them."""
    warehouse, *_, centroids_1, _, _ = two_runs
    matches = _frame(warehouse, "select * from marts.segment_matches")
    assert set(matches["match_status"]) == {"kept"}
    centroids_2 = _frame(warehouse, "select * from marts.segment_centroids")
    key = ["stable_segment_id", "feature"]
    pd.testing.assert_series_equal(
        centroids_2.sort_values(key)["center_raw"].reset_index(drop=True),
        centroids_1.sort_values(key)["center_raw"].reset_index(drop=True),
        rtol=1e-9,
    )
    mismatched = _frame(
        warehouse,
        "select count(*) as n from marts.segment_scores s join marts.segment_assignments a "
        "using (customer_id) where s.stable_segment_id != a.nearest_stable_segment_id",
    )
    assert mismatched["n"].iloc[0] == 0
    drift = _frame(warehouse, "select * from marts.drift")
    assert set(drift["kind"]) == {"feature", "segments"}
    features = drift.loc[drift["kind"] == "feature"]
    assert (features["status"] == "stable").all(), features  # 40 of ~1,400 customers moved


def test_score_assigns_like_the_run_without_changing_the_warehouse(two_runs, tmp_path):
    warehouse, *_, data, _ = two_runs
    before = warehouse.stat().st_mtime_ns, warehouse.stat().st_size
    out = score(
        sources.from_data_dir(data),
        warehouse,
        tmp_path / "scores.parquet",
        as_of=AS_OF,
        changed_only=False,
    )
    assert (warehouse.stat().st_mtime_ns, warehouse.stat().st_size) == before
    scores = pd.read_parquet(out)
    assigned = _frame(warehouse, "select * from marts.segment_assignments")
    both = assigned.merge(scores, on="customer_id", suffixes=("_run", "_score"))
    assert len(both) == len(assigned) == len(scores)
    assert (both["stable_segment_id_run"] == both["stable_segment_id_score"]).all()
    assert scores["segment_name"].notna().all()


def test_history_reads_as_empty_tables_without_a_carried_forward_history(tmp_path):
    """A bare dbt build (no `customer-chunks run`, so no history schema) sees empty
    history tables with the marts' columns instead of failing."""
    from customer_chunks.load import load_all
    from customer_chunks.run import dbt_build

    data = tmp_path / "data"
    generate(n_customers=200, seed=2, out_dir=data)
    db = tmp_path / "bare.duckdb"
    load_all(db, sources.from_data_dir(data))
    models = ["stg_history__run_history", "stg_history__customer_segment_history"]
    dbt_build(db, {}, select=" ".join(models))
    for model, first_column in zip(models, ["run_id", "customer_id"], strict=True):
        frame = _frame(db, f"select * from staging.{model}")
        assert frame.empty and frame.columns[0] == first_column
