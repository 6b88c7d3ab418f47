"""Helpers shared by the end-to-end tests (a module, not conftest, so that
tests/ml/conftest.py cannot shadow it)."""

from __future__ import annotations

from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ONLINE_RETAIL = SHARED_DATA / "online_retail" / "online_retail.csv.gz"


def query(db_path: Path, sql: str):
    """Run a query on a published warehouse (read-only) and return a pandas frame."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def load_error(tmp_path: Path, capsys, source_yaml: str) -> str:
    """Write ``source_yaml`` as s.yml, run `customer-chunks load` on it and return its one
    error line (asserting exit 2, an `error:` prefix and a single line)."""
    from customer_chunks.cli import main

    (tmp_path / "s.yml").write_text(source_yaml)
    code = main(["load", "--source", str(tmp_path / "s.yml"), "--warehouse", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    return err


def staged_accounting(warehouse: Path, spec: Path):
    """Load the source file ``spec`` into ``warehouse``, build the accounting marts, and
    return (row_accounting by table, the transactions' quarantine reasons in order)."""
    from customer_chunks import sources
    from customer_chunks.load import load_all
    from customer_chunks.run import dbt_build

    load_all(warehouse, sources.from_source_file(spec))
    dbt_build(warehouse, {}, select="+row_accounting +quarantined_rows")
    accounting = query(warehouse, "select * from marts.row_accounting").set_index("table_name")
    reasons = query(
        warehouse,
        "select quarantine_reason from marts.quarantined_rows "
        "where table_name = 'transactions' order by 1",
    ).quarantine_reason.tolist()
    return accounting, reasons
