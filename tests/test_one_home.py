"""Each fact about the published tables has one home: the marts' YAML (columns, types,
docs) and the seeds' column_types. These tests fail when a copy drifts from it:

* the ML outputs the pipeline returns against the marts that read them (every output
  read by a mart, every output column reaching one, the fallback outputs shaped like
  the normal ones), and the packed row round-tripping through DuckDB;
* the fake warehouse of the report tests against the declarations it is built from;
* the exposures against the tables they name (``bi_extracts`` names none: the export
  takes the whole marts schema);
* the report's table and column lists against the marts;
* the settings classes of the ML fits against dbt_project.yml's vars (a var's default
  lives there only; a setting that is not a var has its default in the class).

They read YAML and SQL text and run the ML pipeline on a few hundred customers: no dbt.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from fixtures.fake_warehouse import build_fake_warehouse
from fixtures.mart_contracts import (
    MARTS_DIR,
    ROOT,
    exposure_refs,
    mart_schema,
    mart_schemas,
    sql_refs,
)

from customer_chunks.contract import CONTRACT
from customer_chunks.ml.features import FEATURE_COLUMNS
from customer_chunks.ml.high_value import HighValueModel
from customer_chunks.ml.lifecycle import run_segmentation_over_time
from customer_chunks.ml.pipeline import run_high_value
from customer_chunks.ml.settings import HighValueSettings, SegmentationSettings, var_fields
from customer_chunks.ml_tables import pack

ML_DIR = ROOT / "python_models" / "ml"
# The package function behind each run model (python_models/ml/*_run.py).
RUNS = {"ml_segmentation_run": run_segmentation_over_time, "ml_high_value_run": run_high_value}
# The settings object each run model builds from its config (fields named as the vars).
SETTINGS = {"ml_segmentation_run": SegmentationSettings, "ml_high_value_run": HighValueSettings}
_ML_OUTPUT = re.compile(r"""ml_output\(\s*ref\(\s*'(\w+)'\s*\)\s*,\s*'(\w+)'\s*\)""")
# The package argument each dbt var reaches through the run models' config, besides the
# vars of the settings objects (SETTINGS).
VAR_ARGUMENTS = {"segment_match_max_distance": "max_distance", "refit": "refit"}
FAST = {"ml_sample_size": 300, "ml_bootstrap_resamples": 2, "high_value_trees": 10}


def _project_vars() -> dict:
    with (ROOT / "dbt_project.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["vars"]


def _run(run: str, *frames: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Call a run model's pipeline function as the model does: the dbt vars' values from
    dbt_project.yml (their home), made small and quiet for a test."""
    function, variables = RUNS[run], _project_vars()
    accepted = inspect.signature(function).parameters
    arguments = {
        argument: variables[var]
        for var, argument in VAR_ARGUMENTS.items()
        if var in variables and argument in accepted
    }
    fit = SETTINGS[run].from_vars(variables)
    fields = {field.name for field in dataclasses.fields(fit)}
    settings = dataclasses.replace(fit, **{k: v for k, v in FAST.items() if k in fields})
    return function(*frames, settings, **arguments, log=lambda _: None)


