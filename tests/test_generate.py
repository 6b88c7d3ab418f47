"""Tests for the synthetic data generator (small seeded runs, a few seconds in all)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from customer_chunks.generate import (
    DIRTY_KINDS,
    PERSONAS,
    TABLES,
    GenerateResult,
    generate,
    planted_personas,
)

N_CUSTOMERS = 3_000
SEED = 11
BLOCK_SIZE = 1_300  # three blocks, the last one partial

EXPECTED_COLUMNS = {
    "transactions": {
        "order_id": pa.string(),
        "customer_id": pa.string(),
        "ordered_at": pa.timestamp("us"),
        "product_id": pa.string(),
        "category": pa.string(),
        "quantity": pa.int64(),
        "unit_price": pa.float64(),
    },
    "customers": {
        "customer_id": pa.string(),
        "signed_up_at": pa.timestamp("us"),
        "birth_year": pa.int64(),
        "gender": pa.string(),
        "country": pa.string(),
    },
    "web_events": {
        "customer_id": pa.string(),
        "session_id": pa.string(),
        "occurred_at": pa.timestamp("us"),
        "event_type": pa.string(),
    },
    "engagement_events": {
        "customer_id": pa.string(),
        "campaign_id": pa.string(),
        "channel": pa.string(),
        "event_type": pa.string(),
        "occurred_at": pa.timestamp("us"),
    },
}

# Transaction lines that carry none of the planted defects.
CLEAN_LINES = """
    select distinct * from transactions
    where customer_id is not null and unit_price > 0 and ordered_at < '2026-01-01'
