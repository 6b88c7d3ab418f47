"""The CLV tables of the report test fixture (tests/fixtures/fake_warehouse.py) have the
columns and types the dbt contracts declare (models/marts/_clv__models.yml), so the
report is tested against the real schema."""

from __future__ import annotations

import duckdb
import yaml
from fixtures.fake_warehouse import build_fake_warehouse

from support import ROOT

CONTRACTS = ROOT / "models" / "marts" / "_clv__models.yml"
DIM_CUSTOMERS_CLV = [
    "probability_alive",
    "expected_purchases",
    "expected_average_spend",
    "lifetime_value",
]


def _contracts() -> dict[str, list[tuple[str, str]]]:
    spec = yaml.safe_load(CONTRACTS.read_text())
    return {
        model["name"]: [(c["name"], c["data_type"].upper()) for c in model["columns"]]
        for model in spec["models"]
        if model.get("config", {}).get("contract", {}).get("enforced")
    }


def test_fake_warehouse_clv_tables_match_the_contracts(tmp_path):
    path = build_fake_warehouse(tmp_path / "w.duckdb", n_customers=60, n_segments=2, seed=1)
    con = duckdb.connect(str(path), read_only=True)
    try:
        contracts = _contracts()
        assert {"clv_model_parameters", "clv_validation_metrics"} <= set(contracts)
        for table, columns in contracts.items():
            if table == "customer_lifetime_value":  # the report reads dim_customers instead
                continue
            got = [(r[0], r[1]) for r in con.execute(f"describe marts.{table}").fetchall()]
            assert got == columns, table
        dim = {r[0]: r[1] for r in con.execute("describe marts.dim_customers").fetchall()}
        lifetime = dict(contracts["customer_lifetime_value"])
        for column in DIM_CUSTOMERS_CLV:
            assert dim[column] == lifetime[column], column
    finally:
        con.close()
