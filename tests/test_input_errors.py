"""Bad input stops the CLI before dbt with one line naming the file, the column and the fix."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from customer_chunks.cli import main

HEADER = "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_one_line_error(err: str, *needles: str) -> None:
    assert err.startswith("error: ")
    assert "\n" not in err, f"expected one line, got:\n{err}"
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_missing_required_column_names_file_column_and_fix(tmp_path, capsys):
    write(
        tmp_path / "d" / "transactions.csv", "order_id,customer_id,quantity,unit_price\n1,a,1,2\n"
    )
    code, err = run_cli(
        ["run", "--data", str(tmp_path / "d"), "--warehouse", str(tmp_path / "w.duckdb")], capsys
    )
    assert code == 2
    assert_one_line_error(err, "transactions.csv", "'ordered_at'", "Fix:")
    assert not (tmp_path / "w.duckdb").exists()


def test_missing_amount_columns_are_named(tmp_path, capsys):
    write(tmp_path / "d" / "transactions.csv", "customer_id,ordered_at,quantity\na,2024-01-01,1\n")
    code, err = run_cli(
        ["load", "--data", str(tmp_path / "d"), "--warehouse", str(tmp_path / "w.duckdb")], capsys
    )
    assert code == 2
    assert_one_line_error(err, "transactions.csv", "quantity+unit_price or amount")


def test_unreadable_file(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "transactions.parquet").write_bytes(b"this is not a parquet file\x00\x01")
    code, err = run_cli(
        ["run", "--data", str(tmp_path / "d"), "--warehouse", str(tmp_path / "w.duckdb")], capsys
    )
    assert code == 2
    assert_one_line_error(err, "transactions.parquet", "cannot read it as parquet", "Fix:")


def test_corrupt_gzip_is_unreadable(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    good = gzip.compress((HEADER + "1,a,2024-01-01,p,1,2\n").encode())
    (tmp_path / "d" / "transactions.csv.gz").write_bytes(good[: len(good) // 2])
    code, err = run_cli(
        ["load", "--data", str(tmp_path / "d"), "--warehouse", str(tmp_path / "w.duckdb")], capsys
    )
    assert code == 2
    assert_one_line_error(err, "transactions.csv.gz", "Fix:")


def test_dates_in_the_wrong_format_name_column_example_and_fix(tmp_path, capsys):
    rows = "".join(f"{i},c{i},31/12/2024 10:0{i},p,1,2.5\n" for i in range(5))
    write(tmp_path / "d" / "transactions.csv", HEADER + rows)
    code, err = run_cli(
        ["run", "--data", str(tmp_path / "d"), "--warehouse", str(tmp_path / "w.duckdb")], capsys
    )
    assert code == 2
    assert_one_line_error(err, "transactions.csv", "ordered_at", "31/12/2024", "timestamp_format")


def test_a_few_bad_dates_are_quarantined_not_fatal(tmp_path, capsys):
    from customer_chunks import sources
    from customer_chunks.load import load_all

    rows = (
        "".join(f"{i},c{i},2024-01-0{i + 1} 10:00:00,p,1,2.5\n" for i in range(5))
        + "9,c9,not a date,p,1,2\n"
    )
    write(tmp_path / "d" / "transactions.csv", HEADER + rows)
    summary = load_all(
        tmp_path / "w.duckdb", sources.from_data_dir(tmp_path / "d"), log=lambda m: None
    )
    assert summary["transactions"]["rows"] == 6
    assert any("not a date" in n for n in summary["transactions"]["notes"])


def test_source_file_mapping_to_a_missing_column(tmp_path, capsys):
    write(tmp_path / "t.csv", "a,b,c\n1,2,2024-01-01\n")
    spec = write(
        tmp_path / "s.yml",
        "tables:\n  transactions:\n    path: t.csv\n    columns:\n"
        "      customer_id: a\n      ordered_at: c\n      amount: nope\n",
    )
    code, err = run_cli(
        ["load", "--source", str(spec), "--warehouse", str(tmp_path / "w.duckdb")], capsys
    )
    assert code == 2
    assert_one_line_error(err, "t.csv", "'nope'", "amount", "Fix:")


def test_source_file_path_that_matches_nothing(tmp_path, capsys):
    spec = write(
        tmp_path / "s.yml",
        "tables:\n  transactions:\n    path: missing/*.csv\n    columns: {customer_id: a}\n",
    )
    code, err = run_cli(["run", "--source", str(spec)], capsys)
    assert code == 2
    assert_one_line_error(err, "s.yml", "tables.transactions.path", "no file matches")


def test_bad_as_of(tmp_path, capsys):
    write(tmp_path / "d" / "transactions.csv", HEADER + "1,a,2024-01-01,p,1,2\n")
    code, err = run_cli(["run", "--data", str(tmp_path / "d"), "--as-of", "yesterday"], capsys)
    assert code == 2
    assert_one_line_error(err, "--as-of", "YYYY-MM-DD")


def test_no_transactions_file(tmp_path, capsys):
    write(tmp_path / "d" / "customers.csv", "customer_id\na\n")
    code, err = run_cli(["run", "--data", str(tmp_path / "d")], capsys)
    assert code == 2
    assert_one_line_error(err, "no transactions file", "Fix:")


@pytest.mark.parametrize("args", [[], ["--data", "x", "--source", "y"]])
def test_exactly_one_input_option(args, capsys):
    code, err = run_cli(["load", *args], capsys)
    assert code == 2
    assert_one_line_error(err, "--data", "--source")


def test_a_second_run_on_the_same_warehouse_is_refused(tmp_path, capsys):
    fcntl = pytest.importorskip("fcntl", reason="the run lock needs POSIX fcntl")
    write(tmp_path / "d" / "transactions.csv", HEADER + "1,a,2024-01-01,p,1,2\n")
    warehouse = tmp_path / "w" / "shop.duckdb"
    warehouse.parent.mkdir()
    # Another run holds the lock, as `customer-chunks run` does while it builds.
    with open(warehouse.with_name(".shop.lock"), "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, err = run_cli(
            ["run", "--data", str(tmp_path / "d"), "--warehouse", str(warehouse)], capsys
        )
    assert code == 2
    assert_one_line_error(err, "another customer-chunks run", str(warehouse), "Fix:")
    assert not warehouse.exists()
    assert not (tmp_path / "w" / ".shop.building.duckdb").exists()
