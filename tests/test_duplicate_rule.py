"""The duplicate rule (issue 14): an exact repeat is quarantined only when an id proves
it is the same line; without one it is a real purchase as often as not, so it is
staged and reported in marts.duplicate_summary. var quarantine_duplicates forces
either behaviour.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_chunks import sources
from customer_chunks.errors import BuildError
from customer_chunks.load import load_all
from customer_chunks.run import dbt_build

from support import SHARED_DATA, query

pytestmark = pytest.mark.e2e

CDNOW = SHARED_DATA / "cdnow_sample" / "CDNOW_sample.txt"
SELECT = "+row_accounting +quarantined_rows +quarantine_summary +duplicate_summary"
LINES = (
    "order_id,customer_id,ordered_at,amount\n"
    "o1,a,2024-01-01,5\n"
    "o1,a,2024-01-01,5\n"  # repeat with an order id: provably the same line
    ",b,2024-01-01,5\n"
    ",b,2024-01-01,5\n"  # repeat without one: maybe two purchases
    ",b,2024-01-01,5\n"
)


def _build(tmp_path: Path, text: str, dbt_vars: dict) -> Path:
    (tmp_path / "transactions.csv").write_text(text)
    warehouse = tmp_path / "w.duckdb"
    load_all(warehouse, sources.from_data_dir(tmp_path), log=lambda m: None)
    dbt_build(warehouse, dbt_vars, log=lambda m: None, select=SELECT)
    return warehouse


@pytest.mark.parametrize(
    ("setting", "quarantined", "staged"),
    [(None, 1, 4), (True, 3, 2), ("false", 0, 5)],
)
def test_the_var_sets_the_rule(tmp_path, setting, quarantined, staged):
    dbt_vars = {} if setting is None else {"quarantine_duplicates": setting}
    warehouse = _build(tmp_path, LINES, dbt_vars)
    acc = query(warehouse, "select * from marts.row_accounting where table_name = 'transactions'")
    assert acc.rows_staged.iloc[0] == staged
    assert acc.rows_quarantined.iloc[0] == quarantined
    assert acc.is_balanced.iloc[0]
    dup = query(
        warehouse, "select * from marts.duplicate_summary where table_name = 'transactions'"
    )
    assert dup.repeated_rows.iloc[0] == 3
    assert dup.repeated_rows_quarantined.iloc[0] == quarantined
    assert dup.possible_duplicates_staged.iloc[0] == 3 - quarantined


def test_an_unknown_setting_fails_the_build_with_its_name(tmp_path):
    with pytest.raises(BuildError):
        _build(tmp_path, LINES, {"quarantine_duplicates": "sometimes"})


@pytest.mark.shared_data
def test_cdnow_same_day_repeats_are_staged(tmp_path):
    if not CDNOW.exists():
        pytest.skip(f"CDNOW sample not found at {CDNOW}: needs ../shared/data beside the checkout")
    field = "regexp_split_to_array(trim(column0), ' +')"
    (tmp_path / "cdnow.yml").write_text(
        "allow_outside_folder: true\n"
        "tables:\n  transactions:\n"
        f"    path: {CDNOW}\n    format: csv\n"
        '    options: {header: false, delimiter: "\\t"}\n'
        "    columns:\n"
        f'      customer_id: "{field}[2]"\n'
        f"      ordered_at: \"strptime({field}[3], '%Y%m%d')\"\n"
        f'      quantity: "{field}[4]"\n'
        f'      amount: "{field}[5]"\n'
    )
    warehouse = tmp_path / "w.duckdb"
    load_all(warehouse, sources.from_source_file(tmp_path / "cdnow.yml"), log=lambda m: None)
    dbt_build(warehouse, {}, log=lambda m: None, select=SELECT)
    acc = query(warehouse, "select * from marts.row_accounting where table_name = 'transactions'")
    # SOURCE.md: 6,919 transactions, total dollar value 244,091.94, none with an order id
    assert acc.rows_read.iloc[0] == 6_919
    assert acc.rows_staged.iloc[0] == 6_919 and acc.rows_quarantined.iloc[0] == 0
    total = query(
        warehouse, "select sum(line_amount) as s from staging.stg_customer_data__transactions"
    ).s.iloc[0]
    assert round(total, 2) == 244_091.94
    dup = query(
        warehouse, "select * from marts.duplicate_summary where table_name = 'transactions'"
    )
    assert dup.possible_duplicates_staged.iloc[0] == 21
    assert dup.repeated_rows_quarantined.iloc[0] == 0
