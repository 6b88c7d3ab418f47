"""The quarantine reasons are written in the base models' SQL; every list of them
elsewhere (the marts' accepted values, the README) must name exactly those."""

from __future__ import annotations

import re

import yaml

from support import ROOT

BASE = ROOT / "models" / "staging" / "customer_data" / "base"
# the checks the base models share (one_row_per_customer gives the duplicate reasons)
SHARED_CHECKS = ROOT / "macros" / "staging_checks.sql"


def _reasons_in_sql() -> set[str]:
    found = set()
    for path in [*BASE.glob("*_checked.sql"), SHARED_CHECKS]:
        found |= set(re.findall(r"then '([a-z_]+)'", path.read_text()))
    return found | {"malformed_line"}  # added by int_quarantined_rows_unioned


def _accepted_values(model: str, column: str) -> set[str]:
    for path in (ROOT / "models").rglob("_*.yml"):
        doc = yaml.safe_load(path.read_text())
        for entry in doc.get("models", []) or []:
            if entry["name"] != model:
                continue
            for col in entry.get("columns", []):
                if col["name"] != column:
                    continue
                for test in col.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test:
                        return set(test["accepted_values"]["arguments"]["values"])
    raise AssertionError(f"no accepted_values on {model}.{column}")


def test_the_marts_accept_exactly_the_reasons_the_sql_gives():
    reasons = _reasons_in_sql()
    assert {"implausible_amount", "implausible_timestamp", "duplicate"} <= reasons
    assert _accepted_values("quarantined_rows", "quarantine_reason") == reasons


def test_the_transactions_model_accepts_exactly_its_reasons():
    sql = (BASE / "base_customer_data__transactions_checked.sql").read_text()
    assert _accepted_values("base_customer_data__transactions_checked", "quarantine_reason") == set(
        re.findall(r"then '([a-z_]+)'", sql)
    )


def test_the_readme_names_every_reason():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(r for r in _reasons_in_sql() if f"`{r}`" not in readme)
    assert not missing, f"README does not name {missing}"