def _customers(n: int, seed: int) -> pd.DataFrame:
    """Customers in three groups with every feature and a horizon spend (half buy)."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    frame = pd.DataFrame({"customer_id": [f"C{i:05d}" for i in range(n)]})
    for j, feature in enumerate(FEATURE_COLUMNS):
        frame[feature] = rng.lognormal(1.0 + group * (1 + j % 3), 0.4, n)
    bought = rng.random(n) < 0.5
    frame["horizon_spend"] = np.where(bought, frame["monetary"] * rng.uniform(0.5, 1.5, n), 0.0)
    return frame


def _sql(name: str) -> str:
    """A mart's SQL without its comments (a column named only in a comment is not used)."""
    text = (MARTS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return re.sub(r"\{#.*?#\}|--[^\n]*", " ", text, flags=re.DOTALL)


def _mart_reads() -> dict[tuple[str, str], list[str]]:
    """(run model, output) -> the marts that read it with the ml_output macro."""
    reads: dict[tuple[str, str], list[str]] = {}
    for path in sorted(MARTS_DIR.glob("*.sql")):
        for run, output in _ML_OUTPUT.findall(path.read_text(encoding="utf-8")):
            reads.setdefault((run, output), []).append(path.stem)
    return reads


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


@pytest.fixture(scope="module")
def outputs() -> dict[str, dict[str, pd.DataFrame]]:
    """What each run model returns on a few hundred synthetic customers."""
    features = _customers(400, seed=0)
    scoring = _customers(200, seed=1).drop(columns=["horizon_spend"])
    return {
        "ml_segmentation_run": _run(
            "ml_segmentation_run", features.drop(columns=["horizon_spend"])
        ),
        "ml_high_value_run": _run("ml_high_value_run", features, scoring),
    }


@pytest.fixture(scope="module")
def fallback_outputs() -> dict[str, dict[str, pd.DataFrame]]:
    """What each run returns when it cannot fit: one customer; nobody buys in the horizon."""
    features = _customers(40, seed=0)
    nobody_buys = features.assign(horizon_spend=0.0)
    return {
        "ml_segmentation_run": _run(
            "ml_segmentation_run", features.head(1).drop(columns=["horizon_spend"])
        ),
        "ml_high_value_run": _run(
            "ml_high_value_run", nobody_buys, features.drop(columns=["horizon_spend"])
        ),
    }


def test_every_run_model_is_covered() -> None:
    assert {path.stem for path in ML_DIR.glob("*_run.py")} == set(RUNS)


def test_every_run_model_has_settings_and_the_fast_overrides_are_fields() -> None:
    assert set(SETTINGS) == set(RUNS)
    fields = {field.name for cls in SETTINGS.values() for field in dataclasses.fields(cls)}
    assert sorted(set(FAST) - fields) == []


@pytest.mark.parametrize("run", sorted(SETTINGS))
def test_settings_defaults_have_one_home(run: str) -> None:
    """A settings field without a default is a dbt var: it must be declared in
    dbt_project.yml (its default's one home), set from var() in the run model's config
    and read by the run model; a field with a default is not a var (else its default
    would live in two places, here and in dbt_project.yml)."""
    cls, variables = SETTINGS[run], _project_vars()
    names = var_fields(cls)
    defaulted = [f.name for f in dataclasses.fields(cls) if f.name not in names]
    assert sorted(set(names) - set(variables)) == [], "var fields not in dbt_project.yml"
    assert sorted(set(defaulted) & set(variables)) == [], "a var with a default here too"
    models = yaml.safe_load((ML_DIR / "_ml__models.yml").read_text(encoding="utf-8"))
    config = next(m for m in models["models"] if m["name"] == run)["config"]
    source = (ML_DIR / f"{run}.py").read_text(encoding="utf-8")
    for name in names:
        assert re.search(rf"var\('{name}'\)", str(config.get(name))), f"{run} config {name}"
        assert f'dbt.config.get("{name}")' in source, f"{run}.py does not read {name}"
    assert cls.from_vars(variables) == cls(**{name: variables[name] for name in names})


def test_high_value_settings_defaults_are_the_models_defaults() -> None:
    """HighValueModel (an estimator: its own keyword defaults) and HighValueSettings name
    the same tunables; their defaults must agree, or the pipeline and a direct use of the
    model would differ without anyone choosing it."""
    model = {
        name: parameter.default
        for name, parameter in inspect.signature(HighValueModel).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    settings = {f.name: f.default for f in dataclasses.fields(HighValueSettings)}
    shared = sorted(set(model) & set(settings))
    assert shared == ["cv_max_rows", "max_depth", "max_train_rows", "n_splits"]
    assert {k: model[k] for k in shared} == {k: settings[k] for k in shared}


def test_every_ml_output_is_read_by_a_mart_and_every_read_is_an_output(outputs) -> None:
    produced = {(run, name) for run, frames in outputs.items() for name in frames}
    read = set(_mart_reads())
    assert sorted(produced - read) == [], "outputs no mart reads (add a mart with ml_output)"
    assert sorted(read - produced) == [], "marts read outputs the pipeline does not return"


def test_every_output_column_reaches_its_mart(outputs) -> None:
    """A column the pipeline adds must be in the reading mart's contract (the cast-only
    marts select exactly their contract) or be used by the mart's SQL; otherwise it
    would be dropped without a word."""
    lost = []
    for (run, output), marts in _mart_reads().items():
        for mart in marts:
            used = set(mart_schema(mart).column_names) | _words(_sql(mart))
            lost += [f"{run}.{output}.{c} -> {mart}" for c in outputs[run][output] if c not in used]
    assert lost == []


def test_every_contract_column_of_an_ml_mart_comes_from_its_outputs(outputs) -> None:
    """For marts made only from ML outputs: each contract column is an output column or
    is named in the mart's SQL (computed or renamed there)."""
    unmade = []
    for path in sorted(MARTS_DIR.glob("*.sql")):
        refs = set(sql_refs(path))
        if not refs or not refs <= set(RUNS):
            continue
        available = _words(_sql(path.stem))
        for run, output in _ML_OUTPUT.findall(path.read_text(encoding="utf-8")):
            available |= set(outputs[run][output].columns)
        unmade += [
            f"{path.stem}.{c}" for c in mart_schema(path.stem).column_names if c not in available
        ]
    assert unmade == []


def test_fallback_outputs_have_the_columns_of_normal_ones(outputs, fallback_outputs) -> None:
    """The marts select the same columns whichever path the pipeline took."""
    # both runs did take a fallback, which they record in a note
    assert fallback_outputs["ml_segmentation_run"]["model_validation"]["note"].notna().all()
    assert fallback_outputs["ml_high_value_run"]["metrics"]["note"].notna().all()
    for run, frames in outputs.items():
        fallback = fallback_outputs[run]
        assert set(fallback) == set(frames), run
        for name, frame in frames.items():
            assert list(fallback[name].columns) == list(frame.columns), f"{run}.{name}"


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as Python objects, every kind of missing (NaN, NA, None) as None."""
    values = frame.reset_index(drop=True).astype(object)
    return values.where(values.notna(), None)


def test_packed_outputs_come_back_unchanged_through_duckdb(outputs, fallback_outputs) -> None:
    """The run model's row, read back as the ml_output macro does on DuckDB."""
    con = duckdb.connect()
    for case in (outputs, fallback_outputs):
        for run, frames in case.items():
            packed = pack(frames)
            assert packed.num_rows == 1
            assert packed.column_names == sorted(frames)
            # stored as dbt-duckdb stores a Python model's result (Arrow null -> integer)
            con.execute("create or replace table run_row as select * from packed")
            for name, frame in frames.items():
                back = con.execute(f'select unnest("{name}", recursive := true) from run_row').df()
                pd.testing.assert_frame_equal(_plain(back), _plain(frame), obj=f"{run}.{name}")
    con.close()


def test_pack_names_the_output_without_columns() -> None:
    with pytest.raises(ValueError, match="'broken' has no columns"):
        pack({"broken": pd.DataFrame()})


def test_fake_warehouse_has_the_declared_tables_columns_and_types(tmp_path: Path) -> None:
    path = build_fake_warehouse(tmp_path / "fake.duckdb", n_customers=200, seed=2)
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("show tables from marts").fetchall()]
        read_by_reports = set(exposure_refs()["segmentation_report"]) | set(
            exposure_refs()["segment_dashboard"]
        )
        assert set(tables) == read_by_reports
        for table in tables:
            described = con.execute(
                "select column_name, lower(data_type) from duckdb_columns() "
                "where schema_name = 'marts' and table_name = ? order by column_index",
                [table],
            ).fetchall()
            assert described == list(mart_schema(table).columns), table
            count = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            assert count > 0, f"fake marts.{table} is empty"
    finally:
        con.close()


def test_bi_extracts_lists_no_table_because_the_export_takes_the_whole_schema() -> None:
    """`customer-chunks export` writes every table of the marts schema, so the exposure
    names none: a list there would be one more place every new mart had to be added
    to, and it had drifted before (5 of 14). Its description says where the set comes
    from; this fails when a partial list creeps back in."""
    exposures = {
        exposure["name"]: exposure
        for path in sorted(MARTS_DIR.glob("*.yml"))
        for exposure in yaml.safe_load(path.read_text(encoding="utf-8")).get("exposures") or []
    }
    assert exposure_refs()["bi_extracts"] == []
    assert "Everything in the marts schema is exported" in exposures["bi_extracts"]["description"]


def test_every_mart_is_public_contracted_and_declared() -> None:
    schemas = mart_schemas()
    for path in sorted(MARTS_DIR.glob("*.sql")):
        schema = schemas.get(path.stem)
        assert schema is not None, f"{path.stem} has no YAML entry in models/marts"
        assert schema.access == "public", path.stem
        assert schema.contract_enforced, path.stem
        assert schema.columns, path.stem


def _report_common():
    spec = importlib.util.spec_from_file_location("report_common", ROOT / "reports" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_ml_tables_are_the_ml_marts_the_report_reads() -> None:
    ml_marts = {
        path.stem for path in MARTS_DIR.glob("*.sql") if set(sql_refs(path)) & set(RUNS)
    } - {"dim_customers"}
    reads = set(exposure_refs()["segmentation_report"]) & ml_marts
    assert sorted(_report_common().ML_TABLES) == sorted(reads)


def test_report_feature_lists_name_dim_customers_columns() -> None:
    common = _report_common()
    columns = set(mart_schema("dim_customers").column_names)
    named = set(common.LABELS) | {name for name, _ in common.KEY_FEATURES} | common.HEAVY_TAILED
    assert sorted(named - columns) == []


def test_sql_input_tables_are_the_contract_tables() -> None:
    """macros/input_tables.sql lists the tables the SQL unions over; the contract is
    their home, so a table added there and not here would be silently left out."""
    text = (ROOT / "macros" / "input_tables.sql").read_text(encoding="utf-8")
    listed = re.findall(r"'(\w+)'", re.search(r"return\(\[(.*?)\]\)", text).group(1))
    assert listed == list(CONTRACT)


def test_report_profiles_take_the_stable_ids_of_dim_customers(tmp_path: Path) -> None:
    """dim_customers.segment_id is the stable id, segment_profiles this fit's id: the
    report's profile table reads them through the same mapping, and keeps the fit's ids
    (is_stable_id False) when a fitted segment is not exactly one stable segment."""
    common = _report_common()
    path = build_fake_warehouse(tmp_path / "fake.duckdb", n_customers=200, seed=2)
    con = duckdb.connect(str(path))
    # a later run: the same groups under other stable ids and names than the fit's
    con.execute(
        "update marts.dim_customers set segment_id = 10 + kmeans_segment_id, "
        "segment_name = 'kept name ' || kmeans_segment_id"
    )
    con.close()
    wh = common.Warehouse(path)
    try:
        profiles, use = common.chosen_profiles(wh, "kmeans")
        assert use == "kmeans" and profiles["is_stable_id"].all()
        fit = wh.df("select segment_id from marts.segment_profiles where algorithm = 'kmeans'")
        assert sorted(profiles["segment_id"]) == sorted(10 + fit["segment_id"])
        assert (
            profiles["segment_name"] == "kept name " + (profiles["segment_id"] - 10).astype(str)
        ).all()
    finally:
        wh.close()
    con = duckdb.connect(str(path))
    con.execute("update marts.dim_customers set segment_id = 1 where kmeans_segment_id <= 2")
    con.close()
    wh = common.Warehouse(path)
    try:
        profiles, _ = common.chosen_profiles(wh, "kmeans")
        assert not profiles["is_stable_id"].any()
        assert sorted(profiles["segment_id"]) == sorted(fit["segment_id"])
    finally:
        wh.close()


def test_score_key_of_a_raw_row_is_the_staging_key() -> None:
    """score's scratch warehouse keeps the published raw rows whose customer key is a
    changed customer's (customer_chunks.run.RAW_CUSTOMER_KEY): the key every checked
    staging model computes, or a changed customer would be scored without some rows."""
    from customer_chunks.run import RAW_CUSTOMER_KEY

    checked = sorted((ROOT / "models" / "staging").rglob("base_*_checked.sql"))
    assert len(checked) == len(CONTRACT)
    for path in checked:
        keys = re.findall(r"(nullif\(.*\)) as customer_id", path.read_text(encoding="utf-8"))
        rendered = {
            k.replace("source.", "").replace("{{ dbt.type_string() }}", "varchar") for k in keys
        }
        assert rendered == {RAW_CUSTOMER_KEY}, path.name
