"""`customer-chunks run --append` gives the marts of a full rebuild (issue 14, item 5).

A few hundred generated customers, every event file split by date into an earlier and
a later part. Warehouse `full`: a run on the earlier parts, then a full run on both.
Warehouse `appended`: the same first run, then `--append` with both parts named (the
earlier ones are skipped by hash). Both second runs carry the same history forward, so
every mart must be equal, doubles within 1e-9, except the columns that record the run
itself (APPEND_DIFFERS). Three pipeline runs and three `score` builds (one failing).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import duckdb
import pytest

from customer_chunks import sources
from customer_chunks.contract import CONTRACT
from customer_chunks.errors import CustomerChunksError, InputError
from customer_chunks.generate import generate
from customer_chunks.run import SCORE_COPIED, SCORE_TARGET, _state_dir, run, score

VARS = {"ml_bootstrap_resamples": 2}
SPLIT = "2025-09-01"  # later rows (a valid timestamp on or after this) go to part 2
EVENT_TIME = {"transactions": "ordered_at", "web_events": "occurred_at"}
EVENT_TIME["engagement_events"] = "occurred_at"
# Columns that say when and how long the run took: they differ between any two runs.
APPEND_DIFFERS = {
    "run_history": {"started_at", "finished_at", "stage_seconds"},
    "int_lifecycle_current_run": {"started_at"},
}
# By design: the customers this run recomputed (all on a full run, the touched on append)
# and their scores (checked against segment_scores below).
NOT_COMPARED = {"intermediate.int_customers_touched", "marts.segment_scores_touched"}


def _split(generated: Path, out: Path) -> None:
    """part 1 = rows before SPLIT (and rows whose time does not parse), part 2 = the rest,
    each in input order; customers.csv as is."""
    out.mkdir()
    shutil.copy(generated / "customers.csv", out / "customers.csv")
    con = duckdb.connect()
    try:
        for table, column in EVENT_TIME.items():
            src = f"read_csv('{generated / f'{table}.csv'}', all_varchar = true)"
            late = f"coalesce(try_cast({column} as timestamp) >= timestamp '{SPLIT}', false)"
            for part, where in ((1, f"not {late}"), (2, late)):
                con.execute(
                    f"copy (select * from {src} where {where}) to "
                    f"'{out / f'{table}_{part}.csv'}' (header, quote '\"', force_quote *)"
                )
    finally:
        con.close()


def _source_file(folder: Path) -> Path:
    """Globs over the parts of each table the folder has (order-line input: no
    customer_features); every contract column the files have, by its own name."""
    lines = ["version: 1", "tables:"]
    for table in CONTRACT:
        path = "customers.csv" if table == "customers" else f"{table}_*.csv"
        files = sorted(folder.glob(path))
        if not files:
            continue
        first = files[0]
        header = first.read_text(encoding="utf-8").splitlines()[0].replace('"', "").split(",")
        lines += [f"  {table}:", f"    path: '{path}'", "    format: csv", "    columns:"]
        lines += [f"      {c}: {c}" for c in CONTRACT[table].column_names if c in header]
    spec = folder / "sources.yml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def _hide_part_2(folder: Path) -> Path:
    hidden = folder / "later"
    hidden.mkdir()
    for path in folder.glob("*_2.csv"):
        path.rename(hidden / path.name)
    return hidden


def _show_part_2(folder: Path, hidden: Path) -> None:
    for path in hidden.iterdir():
        path.rename(folder / path.name)


def _tables(warehouse: Path) -> dict[str, list[tuple]]:
    """Every table of the marts and intermediate schemas, sorted rows."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables where "
            "table_schema in ('marts', 'intermediate') and table_type = 'BASE TABLE' "
            "order by 1, 2"
        ).fetchall()
        out = {}
        for schema, name in names:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where "
                    "table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in APPEND_DIFFERS.get(name, set())
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {select} from {schema}."{name}"').fetchall()
            if f"{schema}.{name}" not in NOT_COMPARED:
                out[f"{schema}.{name}"] = sorted(rows, key=lambda r: tuple(map(repr, r)))
        return out
    finally:
        con.close()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scores(path: Path) -> dict[str, tuple]:
    rows = duckdb.sql(f"select * from read_parquet('{path}')").fetchall()
    return {row[0]: row[1:] for row in rows}


