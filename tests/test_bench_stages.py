"""bench/stages.py: a run's wall time and memory split into stages from dbt's
run_results.json + manifest.json and the run's output lines (no dbt run needed)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

import pytest

from support import ROOT

sys.path.insert(0, str(ROOT))  # bench/ is a folder of the checkout, not in the package
from bench import stages  # noqa: E402
from bench.stages import StageTracker, read_dbt_nodes  # noqa: E402

STARTED_AT = 1_800_000_000.0  # the run's wall-clock start (seconds since the epoch)
MIB = stages.MIB

# (unique_id, schema, name, language, materialized, start, end) on the run's clock
NODES = [
    ("seed.cc.rfm_segments", "marts", "rfm_segments", None, "seed", 5.0, 5.5),
    ("model.cc.stg_x__orders", "staging", "stg_x__orders", "sql", "view", 6.0, 16.0),
    (
        "model.cc.int_customer_features",
        "intermediate",
        "int_customer_features",
        "sql",
        "table",
        16.5,
        26.5,
    ),  # fmt: skip
    ("test.cc.not_null_orders_id.abc", None, "not_null_orders_id", None, "test", 26.5, 27.0),
    (
        "model.cc.ml_segmentation_run",
        "ml",
        "ml_segmentation_run",
        "python",
        "table",
        27.0,
        47.0,
    ),  # fmt: skip
    (
        "model.cc.int_customers_clv_summary",
        "intermediate",
        "int_customers_clv_summary",
        "sql",
        "table",
        47.0,
        50.0,
    ),  # fmt: skip
    ("model.cc.ml_clv_scores", "ml", "ml_clv_scores", "python", "table", 50.0, 54.0),
    ("model.cc.ml_high_value_run", "ml", "ml_high_value_run", "python", "table", 54.0, 64.0),
    ("model.cc.dim_customers", "marts", "dim_customers", "sql", "table", 64.0, 66.0),
    ("unit_test.cc.dim_customers.t1", None, "t1", None, None, 66.0, 66.5),
    ("exposure.cc.dashboard", None, "dashboard", None, None, 66.5, 66.6),
]


def _ts(seconds: float) -> str:
    when = datetime.fromtimestamp(STARTED_AT + seconds, UTC)
    return when.isoformat().replace("+00:00", "Z")


def _write_target(path, invocation_offset: float = 2.0) -> None:
    path.mkdir(parents=True, exist_ok=True)
    results, manifest = [], {"nodes": {}, "unit_tests": {}, "exposures": {}}
    for uid, schema, name, language, materialized, start, end in NODES:
        results.append(
            {
                "unique_id": uid,
                "status": "success",
                "execution_time": end - start - 0.05,
                "timing": [
                    {"name": "compile", "started_at": _ts(start), "completed_at": _ts(start)},
                    {"name": "execute", "started_at": _ts(start), "completed_at": _ts(end)},
                ],
            }
        )
        entry = {"name": name, "resource_type": uid.split(".")[0], "schema": schema}
        if language:
            entry["language"] = language
            entry["config"] = {"materialized": materialized}
        home = {"unit_test": "unit_tests", "exposure": "exposures"}.get(uid.split(".")[0])
        manifest[home or "nodes"][uid] = entry
    meta = {"invocation_started_at": _ts(invocation_offset)}
    (path / "run_results.json").write_text(json.dumps({"metadata": meta, "results": results}))
    (path / "manifest.json").write_text(json.dumps(manifest))


LINES = [
    (0.5, "08:00:00 step 1/3: check and load the inputs"),
    (1.0, "08:00:01 loaded transactions: 1,234 rows from x.parquet (0.4 s)"),
    (2.0, "08:00:02 dbt build (vars {}; full log: logs/dbt.log)"),
    (16.0, "08:00:16 dbt 2/11 stg_x__orders OK 10.0 s"),
    (30.0, "08:00:30   [customer_chunks.ml] k search (K-Means and Ward at each k): 900 rows ..."),
    (
        40.0,
        "08:00:40   [customer_chunks.ml] k search (K-Means and Ward at each k): 900 rows, "
        "done in 9.8 s",
    ),  # fmt: skip
    (51.0, "08:00:51   [customer_chunks.ml] clv scores: 900 rows ..."),
    (53.0, "08:00:53   [customer_chunks.ml] clv scores: 900 rows, done in 2.0 s"),
    (68.0, "08:01:08 dbt build passed in 66 s (260 pass)"),
    (68.5, "08:01:08 step 3/3: checkpoint, verify and publish"),
]
WALL = 70.0


def _tracker(tmp_path, invocation_offset: float = 2.0) -> StageTracker:
    _write_target(tmp_path / "target", invocation_offset)
    tracker = StageTracker(first_stage=stages.LOAD)
    for elapsed, text in LINES:
        tracker.line(elapsed, text)
    for tenth in range(int(WALL * 10)):  # 100 MiB, 2 GiB inside the segmentation fit
        elapsed = tenth / 10
        tracker.sample(elapsed, (2048 if 35.0 <= elapsed < 36.0 else 100) * MIB)
    nodes, why = read_dbt_nodes(tmp_path / "target", STARTED_AT)
    if why:
        tracker.notes.append(why)
    tracker.finish(WALL, nodes)
    return tracker


def test_stages_follow_dbt_nodes_and_add_up_to_the_wall_time(tmp_path):
    tracker = _tracker(tmp_path)
    table = {row["stage"]: row for row in tracker.stage_table()}
    assert sum(row["seconds"] for row in table.values()) == pytest.approx(WALL, abs=0.05)
    assert tracker.notes == []
    expected = {
        stages.LOAD: 2.0,  # until "dbt build (vars"
        stages.DBT_START: 3.0,  # until the first node starts at 5.0
        stages.SEEDS: 0.5,
        stages.STAGING: 10.0,
        stages.FEATURES: 10.0,
        stages.TESTS: 0.5 + 0.5,  # the data test and the unit test
        stages.ML_SEGMENTATION: 20.0,
        stages.CLV: 3.0 + 4.0,  # the CLV summary SQL and the CLV Python model
        stages.ML_HIGH_VALUE: 10.0,
        stages.MARTS: 2.0,
        # gaps between nodes (5.5-6.0, 16.0-16.5) and the exposure (66.5-66.6)
        stages.DBT_OVERHEAD: 0.5 + 0.5 + 0.1,
        stages.DBT_WRAP_UP: 68.5 - 66.6,
        stages.PUBLISH: WALL - 68.5,
    }
    assert {stage: row["seconds"] for stage, row in table.items()} == pytest.approx(
        expected, abs=0.01
    )
    assert stages.OTHER not in table
    assert table[stages.ML_SEGMENTATION]["peak_mib"] == 2048
    assert table[stages.STAGING]["peak_mib"] == 100
    assert tracker.loaded == {"transactions": {"rows": 1234, "seconds": 0.4}}


def test_nodes_and_ml_steps_are_named_and_placed_in_their_stage(tmp_path):
    tracker = _tracker(tmp_path)
    nodes = {n["name"]: n for n in tracker.node_table()}
    assert nodes["staging.stg_x__orders"]["kind"] == "sql view model"
    assert nodes["ml.ml_segmentation_run"]["kind"] == "python table model"
    assert nodes["ml.ml_segmentation_run"]["seconds"] == pytest.approx(20.0, abs=0.01)
    assert nodes["ml.ml_segmentation_run"]["peak_mib"] == 2048
    assert nodes["intermediate.int_customers_clv_summary"]["stage"] == stages.CLV
    assert nodes["not_null_orders_id"]["kind"] == "test"
    assert nodes["dashboard"]["stage"] == stages.DBT_OVERHEAD
    steps = {s["name"]: s for s in tracker.step_table()}
    k_search = steps["k search (K-Means and Ward at each k)"]
    assert (k_search["stage"], k_search["reported_seconds"], k_search["rows"]) == (
        stages.ML_SEGMENTATION,
        9.8,
        900,
    )
    assert k_search["peak_mib"] == 2048
    assert steps["clv scores"]["stage"] == stages.CLV


def test_results_of_an_earlier_run_are_not_used(tmp_path):
    tracker = _tracker(tmp_path, invocation_offset=-600.0)
    assert len(tracker.notes) == 1 and "earlier run" in tracker.notes[0]
    table = {row["stage"]: row["seconds"] for row in tracker.stage_table()}
    assert tracker.node_table() == []
    # dbt's whole time is one honest "not split" stage, never start-up alone
    assert table == pytest.approx(
        {stages.LOAD: 2.0, stages.DBT_UNSPLIT: 68.5 - 2.0, stages.PUBLISH: WALL - 68.5},
        abs=0.01,
    )


def test_missing_results_are_a_note(tmp_path):
    nodes, why = read_dbt_nodes(tmp_path / "nowhere", STARTED_AT)
    assert nodes == [] and "no dbt results" in why


def _disk_tracker(tmp_path) -> StageTracker:
    """The same run, with the disk sampled every second: DuckDB spills 500 MiB inside
    int_customer_features (16.5-26.5 s), the build file grows 10 MiB a second."""
    _write_target(tmp_path / "target")
    tracker = StageTracker(first_stage=stages.LOAD)
    for elapsed, text in LINES:
        tracker.line(elapsed, text)
    for second in range(int(WALL)):
        temp = 500 * MIB if 20 <= second <= 24 else 0
        tracker.disk_sample(float(second), temp, second * 10 * MIB, (1000 - second) * MIB)
    nodes, _ = read_dbt_nodes(tmp_path / "target", STARTED_AT)
    tracker.finish(WALL, nodes)
    return tracker


def test_spill_is_placed_in_the_node_and_stage_that_spilled(tmp_path):
    tracker = _disk_tracker(tmp_path)
    nodes = {n["name"]: n for n in tracker.node_table()}
    features = nodes["intermediate.int_customer_features"]
    assert features["peak_temp_mib"] == 500
    assert features["peak_database_mib"] == 260  # the last sample inside it, at 26 s
    assert features["least_free_disk_mib"] == 1000 - 26
    assert nodes["staging.stg_x__orders"]["peak_temp_mib"] == 0
    assert nodes["ml.ml_segmentation_run"]["peak_temp_mib"] == 0
    table = {row["stage"]: row for row in tracker.stage_table()}
    assert table[stages.FEATURES]["peak_temp_mib"] == 500
    assert table[stages.STAGING]["peak_temp_mib"] == 0
    assert table[stages.PUBLISH]["peak_database_mib"] == 690


def test_without_disk_samples_there_are_no_disk_columns(tmp_path):
    tracker = _tracker(tmp_path)
    assert not any("peak_temp_mib" in row for row in tracker.stage_table())
    assert not any("peak_temp_mib" in node for node in tracker.node_table())


def test_disk_sampler_sees_a_spill_file_and_the_build_file(tmp_path):
    from bench.measure import DiskSampler

    database = tmp_path / "w.duckdb"
    database.write_bytes(b"x" * 300_000)
    spill = tmp_path / "w.duckdb.tmp"
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"y" * 2_000_000)
    seen = []
    with DiskSampler(database, spill, lambda *s: seen.append(s), every=0.05) as sampler:
        while len(seen) < 2:
            time.sleep(0.01)
    assert sampler.peak_temp >= 2_000_000
    assert sampler.peak_database >= 300_000
    assert all(free > 0 for _, _, _, free in seen)


def test_run_measured_counts_a_descendant_nobody_reaps(tmp_path):
    """A grandchild that the child never waits for (as pyspark never waits for its JVM)
    is part of the measured tree's CPU, not of "other processes"."""
    from bench.measure import run_measured

    done = tmp_path / "done"
    grandchild = (
        "import pathlib, time\n"
        "while time.process_time() < 0.6:\n"
        "    pass\n"
        f"pathlib.Path({str(done)!r}).touch()\n"
        "time.sleep(1.0)\n"  # alive while the sampler records its final CPU time
    )
    child = (
        "import pathlib, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {grandchild!r}], stdout=subprocess.DEVNULL)\n"
        f"while not pathlib.Path({str(done)!r}).exists():\n"
        "    time.sleep(0.05)\n"
        "time.sleep(0.6)\n"  # then exit without waiting for it
    )
    result = run_measured([sys.executable, "-c", child], timeout=120)
    assert result.ok, result.detail
    assert result.cpu_seconds >= 0.6
