"""Publishing is all or nothing: a full disk, a time limit, a kill or a run with nothing
to segment ends with one clear error, the old warehouse intact and no dbt left running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from customer_chunks import run as run_module
from customer_chunks import sources
from customer_chunks.errors import BuildError
from customer_chunks.generate import generate
from customer_chunks.run import run

from support import ROOT, query

pytestmark = pytest.mark.e2e

HEADER = "order_id,customer_id,ordered_at,product_id,category,quantity,unit_price\n"
FINGERPRINT = """
    select (select count(*) from marts.dim_customers) as customers,
           (select round(sum(monetary), 2) from marts.dim_customers) as monetary,
           (select count(*) from information_schema.tables
             where table_catalog = current_database()) as tables
"""


def tiny_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"o{i},c{i % 40:02d},2024-0{1 + i % 6}-1{i % 9} 10:00:00,p{i % 5},x,{1 + i % 3},{5 + i % 7}.0"
        for i in range(200)
    ]
    (folder / "transactions.csv").write_text(HEADER + "\n".join(lines) + "\n")
    return folder


def dbt_processes(db_path: Path) -> list[int]:
    """Live processes whose environment points dbt at ``db_path``."""
    marker = f"CUSTOMER_CHUNKS_DB={db_path.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def building_file(warehouse: Path) -> Path:
    return warehouse.with_name(f".{warehouse.stem}.building{warehouse.suffix}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """2,000 generated customers and a good warehouse built from them (about 16 MB)."""
    data = tmp_path_factory.mktemp("publish_data")
    generate(n_customers=2000, seed=3, out_dir=data)
    good = tmp_path_factory.mktemp("publish_good") / "w.duckdb"
    run(sources.from_data_dir(data), warehouse=good)
    return data, good


@pytest.fixture
def small_disk(tmp_path):
    """A 96 MB tmpfs (needs root; skipped with the reason otherwise)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the full-disk tests mount a small tmpfs, which needs root on Linux")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_bytes: int = 0) -> None:
    """Write a ballast file until only ``leave_bytes`` are free on ``disk``."""
    free = shutil.disk_usage(disk).free - leave_bytes
    chunk = b"\0" * (1 << 20)
    with open(disk / "ballast", "ab") as handle:
        try:
            while free > 0:
                handle.write(chunk[: min(len(chunk), free)])
                free -= len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        except OSError:
            pass  # the disk is full: that is the point


def assert_old_warehouse_intact(warehouse: Path, before) -> None:
    assert query(warehouse, FINGERPRINT).equals(before)
    assert not building_file(warehouse).exists()
    assert not Path(str(building_file(warehouse)) + ".wal").exists()
    assert not Path(str(warehouse) + ".wal").exists()


def test_disk_full_during_publish_keeps_the_old_warehouse(demo, small_disk, monkeypatch):
    """dbt passed, but its last tables are only in the build file's .wal when the disk
    fills: the checkpoint fails, and the run must say so and publish nothing."""
    data, good = demo
    warehouse = small_disk / "w.duckdb"
    shutil.copy(good, warehouse)
    before = query(warehouse, FINGERPRINT)
    real_build = run_module.dbt_build

    def build_then_fill(db_path, dbt_vars, **kwargs):
        results = real_build(db_path, dbt_vars, **kwargs)
        # Leave 30 small tables (24 MB of random doubles; tables under one row group go
        # to the .wal, not the file) only in the .wal, as a dbt that could not
        # checkpoint does (the writer dies without checkpointing), then fill the disk.
        script = (
            "import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute(\"set checkpoint_threshold = '10GB'\"); "
            "con.execute('select setseed(0.5)'); "
            "[con.execute(f'create table marts.late_{i} as select random() as r "
            "from range(100000)') for i in range(30)]; "
            "os._exit(0)"
        )
        subprocess.run([sys.executable, "-c", script, str(db_path)], check=True)
        assert Path(str(db_path) + ".wal").stat().st_size > 20_000_000
        fill(small_disk)
        return results

    monkeypatch.setattr(run_module, "dbt_build", build_then_fill)
    with pytest.raises(BuildError) as caught:
        run(sources.from_data_dir(data), warehouse=warehouse)
    message = str(caught.value)
    assert "No space left on device" in message
    assert "was not changed" in message and "--warehouse" in message
    assert "\n" not in message
    assert_old_warehouse_intact(warehouse, before)


@pytest.mark.parametrize("free_mb", [2, 16])
def test_disk_full_during_load_or_build_keeps_the_old_warehouse(demo, small_disk, free_mb):
    """The disk fills wherever it fills (loading, dbt, checkpoint): either the run
    publishes a complete warehouse, or it fails naming the full disk and leaves the old
    one as it was. With 2 MB free it cannot succeed."""
    data, good = demo
    warehouse = small_disk / "w.duckdb"
    shutil.copy(good, warehouse)
    before = query(warehouse, FINGERPRINT)
    fill(small_disk, leave_bytes=free_mb * 1_000_000)
    try:
        run(sources.from_data_dir(data), warehouse=warehouse)
    except BuildError as exc:
        assert "No space left on device" in str(exc), str(exc)
        assert "was not changed" in str(exc)
        assert_old_warehouse_intact(warehouse, before)
    else:
        assert free_mb > 2, "a build cannot fit in 2 MB: the run should have failed"
        assert query(warehouse, FINGERPRINT).equals(before)  # same data, same result


def test_time_limit_stops_dbt_and_publishes_nothing(tmp_path):
    data = tiny_data(tmp_path / "data")
    warehouse = tmp_path / "w.duckdb"
    with pytest.raises(BuildError, match=r"did not finish within 2 s and was stopped"):
        run(sources.from_data_dir(data), warehouse=warehouse, timeout=2)
    assert dbt_processes(building_file(warehouse)) == []
    assert not warehouse.exists()
    assert not building_file(warehouse).exists()


def test_as_of_before_every_order_is_an_error_not_an_empty_warehouse(tmp_path):
    data = tiny_data(tmp_path / "data")
    warehouse = tmp_path / "w.duckdb"
    with pytest.raises(BuildError, match=r"no customer has a purchase before as_of 2020-01-01"):
        run(sources.from_data_dir(data), warehouse=warehouse, as_of="2020-01-01")
    assert not warehouse.exists()


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name
)
def test_stopping_the_run_stops_dbt(tmp_path, sig):
    data = tiny_data(tmp_path / "data")
    warehouse = tmp_path / "w.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "customer_chunks.cli", "run", "--data", str(data)]
        + ["--warehouse", str(warehouse)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not dbt_processes(building_file(warehouse)):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "dbt never started"
            time.sleep(0.2)
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGKILL:
        # The kernel kills the orphaned child (PR_SET_PDEATHSIG); give it a moment to go.
        for _ in range(50):
            if not dbt_processes(building_file(warehouse)):
                break
            time.sleep(0.2)
    else:
        assert code == 130
        assert "error: interrupted; the published warehouse was not changed." in proc.stderr.read()
        assert not building_file(warehouse).exists()
    assert dbt_processes(building_file(warehouse)) == []
    assert not warehouse.exists()
    # The lock is free: another run could start now.
    import fcntl

    with open(warehouse.with_name(f".{warehouse.stem}.lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_published_file_has_no_write_ahead_log(demo):
    _, good = demo
    assert not Path(str(good) + ".wal").exists()
    con = duckdb.connect(str(good), read_only=True)
    try:
        assert con.sql("select count(*) from marts.dim_customers").fetchone()[0] > 1000
    finally:
        con.close()
