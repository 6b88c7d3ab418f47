"""PostgreSQL as a source (issue 14 item 1), against a real local server.

The server is the one .ci/services.sh starts ($CUSTOMER_CHUNKS_TEST_PG_URL) or a
private cluster the ``pg_url`` fixture starts; without PostgreSQL these tests skip
with a one-line reason. DuckDB's postgres extension comes from the pinned wheels, so
nothing here touches the network.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import pytest

from customer_chunks import sources
from customer_chunks.cli import main
from customer_chunks.load import load_all

from support import load_error, staged_accounting

SECRET = "Sup3r-Secret-pw"


def with_password(url: str, password: str = SECRET, port: int | None = None) -> str:
    parts = urlsplit(url)
    host = f"{parts.username}:{password}@{parts.hostname}:{port or parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@pytest.fixture
def shop(pg_url: str, pg_schema: str) -> str:
    """A schema with an orders table, a customers table and a sequence."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f"create schema {pg_schema}")
        con.execute(
            f"create table {pg_schema}.orders (id bigint, customer text, placed timestamptz, "
            "sku text, qty integer, price numeric(10, 2), note text)"
        )
        con.execute(
            f"insert into {pg_schema}.orders values "
            "(1, 'c1', '2024-01-05 12:30:00+02', 'A-1', 2, 9.95, 'it''s, \"quoted\"'),"
            "(2, 'c2', '2024-01-06 08:00:00+00', 'B-2', 1, 100.00, null),"
            "(3, null, '2024-01-07 09:00:00+00', 'B-2', 1, 5.00, null),"  # no customer
            "(4, 'c1', null, 'A-1', 1, 9.95, null)"  # no timestamp
        )
        con.execute(f"create table {pg_schema}.people (id text, since date, born smallint)")
        con.execute(
            f"insert into {pg_schema}.people values ('c1', '2023-02-01', 1980), ('c2', null, null)"
        )
        con.execute(f"create sequence {pg_schema}.counter")
    return pg_schema