def _read_not_built(target: Path) -> set[str]:
    """What the nodes of the last dbt invocation in ``target`` read and did not build:
    ``schema.name`` of each model, ``source:name`` of each source."""
    manifest = json.loads((target / "manifest.json").read_text())
    built = {
        r["unique_id"] for r in json.loads((target / "run_results.json").read_text())["results"]
    }
    read = set()
    for unique_id in built:
        for parent in manifest["nodes"][unique_id]["depends_on"]["nodes"]:
            if parent in built:
                continue
            node = manifest["nodes"].get(parent) or manifest["sources"][parent]
            kind = "source:" if parent.startswith("source.") else f"{node['schema']}."
            read.add(kind + node["name"])
    return read


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three pipeline runs: one on part 1 (copied, so `full` and `appended` start from
    the same warehouse), a full run on both parts and ``--append`` of part 2; between
    them, on the first warehouse, `score` of part 2 and `score --all` of both parts."""
    base = tmp_path_factory.mktemp("append")
    generate(n_customers=300, seed=3, out_dir=base / "generated", file_format="csv")
    data = base / "data"
    _split(base / "generated", data)
    spec = _source_file(data)
    hidden = _hide_part_2(data)
    full, appended = base / "full.duckdb", base / "appended.duckdb"
    run(sources.from_source_file(spec), warehouse=full, extra_vars=VARS)
    shutil.copyfile(full, appended)
    _show_part_2(data, hidden)
    before = (appended.stat().st_mtime_ns, _sha256(appended))
    changed = score(sources.from_source_file(spec), appended, base / "scores.parquet")
    score_reads = _read_not_built(_state_dir() / SCORE_TARGET)
    everyone = score(
        sources.from_source_file(spec), appended, base / "all.parquet", changed_only=False
    )
    assert (appended.stat().st_mtime_ns, _sha256(appended)) == before  # only read
    con = duckdb.connect(str(appended), read_only=True)
    try:  # the first run's scores, before the append replaces them
        stored = con.execute("select customer_id, stable_segment_id from marts.segment_scores")
        first_scores = dict(stored.fetchall())
    finally:
        con.close()
    scored = (_scores(changed), _scores(everyone), first_scores)
    # a score that fails in dbt after loading part 2 into its scratch warehouse
    failed = base / "failed.parquet"
    with pytest.raises(CustomerChunksError) as failure:
        score(sources.from_source_file(spec), full, failed, as_of="2025-13-45")
    after_failure = {
        "unchanged": _sha256(full) == _sha256(appended),  # appended: a copy, only read
        "scores written": failed.exists(),
        "scratch left": (full.parent / f".{full.name}.score").exists(),
        "error": str(failure.value),
    }
    run(sources.from_source_file(spec), warehouse=full, extra_vars=VARS)
    run(sources.from_source_file(spec), warehouse=appended, extra_vars=VARS, append=True)
    con = duckdb.connect(str(appended), read_only=True)
    try:  # read now: a later test appends again
        touched = con.execute("select customer_id from intermediate.int_customers_touched")
        recomputed = set(touched.fetchall())
    finally:
        con.close()
    after_failure["score reads"] = score_reads
    return full, appended, data, spec, (scored, recomputed), after_failure


def test_append_gives_the_marts_of_a_full_rebuild(runs):
    full, appended, _data, _spec, (_scored, touched), _failure = runs
    expected, got = _tables(full), _tables(appended)
    assert sorted(got) == sorted(expected)
    differing = []
    for name, rows in expected.items():
        other = got[name]
        same = len(rows) == len(other) and all(
            len(r) == len(o) and all(_same(x, y) for x, y in zip(r, o, strict=True))
            for r, o in zip(rows, other, strict=True)
        )
        if not same:
            differing.append(f"{name} ({len(rows)} vs {len(other)} rows)")
    assert differing == []
    # the append run really was incremental: only part 2's customers were recomputed
    con = duckdb.connect(str(appended), read_only=True)
    try:
        everyone = con.execute(
            "select count(distinct customer_id) from staging.stg_customer_data__transactions"
        ).fetchone()[0]
        batches = con.execute(
            "select table_name, batch, count(*) from raw.loaded_files group by 1, 2 order by 1, 2"
        ).fetchall()
        balanced = con.execute("select bool_and(is_balanced) from marts.row_accounting").fetchone()
        unlike_segment_scores = con.execute(
            "select count(*) from marts.segment_scores_touched as touched "
            "left join marts.segment_scores as scores using (customer_id) "
            "where scores.stable_segment_id is distinct from touched.stable_segment_id"
        ).fetchone()
    finally:
        con.close()
    assert 0 < len(touched) < everyone
    assert ("transactions", 1, 1) in batches and ("customers", 0, 1) in batches
    assert balanced == (True,)
    assert unlike_segment_scores == (0,)


def test_append_skips_files_already_loaded(runs, caplog):
    _full, appended, _data, spec, _scored, _failure = runs
    caplog.set_level("INFO", logger="customer_chunks")
    run(sources.from_source_file(spec), warehouse=appended, extra_vars=VARS, append=True)
    skipped = [r.getMessage() for r in caplog.records if "skipped: already loaded" in r.message]
    assert len(skipped) == 7  # 3 tables x 2 parts + customers.csv
    con = duckdb.connect(str(appended), read_only=True)
    try:
        touched = con.execute("select count(*) from intermediate.int_customers_touched").fetchone()
        rows = con.execute("select max(batch) from raw.loaded_files").fetchone()
    finally:
        con.close()
    assert touched == (0,)  # nothing new, same dates: nobody recomputed
    assert rows == (1,)


def test_append_refuses_a_changed_file(runs):
    _full, appended, data, spec, _scored, _failure = runs
    part = data / "web_events_2.csv"
    original = part.read_bytes()
    try:
        part.write_bytes(original + original.splitlines(keepends=True)[-1])
        with pytest.raises(InputError, match=r"web_events_2\.csv: this file was loaded .* changed"):
            run(sources.from_source_file(spec), warehouse=appended, extra_vars=VARS, append=True)
    finally:
        part.write_bytes(original)


def test_score_rescores_exactly_the_customers_with_new_rows(runs):
    """score on the first run's warehouse with part 2 new: a customer has changed when
    part 2 has a row for them, not when only the date moved. Every changed customer with
    a purchase is scored, with the segment and distance `score --all` (the SQL
    assignment of everyone, against the same fit and as_of) gives them; nobody else is,
    though the moved as_of changes other customers' segments too."""
    _full, _appended, data, _spec, ((changed, everyone, first_scores), touched), _ = runs
    in_part_2 = {
        customer_id
        for (customer_id,) in duckdb.sql(
            "select distinct trim(customer_id) from read_csv("
            f"'{data}/*_2.csv', all_varchar = true, union_by_name = true) "
            "where nullif(trim(customer_id), '') is not null"
        ).fetchall()
    }
    purchasers = set(everyone)  # score --all: every customer with a purchase
    assert set(changed) == in_part_2 & purchasers
    assert 0 < len(changed) < len(purchasers)
    assert {c: everyone[c] for c in changed} == changed
    # customers the append run recomputed only because the dates moved: not changed
    moved_only = {c for (c,) in touched} & purchasers - in_part_2
    assert moved_only
    assert not moved_only & set(changed)
    # and some of them would get another segment at the new as_of: the rule matters
    assert any(everyone[c][0] != first_scores.get(c) for c in purchasers - in_part_2)


