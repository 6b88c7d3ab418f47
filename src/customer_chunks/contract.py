"""The input contract: which tables Customer Chunks reads and which columns each holds.

This module is the single place the contract is written down in code; the README's
"Input contract" section and the dbt source YAML describe the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str  # "string", "timestamp", "number", "integer"
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class TableContract:
    name: str
    required: bool
    columns: tuple[ColumnSpec, ...]
    # Groups of columns of which at least one complete group must be present.
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TRANSACTIONS = TableContract(
    name="transactions",
    # required unless a customer_features table is given instead (PRIMARY_TABLES)
    required=False,
    description="one row per order line; a negative quantity or amount is a return",
    columns=(
        ColumnSpec("order_id", "string", description="optional: without it each row is an order"),
        ColumnSpec("customer_id", "string", required=True),
        ColumnSpec("ordered_at", "timestamp", required=True),
        ColumnSpec("product_id", "string"),
        ColumnSpec("category", "string"),
        ColumnSpec("quantity", "number"),
        ColumnSpec("unit_price", "number"),
        ColumnSpec("amount", "number", description="line amount, instead of quantity x price"),
    ),
    one_of=(("quantity", "unit_price"), ("amount",)),
)

CUSTOMERS = TableContract(
    name="customers",
    required=False,
    description="one row per customer (demographics)",
    columns=(
        ColumnSpec("customer_id", "string", required=True),
        ColumnSpec("signed_up_at", "timestamp"),
        ColumnSpec("birth_year", "integer"),
        ColumnSpec("gender", "string"),
        ColumnSpec("country", "string"),
    ),
)

WEB_EVENTS = TableContract(
    name="web_events",
    required=False,
    description="one row per browsing event",
    columns=(
        ColumnSpec("customer_id", "string", required=True),
        ColumnSpec("session_id", "string"),
        ColumnSpec("occurred_at", "timestamp", required=True),
        ColumnSpec("event_type", "string", required=True),
    ),
)

ENGAGEMENT_EVENTS = TableContract(
    name="engagement_events",
    required=False,
    description="one row per marketing message event (sent, open, click, unsubscribe, ...)",
    columns=(
        ColumnSpec("customer_id", "string", required=True),
        ColumnSpec("campaign_id", "string"),
        ColumnSpec("channel", "string"),
        ColumnSpec("event_type", "string", required=True),
        ColumnSpec("occurred_at", "timestamp", required=True),
    ),
)

# The customer features, in order, with the meanings of models/_feature_definitions.md:
# what the models use (customer_chunks.ml.features.FEATURE_COLUMNS is this list) and
# what a customer-level table (a CRM export with precomputed metrics) may map onto.
CUSTOMER_FEATURE_COLUMNS: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "gross_revenue",
    "returned_revenue",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "avg_days_between_orders",
    "distinct_categories",
    "return_rate",
    "web_sessions_90d",
    "web_events_90d",
    "add_to_cart_90d",
    "checkouts_90d",
    "cart_to_purchase_rate",
    "email_open_rate",
    "email_click_rate",
    "days_since_last_engagement",
    "engagement_score",
    "age",
)

CUSTOMER_FEATURES = TableContract(
    name="customer_features",
    required=False,
    description=(
        "one row per customer with precomputed metrics (a CRM export), instead of "
        "transactions; a source file may add numeric extra_columns to segment on"
    ),
    columns=(
        ColumnSpec("customer_id", "string", required=True),
        *(ColumnSpec(name, "number") for name in CUSTOMER_FEATURE_COLUMNS),
    ),
)

CONTRACT: dict[str, TableContract] = {
    t.name: t for t in (TRANSACTIONS, CUSTOMERS, WEB_EVENTS, ENGAGEMENT_EVENTS, CUSTOMER_FEATURES)
}
# One of these must be given: order lines, or a customer-level table (not both).
PRIMARY_TABLES: tuple[str, ...] = ("transactions", "customer_features")


def with_extra_columns(contract: TableContract, extra: tuple[str, ...]) -> TableContract:
    """``contract`` with a numeric column for each extra column name (customer_features
    only: the numeric columns a source file adds to segment on)."""
    if not extra:
        return contract
    columns = (*contract.columns, *(ColumnSpec(name, "number") for name in extra))
    return TableContract(
        contract.name, contract.required, columns, contract.one_of, contract.description
    )


# File endings recognised in `--data DIR`, with the DuckDB reader each one takes.
FILE_FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".jsonl.gz": "json",
}
