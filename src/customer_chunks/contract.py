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
    required=True,
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

CONTRACT: dict[str, TableContract] = {
    t.name: t for t in (TRANSACTIONS, CUSTOMERS, WEB_EVENTS, ENGAGEMENT_EVENTS)
}

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