def test_score_copies_what_its_models_read_and_do_not_build(runs):
    """score's scratch warehouse holds the relations of SCORE_COPIED and the raw tables:
    the models it builds read nothing else (a relation they read and the scratch lacks
    would fail the score; one read through a macro is in dbt's depends_on too)."""
    *_, after_failure = runs
    read = after_failure["score reads"]
    raw = {f"source:{table}" for table in CONTRACT}
    raw |= {"source:append_watermarks", "source:append_state", "source:load_manifest"}
    assert {"marts.segment_centroids", "source:transactions"} <= read
    assert sorted(read - raw - set(SCORE_COPIED)) == []


def test_score_of_a_warehouse_without_the_stored_fit_says_so(runs, tmp_path):
    """A warehouse lacking a table score copies (published by an older version, or
    damaged): one line naming the table and the fix, raised while dbt is still parsing
    (the child is stopped), and no scratch warehouse left behind."""
    full, _appended, _data, spec, *_ = runs
    old = tmp_path / full.name
    shutil.copyfile(full, old)
    con = duckdb.connect(str(old))
    con.execute("drop table marts.segment_centroids")
    con.close()
    with pytest.raises(CustomerChunksError, match="segment_centroids.*Fix: run") as error:
        score(sources.from_source_file(spec), old, tmp_path / "scores.parquet")
    assert "\n" not in str(error.value)
    assert not (tmp_path / f".{old.name}.score").exists()
    assert not (tmp_path / "scores.parquet").exists()


def test_a_failed_score_leaves_the_warehouse_as_it_was(runs):
    """A score that fails in dbt (an as_of that is no date) after the new rows were
    loaded into its scratch warehouse: the published warehouse is byte for byte the same,
    the scratch warehouse is gone, no scores file is written, and the error names the node."""
    *_, after_failure = runs
    assert after_failure["unchanged"]
    assert not after_failure["scores written"]
    assert not after_failure["scratch left"]
    assert "int_run_parameters" in after_failure["error"]
