"""Synthetic demo data: customers, order lines, web sessions and campaign events.

`generate` writes four tables that look like the exports of a mid-sized online shop:
order lines with returns, a customer register, clickstream events and marketing
campaign events. Behaviour is planted through latent personas (see `PERSONAS`) so that
segmentation has real structure to find, and a few rows per thousand are deliberately
dirty so that the staging layer has something to quarantine. The personas themselves
are not written out.

Everything is drawn from numpy generators seeded by ``(seed, block, stream)``, and all
dates are relative to a fixed end of data (`DATA_END`, exclusive: the last timestamp is
2025-12-31 23:59:59), so the same arguments always give byte-identical files.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

__all__ = [
    "BLOCK_SIZE",
    "CATEGORIES",
    "DATA_END",
    "DATA_START",
    "DIRTY_KINDS",
    "FILE_FORMATS",
    "PERSONAS",
    "TABLES",
    "Category",
    "GenerateResult",
    "Persona",
    "generate",
]

TABLES = ("transactions", "customers", "web_events", "engagement_events")
FILE_FORMATS = ("parquet", "csv")
BLOCK_SIZE = 100_000

#: First and (exclusive) last instant of the history; timestamps are naive UTC.
DATA_START = np.datetime64("2023-01-01T00:00:00", "s")
DATA_END = np.datetime64("2026-01-01T00:00:00", "s")

_START = int(DATA_START.astype(np.int64))
_END = int(DATA_END.astype(np.int64))
_SPAN = _END - _START
_DAY = 86_400
_MONTH = 30.44 * _DAY
_YEAR_2099 = int(np.datetime64("2099-01-01T00:00:00", "s").astype(np.int64))

#: Kinds of deliberately dirty rows, as keys of ``result["dirty"]``.
DIRTY_KINDS = (
    "missing_customer_id",  # transactions.customer_id is null
    "negative_unit_price",  # transactions.unit_price < 0
    "duplicate_lines",  # extra verbatim copies of a transactions line
    "future_ordered_at",  # transactions.ordered_at in 2099
    "unparseable_ordered_at",  # transactions.ordered_at is not a timestamp (csv only)
    "duplicate_customers",  # extra verbatim copies of a customers row
)
_DIRTY_RATES = {
    "missing_customer_id": 0.0015,
    "negative_unit_price": 0.0008,
    "duplicate_lines": 0.0010,
    "future_ordered_at": 0.0005,
    "unparseable_ordered_at": 0.0005,
}
_DUPLICATE_CUSTOMER_RATE = 0.002
_BAD_TIMESTAMPS = ("not a date", "2024-13-45 10:00:00", "2025-02-30 12:00:00", "yesterday")


@dataclass(frozen=True)
class Persona:
    """Latent behaviour of a group of customers (never written to the output).

    Day ranges count back from `DATA_END`. ``stop_days_ago`` is when the customer stops
    buying (``None``: still buying at the end of the data). ``max_orders`` caps the
    number of orders (``None``: no cap). Rates are per 30.44-day month of activity.
    """

    name: str
    share: float
    signup_days_ago: tuple[float, float]
    stop_days_ago: tuple[float, float] | None
    max_orders: int | None
    orders_per_month: float
    extra_lines_per_order: float
    price_tilt: float  # > 0 prefers expensive categories
    quantity_boost: float
    return_factor: float
    browse_sessions_per_month: float
    email_opt_in: float
    open_rate: float
    click_rate: float  # given an open (email, push) or a send (sms)
    unsubscribe_rate: float  # per message received
    birth_year_mean: float


PERSONAS = (
    Persona("loyal", 0.14, (365, 1095), None, None, 2.1, 2.2, 0.0, 1.0, 1.0, 0.3, 0.85, 0.45, 0.25, 0.001, 1979),
    Persona("regular", 0.22, (60, 1095), None, None, 0.65, 1.8, 0.0, 1.0, 1.0, 0.2, 0.75, 0.22, 0.15, 0.003, 1984),
    Persona("big_spender", 0.03, (180, 1095), None, None, 1.1, 3.0, 0.9, 1.8, 1.3, 0.4, 0.8, 0.35, 0.25, 0.002, 1974),
    Persona("new", 0.10, (0, 100), None, None, 1.2, 1.8, 0.0, 1.0, 1.0, 0.6, 0.8, 0.35, 0.2, 0.004, 1990),
    Persona("lapsing", 0.15, (300, 1095), (90, 270), None, 1.0, 1.8, 0.0, 1.0, 1.0, 0.2, 0.75, 0.15, 0.1, 0.006, 1985),
    Persona("churned", 0.16, (420, 1095), (365, 1000), None, 0.8, 1.5, 0.0, 1.0, 1.2, 0.15, 0.7, 0.05, 0.08, 0.02, 1986),
    Persona("one_time", 0.15, (0, 1095), None, 1, 0.0, 1.5, 0.0, 1.0, 1.0, 0.06, 0.6, 0.08, 0.08, 0.01, 1988),
    Persona("browser", 0.05, (0, 1095), None, 0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.5, 0.6, 0.1, 0.1, 0.008, 1992),
)  # fmt: skip


@dataclass(frozen=True)
class Category:
    """A product category: popularity weight, median list price, catalogue size."""

    name: str
    weight: float
    median_price: float
    n_products: int
    return_rate: float  # share of lines returned
    extra_quantity: float  # mean of quantity - 1 (Poisson)


CATEGORIES = (
    Category("Electronics", 0.10, 120.0, 300, 0.05, 0.05),
    Category("Home & Kitchen", 0.14, 35.0, 400, 0.03, 0.3),
    Category("Fashion", 0.16, 40.0, 500, 0.11, 0.2),
    Category("Beauty", 0.11, 18.0, 250, 0.02, 0.5),
    Category("Sports & Outdoors", 0.08, 50.0, 250, 0.04, 0.2),
    Category("Toys & Games", 0.07, 25.0, 200, 0.03, 0.3),
    Category("Books", 0.09, 14.0, 400, 0.01, 0.2),
    Category("Grocery", 0.13, 6.0, 300, 0.005, 1.2),
    Category("Jewellery", 0.03, 160.0, 120, 0.06, 0.02),
    Category("Garden", 0.05, 30.0, 150, 0.03, 0.4),
)

_GENDERS = ("F", "M", "U")
_GENDER_P = (0.51, 0.44, 0.025)  # the remaining 2.5 % are null
_COUNTRIES = ("GB", "DE", "FR", "US", "NL", "ES", "IT", "IE", "BE", "SE", "PL", "PT", "DK")
_COUNTRY_P = (0.30, 0.14, 0.11, 0.08, 0.07, 0.06, 0.06, 0.04, 0.04, 0.03, 0.03, 0.02, 0.02)
_HOUR_WEIGHTS = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.0, 3.2, 3.4,
    3.8, 3.6, 3.3, 3.2, 3.4, 3.8, 4.5, 5.2, 5.5, 5.0, 3.8, 2.2,
)  # fmt: skip

_WEB_EVENT_TYPES = ("page_view", "search", "product_view", "wishlist", "add_to_cart", "checkout")
_CHANNELS = ("email", "sms", "push")
_CAMPAIGN_EVERY_DAYS = {"email": 7.0, "sms": 28.0, "push": 14.0}
_CAMPAIGN_REACH = {"email": 0.25, "sms": 0.6, "push": 0.5}  # share of opted-in audience
_ENGAGEMENT_EVENT_TYPES = ("sent", "open", "click", "unsubscribe")

# Random streams: one independent generator per (block, stream).
_STREAM_CATALOGUE, _STREAM_CUSTOMERS, _STREAM_ORDERS, _STREAM_WEB, _STREAM_ENGAGEMENT = range(5)
_STREAM_DIRT = 5

_ORDER_ID_WIDTH = 9
_SESSION_ID_WIDTH = 10


class GenerateResult(TypedDict):
    """Rows written per table (dirty rows included) and dirty rows planted per kind."""

    transactions: int
    customers: int
    web_events: int
    engagement_events: int
    dirty: dict[str, int]


def generate(
    n_customers: int,
    seed: int,
    out_dir: Path,
    file_format: str = "parquet",
    progress: Callable[[str], None] | None = None,
    *,
    block_size: int = BLOCK_SIZE,
) -> GenerateResult:
    """Write synthetic customers, transactions, web and engagement events to ``out_dir``.

    Parameters
    ----------
    n_customers : int
        Number of distinct customers (ids ``C0000001`` ...).
    seed : int
        Non-negative seed. The same ``(n_customers, seed, file_format, block_size)``
        always gives byte-identical files; parquet and csv hold the same rows, except
        that csv also has a few unparseable timestamps.
    out_dir : Path
        Directory to write to (created if missing). Writes ``transactions``,
        ``customers``, ``web_events`` and ``engagement_events`` with the extension
        ``.parquet`` or ``.csv``; existing files of those names are replaced. Files are
        written under a temporary name and renamed once complete.
    file_format : {"parquet", "csv"}
        Parquet has typed timestamps (microseconds, naive UTC); csv has a header, quoted
        strings, empty fields for null and ``YYYY-MM-DD HH:MM:SS`` timestamps.
    progress : callable, optional
        Called with one line of text after each block of customers.
    block_size : int
        Customers generated and written per block (and per parquet row group batch).

    Returns
    -------
    GenerateResult
        ``{"transactions": rows, "customers": rows, "web_events": rows,
        "engagement_events": rows, "dirty": {kind: rows}}``, counting rows written,
        dirty ones included. The kinds are `DIRTY_KINDS`; each dirty row has exactly one
        defect, so the counts can be checked against the files.

    Notes
    -----
    Per customer there are about 45 transaction lines, 35 web events and 30 engagement
    events on average. Work is fully vectorised and streamed block by block, so time is
    O(n_customers) and memory is O(block_size): about 2.5 minutes and under 1.5 GB for
    one million customers (50M lines) on two cores.
    """
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {FILE_FORMATS}, got {file_format!r}")
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = file_format == "csv"
    catalogue = _Catalogue.build(_rng(seed, 0, _STREAM_CATALOGUE))
    customer_id_width = max(7, len(str(n_customers)))

    rows = dict.fromkeys(TABLES, 0)
    dirty = dict.fromkeys(DIRTY_KINDS, 0)
    next_order, next_session = 1, 1
    n_blocks = math.ceil(n_customers / block_size)
    started = time.perf_counter()
    paths = {t: out_dir / f"{t}.{file_format}" for t in TABLES}
    partial = {t: p.with_name(p.name + ".partial") for t, p in paths.items()}

    with ExitStack() as stack:
        writers: dict[str, _Writer] = {}
        for block in range(n_blocks):
            first = block * block_size
            n = min(block_size, n_customers - first)
            customers = _draw_customers(_rng(seed, block, _STREAM_CUSTOMERS), n)
            orders = _draw_orders(_rng(seed, block, _STREAM_ORDERS), customers, catalogue)
            web = _draw_web_events(_rng(seed, block, _STREAM_WEB), customers, orders)
            engagement = _draw_engagement(
                _rng(seed, block, _STREAM_ENGAGEMENT), customers, catalogue
            )
            dirt_rng = _rng(seed, block, _STREAM_DIRT)
            lines_dirt = _plant_line_dirt(dirt_rng, orders.lines, csv)
            customer_copies = _duplicate_rows(dirt_rng, n, _DUPLICATE_CUSTOMER_RATE)

            customer_ids = _ids("C", np.arange(first + 1, first + n + 1), customer_id_width)
            tables = {
                "transactions": _transactions_table(
                    orders.lines, lines_dirt, customer_ids, catalogue, next_order, csv
                ),
                "customers": _customers_table(customers, customer_ids, customer_copies, csv),
                "web_events": _web_table(web, customer_ids, next_session, csv),
                "engagement_events": _engagement_table(engagement, customer_ids, csv),
            }
            next_order += orders.n_orders
            next_session += web.n_sessions
            for kind, count in lines_dirt.counts.items():
                dirty[kind] += count
            dirty["duplicate_customers"] += int(customer_copies.sum()) - n

            for name, table in tables.items():
                if name not in writers:
                    writers[name] = stack.enter_context(
                        _Writer(partial[name], table.schema, file_format)
                    )
                writers[name].write(table)
                rows[name] += table.num_rows

            if progress is not None:
                done = first + n
                progress(
                    f"block {block + 1}/{n_blocks}: {done:,}/{n_customers:,} customers, "
                    f"{rows['transactions'] / 1e6:.1f}M transaction lines, "
                    f"{rows['web_events'] / 1e6:.1f}M web events, "
                    f"{rows['engagement_events'] / 1e6:.1f}M engagement events, "
                    f"{time.perf_counter() - started:.0f} s"
                )
    for name in TABLES:
        os.replace(partial[name], paths[name])

    return GenerateResult(
        transactions=rows["transactions"],
        customers=rows["customers"],
        web_events=rows["web_events"],
        engagement_events=rows["engagement_events"],
        dirty=dirty,
    )


# --------------------------------------------------------------------------- helpers


def _rng(seed: int, block: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block, stream)))


def _persona_array(field: str) -> np.ndarray:
    return np.array([getattr(p, field) for p in PERSONAS], dtype=np.float64)


def _cdf(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distribution of non-negative weights, last column exactly 1."""
    cdf = np.cumsum(weights / weights.sum(axis=-1, keepdims=True), axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def _draw_rowwise(rng: np.random.Generator, cdfs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per element of ``rows`` from the distribution ``cdfs[rows]``.

    Vectorised by shifting row r of the table to (r, r + 1] and searching once.
    """
    n_rows, k = cdfs.shape
    flat = (cdfs + np.arange(n_rows)[:, None]).ravel()
    u = rng.random(rows.size) + rows
    return np.searchsorted(flat, u, side="right") - rows * k


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight, busiest in the evening."""
    hour = np.searchsorted(_cdf(np.array(_HOUR_WEIGHTS)), rng.random(n), side="right")
    return hour * 3600 + rng.integers(0, 3600, n)


def _at_time_of_day(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Move each timestamp to a realistic time on the same day."""
    return t - (t - _START) % _DAY + _time_of_day(rng, t.size)


def _group_starts(counts: np.ndarray) -> np.ndarray:
    """Index of the first expanded row of each group (for ``np.repeat(x, counts)``)."""
    return np.cumsum(counts) - counts


def _position_in_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group of ``np.repeat(x, counts)``."""
    return np.arange(counts.sum()) - np.repeat(_group_starts(counts), counts)


def _duplicate_rows(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """Copies of each row to write (1, or 2 for a planted verbatim duplicate)."""
    copies = np.ones(n, dtype=np.int64)
    copies[rng.choice(n, size=rng.binomial(n, rate), replace=False)] = 2
    return copies


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Catalogue:
    """Products (grouped by category, most popular first) and the campaign calendar."""

    category_offset: np.ndarray  # first product index of each category
    category_size: np.ndarray
    product_number: np.ndarray  # the number in product_id, shuffled across categories
    list_price: np.ndarray
    campaign_at: dict[str, np.ndarray]  # per channel, ascending send times
    campaign_number: dict[str, np.ndarray]

    @classmethod
    def build(cls, rng: np.random.Generator) -> _Catalogue:
        size = np.array([c.n_products for c in CATEGORIES])
        median = np.repeat([c.median_price for c in CATEGORIES], size)
        raw = median * rng.lognormal(0.0, 0.5, size.sum())
        # Charm prices (x.99) above 5, otherwise cents.
        list_price = np.where(raw > 5, np.round(raw) - 0.01, np.round(raw, 2))
        list_price = np.maximum(list_price, 0.49)

        send_days = {}
        for channel, every in _CAMPAIGN_EVERY_DAYS.items():
            n = int(_SPAN / _DAY / every)
            day = np.floor(np.arange(n) * every + rng.uniform(0, every, n))
            send_days[channel] = day * _DAY + _START + 9 * 3600 + rng.integers(0, 4, n) * 1800
        # Campaign numbers follow the send time across channels.
        everything = np.concatenate(list(send_days.values()))
        rank = np.empty(everything.size, dtype=np.int64)
        rank[np.argsort(everything, kind="stable")] = np.arange(1, everything.size + 1)
        bounds = np.cumsum([0] + [at.size for at in send_days.values()])
        campaign_number = {ch: rank[bounds[i] : bounds[i + 1]] for i, ch in enumerate(send_days)}
        return cls(
            category_offset=_group_starts(size),
            category_size=size,
            product_number=rng.permutation(size.sum()) + 1,
            list_price=list_price,
            campaign_at={ch: at.astype(np.int64) for ch, at in send_days.items()},
            campaign_number=campaign_number,
        )


# --------------------------------------------------------------------------- customers


@dataclass
class _Customers:
    persona: np.ndarray
    signed_up_at: np.ndarray  # epoch seconds
    first_order_at: np.ndarray
    active_until: np.ndarray  # exclusive end of the buying window
    activity: np.ndarray  # order-rate multiplier, mean 1
    engagement: np.ndarray  # open-rate multiplier, mean 1
    favourite_category: np.ndarray
    birth_year: np.ndarray
    gender: np.ndarray  # index into _GENDERS, -1 for null
    country: np.ndarray


def _draw_customers(rng: np.random.Generator, n: int) -> _Customers:
    persona = rng.choice(len(PERSONAS), size=n, p=_cdf_free(_persona_array("share")))
    lo, hi = np.array([p.signup_days_ago for p in PERSONAS], dtype=np.float64).T
    # U**1.3 puts more sign-ups near the end: the shop is growing.
    days_ago = lo[persona] + (hi - lo)[persona] * rng.random(n) ** 1.3
    signed_up = _END - 1 - (days_ago * _DAY).astype(np.int64)
    signed_up = _at_time_of_day(rng, signed_up)
    signed_up = np.clip(signed_up, _START, _END - 1)

    stop = np.array([p.stop_days_ago or (0.0, 0.0) for p in PERSONAS], dtype=np.float64)
    stop_lo = stop[persona, 0]
    stop_hi = np.minimum(stop[persona, 1], np.maximum(days_ago - 14, stop_lo))
    stop_days = stop_lo + (stop_hi - stop_lo) * rng.random(n)
    active_until = np.maximum(_END - (stop_days * _DAY).astype(np.int64), signed_up + 3600)
    active_until = np.minimum(active_until, _END)

    first_order = signed_up + (rng.exponential(2.0, n) * _DAY).astype(np.int64)
    first_order = np.minimum(first_order, active_until - 1)

    favourite = _draw_rowwise(rng, _category_cdfs(), persona)
    birth_year = np.clip(
        np.round(rng.normal(_persona_array("birth_year_mean")[persona], 12)), 1935, 2007
    )
    gender = np.searchsorted(np.cumsum(_GENDER_P), rng.random(n), side="right")
    gender[gender == len(_GENDERS)] = -1
    country = rng.choice(len(_COUNTRIES), size=n, p=_cdf_free(np.array(_COUNTRY_P)))
    return _Customers(
        persona=persona,
        signed_up_at=signed_up,
        first_order_at=first_order,
        active_until=active_until,
        activity=rng.gamma(2.0, 0.5, n),
        engagement=rng.gamma(4.0, 0.25, n),
        favourite_category=favourite,
        birth_year=birth_year.astype(np.int64),
        gender=gender,
        country=country,
    )


def _cdf_free(weights: np.ndarray) -> np.ndarray:
    """Probabilities from weights (for ``Generator.choice``)."""
    return weights / weights.sum()


def _category_cdfs() -> np.ndarray:
    """Per persona, the category distribution tilted towards pricey ones by price_tilt."""
    weight = np.array([c.weight for c in CATEGORIES])
    price = np.array([c.median_price for c in CATEGORIES])
    tilt = _persona_array("price_tilt")
    return _cdf(weight[None, :] * (price[None, :] / price.mean()) ** tilt[:, None])


# --------------------------------------------------------------------------- orders


@dataclass
class _Lines:
    customer: np.ndarray  # index within the block
    order: np.ndarray  # index within the block
    ordered_at: np.ndarray
    product: np.ndarray  # index into the catalogue
    category: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray


@dataclass
class _Orders:
    n_orders: int  # order numbers used by the block, returns in new orders included
    customer: np.ndarray  # per purchase order
    ordered_at: np.ndarray
    n_lines: np.ndarray
    lines: _Lines


def _draw_orders(rng: np.random.Generator, c: _Customers, cat: _Catalogue) -> _Orders:
    n = c.persona.size
    months = (c.active_until - c.first_order_at) / _MONTH
    rate = _persona_array("orders_per_month")[c.persona] * c.activity
    n_orders = 1 + rng.poisson(rate * months)
    cap = np.array([p.max_orders if p.max_orders is not None else -1 for p in PERSONAS])
    capped = cap[c.persona] >= 0
    n_orders = np.where(capped, np.minimum(n_orders, cap[c.persona]), n_orders)

    # Orders: the first soon after sign-up, the rest uniform over the buying window.
    customer = np.repeat(np.arange(n), n_orders)
    start, end = c.first_order_at[customer], c.active_until[customer]
    at = start + (rng.random(customer.size) * (end - start)).astype(np.int64)
    at = np.clip(_at_time_of_day(rng, at), c.signed_up_at[customer], _END - 1)
    at[_group_starts(n_orders)[n_orders > 0]] = c.first_order_at[n_orders > 0]
    by_time = np.argsort(customer * _SPAN + (at - _START), kind="stable")
    at = at[by_time]  # customer is already sorted, and stays so
    n_purchase_orders = customer.size

    # Lines: a favourite category or a persona-tilted one, popular products more often.
    persona = c.persona[customer]
    n_lines = 1 + rng.poisson(_persona_array("extra_lines_per_order")[persona])
    order = np.repeat(np.arange(n_purchase_orders), n_lines)
    line_customer = customer[order]
    line_persona = persona[order]
    category = _draw_rowwise(rng, _category_cdfs(), line_persona)
    favourite = rng.random(order.size) < 0.4
    category[favourite] = c.favourite_category[line_customer[favourite]]
    rank = (cat.category_size[category] * rng.random(order.size) ** 2.2).astype(np.int64)
    product = cat.category_offset[category] + rank
    # One line per product and order: drop repeats (keeps lines sorted by order).
    n_products = cat.list_price.size
    _, keep = np.unique(order * n_products + product, return_index=True)
    order, line_customer, line_persona = order[keep], line_customer[keep], line_persona[keep]
    category, product = category[keep], product[keep]
    n_lines = np.bincount(order, minlength=n_purchase_orders)

    extra_quantity = np.array([k.extra_quantity for k in CATEGORIES])[category]
    boost = _persona_array("quantity_boost")[line_persona]
    quantity = 1 + rng.poisson(extra_quantity * boost)
    discounted = rng.random(order.size) < 0.2
    factor = np.where(discounted, rng.uniform(0.7, 0.95, order.size), 1.0)
    unit_price = np.maximum(np.round(cat.list_price[product] * factor, 2), 0.01)
    line_at = at[order]

    # Returns: same product, negative quantity, 1-30 days later, same or new order.
    return_rate = np.array([k.return_rate for k in CATEGORIES])[category]
    returned = rng.random(order.size) < return_rate * _persona_array("return_factor")[line_persona]
    r = np.flatnonzero(returned)
    r_at = line_at[r] + ((1 + rng.exponential(6.0, r.size)) * _DAY).astype(np.int64)
    r_at = _at_time_of_day(rng, r_at)
    r_quantity = -rng.integers(1, quantity[r] + 1)
    r_quantity = np.where(rng.random(r.size) < 0.8, -quantity[r], r_quantity)
    new_order = rng.random(r.size) < 0.5
    happened = r_at < _END
    r, r_at, r_quantity, new_order = (
        r[happened],
        r_at[happened],
        r_quantity[happened],
        new_order[happened],
    )
    r_order = order[r].copy()
    r_order[new_order] = n_purchase_orders + np.arange(new_order.sum())

    lines = _Lines(
        customer=np.concatenate([line_customer, line_customer[r]]),
        order=np.concatenate([order, r_order]),
        ordered_at=np.concatenate([line_at, r_at]),
        product=np.concatenate([product, product[r]]),
        category=np.concatenate([category, category[r]]),
        quantity=np.concatenate([quantity, r_quantity]),
        unit_price=np.concatenate([unit_price, unit_price[r]]),
    )
    by_time = np.argsort(lines.customer * _SPAN + (lines.ordered_at - _START), kind="stable")
    lines = _Lines(**{k: v[by_time] for k, v in vars(lines).items()})
    return _Orders(
        n_orders=n_purchase_orders + int(new_order.sum()),
        customer=customer,
        ordered_at=at,
        n_lines=n_lines,
        lines=lines,
    )


@dataclass
class _LineDirt:
    copies: np.ndarray  # per line, 1 or 2
    missing_customer: np.ndarray  # boolean masks
    unparseable: np.ndarray
    unparseable_text: np.ndarray  # index into _BAD_TIMESTAMPS
    counts: dict[str, int]


def _plant_line_dirt(rng: np.random.Generator, lines: _Lines, csv: bool) -> _LineDirt:
    """Corrupt disjoint random sets of lines in place; one defect per dirty line.

    Unparseable timestamps are always drawn (so parquet and csv hold the same rows)
    but only applied to csv, where ``ordered_at`` is text.
    """
    n = lines.customer.size
    counts = {kind: int(rng.binomial(n, rate)) for kind, rate in _DIRTY_RATES.items()}
    chosen = rng.choice(n, size=min(sum(counts.values()), n), replace=False)
    picked, at = {}, 0
    for kind, count in counts.items():
        picked[kind] = chosen[at : at + count]
        counts[kind] = picked[kind].size  # fewer only when the block has very few lines
        at += count

    missing = np.zeros(n, dtype=bool)
    missing[picked["missing_customer_id"]] = True
    lines.unit_price[picked["negative_unit_price"]] *= -1
    future = picked["future_ordered_at"]
    lines.ordered_at[future] = _YEAR_2099 + (lines.ordered_at[future] - _START) % (365 * _DAY)
    copies = np.ones(n, dtype=np.int64)
    copies[picked["duplicate_lines"]] = 2
    unparseable = np.zeros(n, dtype=bool)
    text = np.zeros(n, dtype=np.int64)
    bad = picked["unparseable_ordered_at"]
    text[bad] = rng.integers(0, len(_BAD_TIMESTAMPS), bad.size)
    if csv:
        unparseable[bad] = True
    else:
        counts["unparseable_ordered_at"] = 0
    return _LineDirt(
        copies=copies,
        missing_customer=missing,
        unparseable=unparseable,
        unparseable_text=text,
        counts=counts,
    )


# --------------------------------------------------------------------------- web events


@dataclass
class _WebEvents:
    n_sessions: int
    customer: np.ndarray
    session: np.ndarray  # index within the block, ascending by (customer, start)
    occurred_at: np.ndarray
    event_type: np.ndarray  # index into _WEB_EVENT_TYPES


def _draw_web_events(rng: np.random.Generator, c: _Customers, o: _Orders) -> _WebEvents:
    """Sessions that end in a checkout for 40 % of orders, plus browsing sessions.

    Add-to-cart events in a buying session follow the order's lines, so cart and
    checkout counts correlate with purchases; browsing sessions rarely reach the cart.
    """
    # Buying sessions, anchored at the order time.
    tracked = np.flatnonzero(rng.random(o.customer.size) < 0.3)
    n_b = tracked.size
    lines = o.n_lines[tracked]
    buy_counts = np.stack(
        [
            np.ones(n_b, dtype=np.int64),
            (rng.random(n_b) < 0.3).astype(np.int64),
            1 + rng.poisson(1.0, n_b),
            (rng.random(n_b) < 0.05).astype(np.int64),
            1 + rng.binomial(lines - 1, 0.6),
            np.ones(n_b, dtype=np.int64),
        ],
        axis=1,
    )

    # Browsing sessions over sign-up .. 45 days after the buying window.
    n = c.persona.size
    web_until = np.minimum(c.active_until + 45 * _DAY, _END)
    months = (web_until - c.signed_up_at) / _MONTH
    rate = _persona_array("browse_sessions_per_month")[c.persona] * np.sqrt(c.activity)
    n_browse = rng.poisson(rate * months)
    browse_customer = np.repeat(np.arange(n), n_browse)
    lo, hi = c.signed_up_at[browse_customer], web_until[browse_customer]
    browse_at = _at_time_of_day(rng, lo + (rng.random(lo.size) * (hi - lo)).astype(np.int64))
    browse_at = np.maximum(browse_at, lo)
    n_w = browse_customer.size
    browse_counts = np.stack(
        [
            1 + rng.poisson(1.2, n_w),
            rng.poisson(0.5, n_w),
            rng.poisson(1.2, n_w),
            (rng.random(n_w) < 0.08).astype(np.int64),
            (rng.random(n_w) < 0.12).astype(np.int64),
            (rng.random(n_w) < 0.02).astype(np.int64),
        ],
        axis=1,
    )

    customer = np.concatenate([o.customer[tracked], browse_customer])
    counts = np.concatenate([buy_counts, browse_counts])
    anchor = np.concatenate([o.ordered_at[tracked], browse_at])
    anchored_at_end = np.concatenate([np.ones(n_b, dtype=bool), np.zeros(n_w, dtype=bool)])

    # Events: 20-60 s apart on average, in funnel order within a session.
    per_session = counts.sum(axis=1)
    event_session = np.repeat(np.arange(customer.size), per_session)
    gap = rng.exponential(40.0, event_session.size).astype(np.int64) + 1
    gap[_group_starts(per_session)] = 0
    offset = np.cumsum(gap)
    offset -= np.repeat(offset[_group_starts(per_session)], per_session)
    duration = np.zeros(customer.size, dtype=np.int64)
    np.add.at(duration, event_session, gap)
    start = anchor - np.where(anchored_at_end, duration, 0)
    event_type = np.repeat(np.tile(np.arange(len(_WEB_EVENT_TYPES)), customer.size), counts.ravel())

    # Number sessions by (customer, start) and drop events past the end of the data.
    by_start = np.argsort(customer * _SPAN + (start - _START), kind="stable")
    rank = np.empty_like(by_start)
    rank[by_start] = np.arange(by_start.size)
    occurred_at = start[event_session] + offset
    session = rank[event_session]
    order = np.argsort(session, kind="stable")
    keep = order[occurred_at[order] < _END]
    return _WebEvents(
        n_sessions=customer.size,
        customer=customer[event_session][keep],
        session=session[keep],
        occurred_at=occurred_at[keep],
        event_type=event_type[keep],
    )


# --------------------------------------------------------------------------- engagement


@dataclass
class _Engagement:
    customer: np.ndarray
    channel: np.ndarray  # index into _CHANNELS
    campaign: np.ndarray  # campaign number
    event_type: np.ndarray  # index into _ENGAGEMENT_EVENT_TYPES
    occurred_at: np.ndarray


def _draw_engagement(rng: np.random.Generator, c: _Customers, cat: _Catalogue) -> _Engagement:
    """Campaign sends to opted-in customers, then opens, clicks and unsubscribes.

    Open rates follow the persona and drop to a quarter once a customer has stopped
    buying; sends stop after an unsubscribe from that channel.
    """
    n = c.persona.size
    opt_in = {
        "email": rng.random(n) < _persona_array("email_opt_in")[c.persona],
        "sms": rng.random(n) < 0.2,
        "push": rng.random(n) < np.where(c.persona <= 3, 0.4, 0.2),
    }
    parts = []
    for ch_index, channel in enumerate(_CHANNELS):
        who = np.flatnonzero(opt_in[channel])
        sends = cat.campaign_at[channel]
        first = np.searchsorted(sends, c.signed_up_at[who], side="right")
        eligible = sends.size - first
        customer = np.repeat(who, eligible)
        campaign = np.repeat(first, eligible) + _position_in_group(eligible)
        reached = rng.random(customer.size) < _CAMPAIGN_REACH[channel]
        parts.append((customer[reached], np.full(reached.sum(), ch_index), campaign[reached]))
    customer = np.concatenate([p[0] for p in parts])
    channel = np.concatenate([p[1] for p in parts])
    campaign_index = np.concatenate([p[2] for p in parts])
    by_group = np.argsort(customer * len(_CHANNELS) + channel, kind="stable")
    customer, channel, campaign_index = (
        customer[by_group],
        channel[by_group],
        campaign_index[by_group],
    )
    at_table = np.full((len(_CHANNELS), max(a.size for a in cat.campaign_at.values())), -1)
    number_table = np.zeros_like(at_table)
    for i, ch in enumerate(_CHANNELS):
        at_table[i, : cat.campaign_at[ch].size] = cat.campaign_at[ch]
        number_table[i, : cat.campaign_number[ch].size] = cat.campaign_number[ch]
    sent_at = at_table[channel, campaign_index] + rng.integers(0, 1800, customer.size)
    campaign = number_table[channel, campaign_index]

    persona = c.persona[customer]
    still_buying = sent_at < c.active_until[customer]
    open_p = _persona_array("open_rate")[persona] * c.engagement[customer]
    open_p *= np.where(still_buying, 1.0, 0.25) * np.array([1.0, 0.0, 0.6])[channel]
    opened = rng.random(customer.size) < np.minimum(open_p, 0.95)
    click_p = _persona_array("click_rate")[persona] * np.array([1.0, 0.05, 1.0])[channel]
    clicked = np.where(channel == 1, True, opened) & (rng.random(customer.size) < click_p)
    unsub_p = _persona_array("unsubscribe_rate")[persona] * np.where(still_buying, 1.0, 2.0)
    unsubscribed = rng.random(customer.size) < unsub_p

    # Keep sends up to and including the first unsubscribe of each (customer, channel).
    group = customer * len(_CHANNELS) + channel
    new_group = np.ones(customer.size, dtype=bool)
    new_group[1:] = group[1:] != group[:-1]
    before = np.cumsum(unsubscribed) - unsubscribed
    group_base = np.maximum.accumulate(np.where(new_group, before, 0))
    keep = (before - group_base) == 0
    customer, channel, campaign = customer[keep], channel[keep], campaign[keep]
    sent_at, opened, clicked, unsubscribed = (
        sent_at[keep],
        opened[keep],
        clicked[keep],
        unsubscribed[keep],
    )

    open_at = sent_at + (rng.exponential(5.0, sent_at.size) * 3600).astype(np.int64) + 1
    click_at = (
        np.where(channel == 1, sent_at, open_at)
        + rng.exponential(120.0, sent_at.size).astype(np.int64)
        + 1
    )
    unsub_at = (
        np.where(opened, open_at, sent_at)
        + rng.exponential(600.0, sent_at.size).astype(np.int64)
        + 1
    )
    kinds = [
        (np.ones(sent_at.size, dtype=bool), sent_at),
        (opened, open_at),
        (clicked, click_at),
        (unsubscribed, unsub_at),
    ]
    events = _Engagement(
        customer=np.concatenate([customer[m] for m, _ in kinds]),
        channel=np.concatenate([channel[m] for m, _ in kinds]),
        campaign=np.concatenate([campaign[m] for m, _ in kinds]),
        event_type=np.concatenate([np.full(m.sum(), i) for i, (m, _) in enumerate(kinds)]),
        occurred_at=np.concatenate([t[m] for m, t in kinds]),
    )
    order = np.argsort(events.customer * _SPAN + (events.occurred_at - _START), kind="stable")
    order = order[events.occurred_at[order] < _END]
    return _Engagement(**{k: v[order] for k, v in vars(events).items()})


# --------------------------------------------------------------------------- arrow


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _timestamps(seconds: np.ndarray, csv: bool) -> pa.Array:
    ts = pa.array(seconds, type=pa.int64()).cast(pa.timestamp("s"))
    return ts.cast(pa.string()) if csv else ts.cast(pa.timestamp("us"))


def _take(
    values: pa.Array | tuple[str, ...], index: np.ndarray, null: np.ndarray | None = None
) -> pa.Array:
    if isinstance(values, tuple):
        values = pa.array(values, type=pa.string())
    return values.take(pa.array(index, type=pa.int64(), mask=null))


def _transactions_table(
    lines: _Lines,
    dirt: _LineDirt,
    customer_ids: pa.Array,
    cat: _Catalogue,
    first_order: int,
    csv: bool,
) -> pa.Table:
    ordered_at = _timestamps(lines.ordered_at, csv)
    if csv:
        bad = _take(_BAD_TIMESTAMPS, dirt.unparseable_text)
        ordered_at = pc.if_else(pa.array(dirt.unparseable), bad, ordered_at)
    products = _ids("P", cat.product_number, 5)
    table = pa.table(
        {
            "order_id": _ids("O", first_order + lines.order, _ORDER_ID_WIDTH),
            "customer_id": _take(customer_ids, lines.customer, dirt.missing_customer),
            "ordered_at": ordered_at,
            "product_id": products.take(pa.array(lines.product)),
            "category": _take(tuple(c.name for c in CATEGORIES), lines.category),
            "quantity": pa.array(lines.quantity, type=pa.int64()),
            "unit_price": pa.array(lines.unit_price, type=pa.float64()),
        }
    )
    return table.take(pa.array(np.repeat(np.arange(table.num_rows), dirt.copies)))


def _customers_table(
    c: _Customers, customer_ids: pa.Array, copies: np.ndarray, csv: bool
) -> pa.Table:
    table = pa.table(
        {
            "customer_id": customer_ids,
            "signed_up_at": _timestamps(c.signed_up_at, csv),
            "birth_year": pa.array(c.birth_year, type=pa.int64()),
            "gender": _take(_GENDERS, np.maximum(c.gender, 0), c.gender < 0),
            "country": _take(_COUNTRIES, c.country),
        }
    )
    return table.take(pa.array(np.repeat(np.arange(table.num_rows), copies)))


def _web_table(w: _WebEvents, customer_ids: pa.Array, first_session: int, csv: bool) -> pa.Table:
    return pa.table(
        {
            "customer_id": _take(customer_ids, w.customer),
            "session_id": _ids("S", first_session + w.session, _SESSION_ID_WIDTH),
            "occurred_at": _timestamps(w.occurred_at, csv),
            "event_type": _take(_WEB_EVENT_TYPES, w.event_type),
        }
    )


def _engagement_table(e: _Engagement, customer_ids: pa.Array, csv: bool) -> pa.Table:
    return pa.table(
        {
            "customer_id": _take(customer_ids, e.customer),
            "campaign_id": _ids("CMP", e.campaign, 4),
            "channel": _take(_CHANNELS, e.channel),
            "event_type": _take(_ENGAGEMENT_EVENT_TYPES, e.event_type),
            "occurred_at": _timestamps(e.occurred_at, csv),
        }
    )


class _Writer:
    """Appends arrow tables to one parquet or csv file."""

    def __init__(self, path: Path, schema: pa.Schema, file_format: str) -> None:
        self.path = path
        if file_format == "parquet":
            self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        else:
            self._writer = pa_csv.CSVWriter(path, schema)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()