def spec_for(folder: Path, url: str, schema: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "s.yml"
    path.write_text(
        f"""
tables:
  transactions:
    postgres: {{url: "{url}", schema: {schema}, table: orders}}
    columns: {{order_id: id, customer_id: customer, ordered_at: placed, product_id: sku,
              quantity: qty, unit_price: price, category: note}}
  customers:
    postgres:
      url: "{url}"
      query: select id, since, born from {schema}.people order by id
    columns: {{customer_id: id, signed_up_at: since, birth_year: "born + 0"}}
{extra}"""
    )
    return path


def test_tables_and_queries_load_read_only(tmp_path, pg_url, shop):
    logs: list[str] = []
    spec = spec_for(tmp_path, pg_url, shop)
    summary = load_all(tmp_path / "w.duckdb", sources.from_source_file(spec), log=logs.append)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    rows = con.sql(
        "select order_id, customer_id, ordered_at, product_id, quantity, unit_price, category "
        "from raw.transactions order by _row_id"
    ).fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    customer, ordered_at, sku, qty, price, note = rows[0][1:]
    assert (customer, sku, qty, float(price), note) == ("c1", "A-1", 2, 9.95, 'it\'s, "quoted"')
    assert ordered_at == "2024-01-05 10:30:00.000000"  # +02 converted to UTC
    assert rows[2][1] is None and rows[3][2] is None  # kept, for quarantine
    people = con.sql(
        "select customer_id, signed_up_at, birth_year from raw.customers order by _row_id"
    ).fetchall()
    assert people == [("c1", "2023-02-01", 1980), ("c2", None, None)]
    assert summary["transactions"]["rows"] == 4 and summary["customers"]["rows"] == 2
    manifest = con.sql("select source, file_format from raw.load_manifest").fetchall()
    assert (
        f"postgres://postgres@{urlsplit(pg_url).netloc.split('@')[1]}/postgres {shop}.orders",
        "postgres",
    ) in manifest
    assert any("loaded transactions: 4 rows from postgres://" in line for line in logs)


def test_a_query_cannot_write(tmp_path, pg_url, shop, capsys):
    """The database is attached read-only: DuckDB runs the query in a read-only
    transaction, so even a function with a side effect is refused by the server."""
    spec = spec_for(tmp_path, pg_url, shop)
    spec.write_text(
        spec.read_text().replace(
            f"select id, since, born from {shop}.people order by id",
            f"select nextval('{shop}.counter')::text as id, null::date as since, null::int as born",
        )
    )
    code = main(["load", "--source", str(spec), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert "read-only transaction" in err
    import psycopg

    with psycopg.connect(pg_url) as con:  # the sequence did not move
        assert con.execute(f"select last_value, is_called from {shop}.counter").fetchone() == (
            1,
            False,
        )


@pytest.mark.parametrize("where", ["url", "pgpassword"])
def test_a_password_never_appears_in_an_error_or_the_log(
    tmp_path, pg_url, shop, capsys, monkeypatch, where
):
    logs: list[str] = []
    if where == "url":
        url = with_password(pg_url, port=1)  # nothing listens on port 1
    else:
        monkeypatch.setenv("PGPASSWORD", SECRET)
        url = pg_url.replace(str(urlsplit(pg_url).port), "1")
    spec = spec_for(tmp_path, url, shop)
    code = main(["load", "--source", str(spec), "--warehouse", str(tmp_path / "w.duckdb")])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert "cannot connect" in err and "127.0.0.1:1" in err and "Fix:" in err
    assert SECRET not in err and SECRET not in captured.out and not any(SECRET in m for m in logs)


def test_a_password_in_a_wrong_table_error_and_the_manifest(tmp_path, pg_url, shop, capsys):
    url = with_password(pg_url)  # the test server trusts local logins: any password works
    spec = spec_for(tmp_path, url, shop)
    code = main(["load", "--source", str(spec), "--warehouse", str(tmp_path / "w.duckdb")])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert SECRET not in str(con.sql("select * from raw.load_manifest").fetchall())
    con.close()
    spec.write_text(spec.read_text().replace("table: orders", "table: no_such_table"))
    code = main(["load", "--source", str(spec), "--warehouse", str(tmp_path / "w2.duckdb")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "no_such_table" in err
    assert SECRET not in err


def test_pgpass_passwords_are_scrubbed_too(tmp_path, monkeypatch):
    from customer_chunks.sources import PostgresSource
    from customer_chunks.sources_db import scrub

    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"# comment\n127.0.0.1:5432:shop:reader:{SECRET}\\:x\n*:*:*:*:abc\n")
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    pg = PostgresSource(url="postgresql://reader:in-the-url@127.0.0.1/shop", table="t")
    text = scrub(
        f"failed: {SECRET}:x / from-the-environment / in-the-url / "
        "postgresql://reader:in-the-url@127.0.0.1/shop / password=hunter22 / abc",
        pg,
    )
    assert SECRET not in text and "from-the-environment" not in text and "in-the-url" not in text
    assert "hunter22" not in text and "postgres://reader@127.0.0.1/shop" in text
    assert text.endswith("/ abc")  # a 3-character password is not worth mangling messages


def test_the_locked_connection_reads_the_declared_database_only(tmp_path, pg_url, shop):
    """Attached before lock-down, the declared database stays readable; nothing else
    can be attached afterwards, and a table source sees only its own schema."""
    from customer_chunks.load import _lock_down
    from customer_chunks.sources import PostgresSource, TableSource
    from customer_chunks.sources_db import attach, connect_config, load_extension

    pg = PostgresSource(url=pg_url, schema=shop, table="orders")
    con = duckdb.connect(config=connect_config(tmp_path / "extensions"))
    load_extension(con)
    attach(con, "source_transactions", pg, "test")
    _lock_down(con, {"transactions": TableSource("transactions", [], "", "postgres", postgres=pg)})
    assert con.sql(f"select count(*) from source_transactions.{shop}.orders").fetchone() == (4,)
    with pytest.raises(duckdb.Error, match="disabled"):
        con.execute(f"attach '{pg_url}' as other (type postgres)")
    with pytest.raises(duckdb.Error):
        con.execute("select * from source_transactions.pg_catalog.pg_authid")
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute(f"insert into source_transactions.{shop}.orders (id) values (5)")
    con.close()


@pytest.mark.parametrize(
    ("postgres", "needles"),
    [
        (f'"postgresql://u:{SECRET}@h/db"', ("tables.transactions.postgres", "mapping")),
        (f'{{url: "postgresql://u:{SECRET}@h/db"}}', ("exactly one of 'table' or 'query'",)),
        (
            f'{{url: "postgresql://u:{SECRET}@h/db", table: t, query: "select 1"}}',
            ("exactly one of 'table' or 'query'",),
        ),
        (
            f'{{url: "postgresql://u:{SECRET}@h/db", table: t, port: 5}}',
            ("postgres.port: unknown key",),
        ),
    ],
)
def test_source_file_mistakes_never_echo_the_url(tmp_path, capsys, postgres, needles):
    err = load_error(
        tmp_path,
        capsys,
        "tables:\n  transactions:\n"
        f"    postgres: {postgres}\n"
        "    columns: {customer_id: a, ordered_at: b, amount: c}\n",
    )
    for needle in needles:
        assert needle in err
    assert SECRET not in err


@pytest.mark.e2e
def test_rows_read_equal_staged_plus_quarantined_for_a_database(tmp_path, pg_url, shop):
    spec = spec_for(tmp_path, pg_url, shop)
    acc, reasons = staged_accounting(tmp_path / "w.duckdb", spec)
    assert acc.loc["transactions", "rows_read"] == 4
    assert acc.loc["transactions", "rows_staged"] == 2
    assert acc.loc["customers", "rows_read"] == 2
    assert (acc.rows_read == acc.rows_staged + acc.rows_quarantined).all()
    assert reasons == ["missing_customer_id", "missing_timestamp"]


def test_customers_from_the_orders_table(tmp_path, pg_url, shop):
    spec = tmp_path / "s.yml"
    spec.write_text(
        f"""
tables:
  transactions:
    postgres: {{url: "{pg_url}", schema: {shop}, table: orders}}
    columns: {{order_id: id, customer_id: customer, ordered_at: placed, amount: price}}
  customers:
    from: transactions
    distinct: true
    columns: {{customer_id: customer}}
"""
    )
    load_all(tmp_path / "w.duckdb", sources.from_source_file(spec), log=lambda m: None)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    ids = con.sql("select customer_id from raw.customers order by _row_id").fetchall()
    assert ids == [("c1",), ("c2",), (None,)]


# ---------------------------------------------------------------------------------------
# A server that checks passwords (scram-sha-256): the three places libpq takes one from.


@pytest.fixture(scope="module")
def password_server():
    """A private PostgreSQL cluster that asks TCP logins for a password; its URL
    without the password."""
    import os
    import shutil
    import subprocess
    import tempfile

    from conftest_services import _free_port, _pg_bin, _run_as_owner

    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL binaries: apt-get install postgresql (or source .ci/services.sh)"
        )
    # not under pytest's own folder, which the postgres account cannot enter
    root = Path(tempfile.mkdtemp(prefix="cc-test-pg-password-"))
    pwfile = root / "pw"
    pwfile.write_text(SECRET + "\n")
    if os.geteuid() == 0:
        for path in (root, pwfile):
            shutil.chown(path, "postgres", "postgres")
    init = _run_as_owner(
        [str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-E", "UTF8"]
        + ["--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"]
        + [f"--pwfile={pwfile}"]
    )
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr[-200:]}")
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    start = _run_as_owner(
        [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w"]
        + ["-o", options, "start"]
    )
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL with passwords did not start: {start.stderr[-200:]}")
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        import psycopg

        with psycopg.connect(with_password(url), autocommit=True) as con:
            con.execute(
                "create table orders (id int, customer text, placed timestamp, price float)"
            )
            con.execute("insert into orders values (1, 'c1', '2024-01-01 10:00', 2.5)")
        yield url
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--"] * (os.geteuid() == 0)
            + [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


PASSWORD_SPEC = """
tables:
  transactions:
    postgres: {{url: "{url}", table: orders}}
    columns: {{order_id: id, customer_id: customer, ordered_at: placed, amount: price}}
"""


@pytest.mark.parametrize("where", ["url", "pgpassword", "pgpass"])
def test_each_password_source_logs_in_and_stays_hidden(
    tmp_path, password_server, monkeypatch, capsys, where
):
    url = password_server
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    if where == "url":
        url = with_password(url)
    elif where == "pgpassword":
        monkeypatch.setenv("PGPASSWORD", SECRET)
    else:
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:*:*:postgres:{SECRET}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
    (tmp_path / "s.yml").write_text(PASSWORD_SPEC.format(url=url))
    code = main(
        ["load", "--source", str(tmp_path / "s.yml"), "--warehouse", str(tmp_path / "w.duckdb")]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "loaded transactions: 1 rows from postgres://postgres@127.0.0.1" in out.out + out.err
    assert SECRET not in out.out + out.err
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        assert SECRET not in str(con.sql("select * from raw.load_manifest").fetchall())
        assert con.sql("select customer_id from raw.transactions").fetchall() == [("c1",)]
    finally:
        con.close()


def test_a_wrong_password_is_refused_without_showing_it(
    tmp_path, password_server, capsys, monkeypatch
):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    wrong = "Wr0ng-" + SECRET
    (tmp_path / "s.yml").write_text(PASSWORD_SPEC.format(url=with_password(password_server, wrong)))
    code = main(
        ["load", "--source", str(tmp_path / "s.yml"), "--warehouse", str(tmp_path / "w.duckdb")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert "password authentication failed" in err and "Fix:" in err
    assert wrong not in err and SECRET not in err