"""


def _run(out_dir: Path, file_format: str = "parquet", seed: int = SEED) -> GenerateResult:
    return generate(N_CUSTOMERS, seed, out_dir, file_format, block_size=BLOCK_SIZE)


@pytest.fixture(scope="module")
def parquet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateResult]:
    out_dir = tmp_path_factory.mktemp("parquet")
    return out_dir, _run(out_dir)


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateResult]:
    out_dir = tmp_path_factory.mktemp("csv")
    return out_dir, _run(out_dir, "csv")


@pytest.fixture(scope="module")
def con(parquet_run: tuple[Path, GenerateResult]) -> duckdb.DuckDBPyConnection:
    """DuckDB with one view per parquet table."""
    out_dir, _ = parquet_run
    con = duckdb.connect()
    for name in TABLES:
        con.execute(f"create view {name} as select * from '{out_dir / name}.parquet'")
    con.execute(f"create view clean_lines as {CLEAN_LINES}")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    row = con.sql(sql).fetchone()
    assert row is not None
    return row


def _file_bytes(out_dir: Path, file_format: str) -> dict[str, bytes]:
    return {name: (out_dir / f"{name}.{file_format}").read_bytes() for name in TABLES}


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_same_seed_gives_identical_files(tmp_path: Path, file_format: str) -> None:
    first = _run(tmp_path / "a", file_format)
    second = _run(tmp_path / "b", file_format)
    assert first == second
    assert _file_bytes(tmp_path / "a", file_format) == _file_bytes(tmp_path / "b", file_format)


def test_different_seed_gives_different_files(
    tmp_path: Path, parquet_run: tuple[Path, GenerateResult]
) -> None:
    _run(tmp_path, seed=SEED + 1)
    theirs = _file_bytes(parquet_run[0], "parquet")
    ours = _file_bytes(tmp_path, "parquet")
    assert all(ours[name] != theirs[name] for name in TABLES)


def test_writes_exactly_the_four_files(parquet_run: tuple[Path, GenerateResult]) -> None:
    out_dir, _ = parquet_run
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)


@pytest.mark.parametrize("name", TABLES)
def test_parquet_columns_and_types(parquet_run: tuple[Path, GenerateResult], name: str) -> None:
    schema = pq.read_schema(parquet_run[0] / f"{name}.parquet")
    assert dict(zip(schema.names, schema.types, strict=True)) == EXPECTED_COLUMNS[name]


@pytest.mark.parametrize("name", TABLES)
def test_row_counts_match_result_and_are_non_empty(
    parquet_run: tuple[Path, GenerateResult], name: str
) -> None:
    out_dir, result = parquet_run
    rows = pq.ParquetFile(out_dir / f"{name}.parquet").metadata.num_rows
    assert rows == result[name] > 0


def test_customer_ids_are_all_present(con: duckdb.DuckDBPyConnection) -> None:
    distinct, low, high = _one(
        con, "select count(distinct customer_id), min(customer_id), max(customer_id) from customers"
    )
    assert (distinct, low, high) == (N_CUSTOMERS, "C0000001", f"C{N_CUSTOMERS:07d}")
    for table in ("transactions", "web_events", "engagement_events"):
        (unknown,) = _one(
            con,
            f"select count(*) from {table} where customer_id is not null"
            " and customer_id not in (select customer_id from customers)",
        )
        assert unknown == 0, table


def test_ids_are_unique_across_blocks(con: duckdb.DuckDBPyConnection) -> None:
    (orders_with_two_customers,) = _one(
        con,
        "select count(*) from (select order_id from transactions"
        " group by 1 having count(distinct customer_id) > 1)",
    )
    (sessions_with_two_customers,) = _one(
        con,
        "select count(*) from (select session_id from web_events"
        " group by 1 having count(distinct customer_id) > 1)",
    )
    assert orders_with_two_customers == sessions_with_two_customers == 0


def test_accepted_values(con: duckdb.DuckDBPyConnection) -> None:
    def values(sql: str) -> set:
        return {row[0] for row in con.sql(sql).fetchall()}

    assert 8 <= len(values("select distinct category from transactions")) <= 12
    assert values("select distinct gender from customers") == {"F", "M", "U", None}
    web_types = values("select distinct event_type from web_events")
    assert {"page_view", "product_view", "search", "add_to_cart", "checkout"} <= web_types
    assert values("select distinct channel from engagement_events") == {"email", "sms", "push"}
    assert values("select distinct event_type from engagement_events") == {
        "sent",
        "open",
        "click",
        "unsubscribe",
    }


def test_clean_timestamps_lie_in_the_history(con: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "clean_lines": "ordered_at",
        "customers": "signed_up_at",
        "web_events": "occurred_at",
        "engagement_events": "occurred_at",
    }
    for table, column in checks.items():
        low, high = _one(con, f"select min({column}), max({column}) from {table}")
        assert str(low) >= "2023-01-01" and str(high) < "2026-01-01", table


def test_unit_prices_have_two_decimals(con: duckdb.DuckDBPyConnection) -> None:
    (off,) = _one(
        con,
        "select count(*) from transactions"
        " where abs(unit_price * 100 - round(unit_price * 100)) > 1e-6",
    )
    assert off == 0


# --------------------------------------------------------------------------- dirty rows


def test_dirty_counts_are_present_in_parquet(
    con: duckdb.DuckDBPyConnection, parquet_run: tuple[Path, GenerateResult]
) -> None:
    dirty = parquet_run[1]["dirty"]
    assert set(dirty) == set(DIRTY_KINDS)
    found = {
        "missing_customer_id": "select count(*) from transactions where customer_id is null",
        "negative_unit_price": "select count(*) from transactions where unit_price < 0",
        "duplicate_lines": "select (select count(*) from transactions)"
        " - (select count(*) from (select distinct * from transactions))",
        "future_ordered_at": "select count(*) from transactions where ordered_at >= '2099-01-01'",
        "duplicate_customers": "select (select count(*) from customers)"
        " - (select count(*) from (select distinct * from customers))",
    }
    for kind, sql in found.items():
        assert _one(con, sql)[0] == dirty[kind] > 0, kind
    assert dirty["unparseable_ordered_at"] == 0  # typed timestamps cannot hold one


def test_dirty_counts_are_present_in_csv(csv_run: tuple[Path, GenerateResult]) -> None:
    out_dir, result = csv_run
    dirty = result["dirty"]
    lines = f"read_csv('{out_dir / 'transactions.csv'}', all_varchar = true)"
    con = duckdb.connect()
    found = {
        "unparseable_ordered_at": f"select count(*) from {lines}"
        " where ordered_at is not null and try_cast(ordered_at as timestamp) is null",
        "missing_customer_id": f"select count(*) from {lines} where customer_id is null",
        "negative_unit_price": f"select count(*) from {lines} where unit_price like '-%'",
        "future_ordered_at": f"select count(*) from {lines} where ordered_at like '2099-%'",
        "duplicate_lines": f"select (select count(*) from {lines})"
        f" - (select count(*) from (select distinct * from {lines}))",
    }
    for kind, sql in found.items():
        assert _one(con, sql)[0] == dirty[kind] > 0, kind


def test_csv_is_readable_and_matches_parquet(
    csv_run: tuple[Path, GenerateResult], parquet_run: tuple[Path, GenerateResult]
) -> None:
    csv_dir, csv_result = csv_run
    pq_dir, pq_result = parquet_run
    con = duckdb.connect()
    for name in TABLES:
        table = f"read_csv('{csv_dir / name}.csv', all_varchar = true)"
        columns = [row[0] for row in con.sql(f"describe select * from {table}").fetchall()]
        assert columns == list(EXPECTED_COLUMNS[name])
        (rows,) = _one(con, f"select count(*) from {table}")
        assert rows == csv_result[name] == pq_result[name]
    # Same rows in both formats: compare a fingerprint of the non-timestamp columns.
    fingerprint = (
        "select sum(hash(order_id, customer_id, product_id, quantity, unit_price::double)) from {}"
    )
    csv_sum = _one(con, fingerprint.format(f"read_csv('{csv_dir}/transactions.csv')"))
    pq_sum = _one(con, fingerprint.format(f"'{pq_dir}/transactions.parquet'"))
    assert csv_sum == pq_sum


# --------------------------------------------------------------------------- realism


def test_about_forty_five_lines_per_customer(parquet_run: tuple[Path, GenerateResult]) -> None:
    assert 35 <= parquet_run[1]["transactions"] / N_CUSTOMERS <= 55


def test_spend_is_heavy_tailed(con: duckdb.DuckDBPyConnection) -> None:
    (top_decile_share,) = _one(
        con,
        """
        with spend as (
            select customer_id, sum(quantity * unit_price) as spend
            from clean_lines group by 1
        ),
        ranked as (select spend, ntile(10) over (order by spend desc) as decile from spend)
        select sum(spend) filter (where decile = 1) / sum(spend) from ranked
        """,
    )
    assert top_decile_share > 0.4


def test_order_values_are_skewed(con: duckdb.DuckDBPyConnection) -> None:
    median, mean, p99 = _one(
        con,
        """
        with orders as (
            select order_id, sum(quantity * unit_price) as order_value
            from clean_lines where quantity > 0 group by 1
        )
        select median(order_value), avg(order_value), quantile_cont(order_value, 0.99)
        from orders
        """,
    )
    assert mean > 1.2 * median and p99 > 5 * median


def test_returns_follow_purchases(con: duckdb.DuckDBPyConnection) -> None:
    returns, share = _one(
        con,
        "select count(*) filter (where quantity < 0), avg((quantity < 0)::int) from clean_lines",
    )
    assert 0.01 <= share <= 0.10
    matched, same_order = _one(
        con,
        """
        select
            count(distinct r.order_id || r.product_id || r.ordered_at::varchar),
            count(distinct r.order_id || r.product_id) filter (where r.order_id = p.order_id)
        from clean_lines as r
        inner join clean_lines as p
            on r.customer_id = p.customer_id
            and r.product_id = p.product_id
            and p.quantity >= -r.quantity
            and p.ordered_at < r.ordered_at
            and r.ordered_at <= p.ordered_at + interval 60 days
            and r.unit_price = p.unit_price
        where r.quantity < 0 and p.quantity > 0
        """,
    )
    assert matched >= 0.99 * returns  # every return has its purchase, unless that was dirtied
    assert 0.2 * returns < same_order < 0.8 * returns  # in the same order or a new one


def test_personas_show_up_in_recency_and_frequency(con: duckdb.DuckDBPyConnection) -> None:
    never, once, lapsed, recent, frequent = _one(
        con,
        """
        with per_customer as (
            select
                c.customer_id,
                count(distinct t.order_id) as orders,
                max(t.ordered_at) as last_ordered_at
            from customers as c
            left join clean_lines as t on c.customer_id = t.customer_id
            group by 1
        )
        select
            avg((orders = 0)::int),
            avg((orders = 1)::int),
            avg((last_ordered_at < '2025-01-01')::int),
            avg((last_ordered_at >= '2025-12-01')::int),
            avg((orders >= 30)::int)
        from per_customer
        """,
    )
    assert 0.02 < never < 0.15  # browsers
    assert 0.10 < once < 0.35  # one-time buyers
    assert lapsed > 0.10  # churned
    assert recent > 0.15  # loyal and new
    assert frequent > 0.05  # loyal


def test_cart_and_checkout_events_follow_purchases(con: duckdb.DuckDBPyConnection) -> None:
    (correlation,) = _one(
        con,
        """
        with orders as (
            select customer_id, count(distinct order_id) as orders
            from clean_lines where quantity > 0 group by 1
        ),
        carts as (
            select customer_id, count(*) filter (where event_type = 'checkout') as checkouts
            from web_events group by 1
        )
        select corr(coalesce(o.orders, 0), coalesce(c.checkouts, 0))
        from customers as cu
        left join orders as o using (customer_id)
        left join carts as c using (customer_id)
        """,
    )
    assert correlation > 0.6


def test_campaign_funnel_and_engaged_customers_open_more(
    con: duckdb.DuckDBPyConnection,
) -> None:
    sent, opened, clicked = _one(
        con,
        """
        select count(*) filter (where event_type = 'sent'),
               count(*) filter (where event_type = 'open'),
               count(*) filter (where event_type = 'click')
        from engagement_events where channel = 'email'
        """,
    )
    assert sent > 3 * opened > 0 and opened > 3 * clicked > 0
    # Open rates follow the persona (window shoppers open most without buying much, so
    # recent buyers are not simply the best openers) and drop once a customer stops buying.
    personas = planted_personas(N_CUSTOMERS, SEED, block_size=BLOCK_SIZE)
    con.register(
        "planted",
        pa.table({"customer_id": list(personas), "persona": list(personas.values())}),
    )
    rows = con.sql(
        """
        select
            p.persona,
            count(*) filter (where e.event_type = 'open')
            / count(*) filter (where e.event_type = 'sent') as open_rate
        from engagement_events as e
        inner join planted as p using (customer_id)
        where e.channel = 'email' and e.occurred_at >= '2025-01-01'
        group by 1
        """
    ).fetchall()
    observed = dict(rows)
    planted = {p.name: p.open_rate for p in PERSONAS if p.name in observed}
    names = sorted(planted, key=planted.get)
    assert len(names) >= 6
    # every persona opens more than any persona planted at half its rate or less
    for low in names:
        for high in names:
            if planted[high] >= 2 * planted[low]:
                assert observed[high] > observed[low], (high, low, observed)
    # churned customers stopped buying before 2025: a quarter of their planted rate
    assert observed["churned"] < 0.5 * planted["churned"]
    assert observed["loyal"] > 0.5 * planted["loyal"]  # still buying: the full rate


# --------------------------------------------------------------------------- interface


def test_progress_is_reported_per_block(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(250, SEED, tmp_path, progress=messages.append, block_size=100)
    assert len(messages) == 3
    assert messages[-1].startswith("block 3/3: 250/250 customers")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_customers": 0}, "n_customers"),
        ({"seed": -1}, "seed"),
        ({"file_format": "json"}, "file_format"),
        ({"block_size": 0}, "block_size"),
    ],
)
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"n_customers": 10, "seed": 1, "out_dir": tmp_path, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(**arguments)
    assert not any(tmp_path.iterdir())


def test_planted_personas_replay_the_generation(con: duckdb.DuckDBPyConnection) -> None:
    personas = planted_personas(N_CUSTOMERS, SEED, block_size=BLOCK_SIZE)
    assert len(personas) == N_CUSTOMERS
    orders = dict(
        con.sql(
            """
            select c.customer_id, count(distinct t.order_id)
            from customers as c
            left join clean_lines as t on c.customer_id = t.customer_id and t.quantity > 0
            group by 1
            """
        ).fetchall()
    )
    assert set(orders) == set(personas)
    # the personas' order caps hold for every customer, which a wrong replay would break
    cap = {p.name: p.max_orders for p in PERSONAS}
    for customer, persona in personas.items():
        if cap[persona] is not None:
            assert orders[customer] <= cap[persona], (customer, persona)
    never = [c for c, p in personas.items() if cap[p] == 0]
    assert never and all(orders[c] == 0 for c in never)
    shares = {p.name: p.share for p in PERSONAS}
    for name, share in shares.items():
        observed = sum(p == name for p in personas.values()) / N_CUSTOMERS
        assert abs(observed - share) < 0.03, (name, observed, share)
