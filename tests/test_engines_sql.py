"""Engine-portability checks that need no engine: type names written once per engine,
the postgres target's connection settings, and the loader's one-line errors."""

from __future__ import annotations

import re

import jinja2
import pytest
import yaml

from customer_chunks import cli, engines

from support import ROOT

ADAPTERS = ["duckdb", "postgres", "spark"]


def _type_double_by_adapter() -> dict[str, str]:
    """What macros/type_double.sql gives on each adapter (default__ where none is named)."""
    text = (ROOT / "macros" / "type_double.sql").read_text()
    bodies = dict(
        re.findall(r"macro (\w+)__type_double\(\) -%}\s*(.*?)\s*{%- endmacro", text, re.S)
    )
    return {adapter: bodies.get(adapter, bodies["default"]) for adapter in ADAPTERS}


def _render(expression: str, adapter: str) -> str:
    return jinja2.Template(expression).render(target={"type": adapter})


def _anchors(path, name: str) -> str:
    """The text of YAML anchor &name in ``path`` (the quoted Jinja expression)."""
    match = re.search(rf'&{name} "([^"]+)"', path.read_text())
    assert match, f"{path.name} has no anchor &{name}"
    return match.group(1)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_contract_double_type_agrees_with_the_type_double_macro(adapter):
    marts = ROOT / "models" / "marts" / "_marts__models.yml"
    rendered = _render(_anchors(marts, "double_type"), adapter)
    assert rendered == _type_double_by_adapter()[adapter]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_text_type_is_string_on_spark_only(adapter):
    expected = "string" if adapter == "spark" else "varchar"
    marts = ROOT / "models" / "marts" / "_marts__models.yml"
    seeds = ROOT / "seeds" / "_seeds.yml"
    assert _render(_anchors(marts, "string_type"), adapter) == expected
    assert _render(_anchors(seeds, "text"), adapter) == expected


def test_no_engine_specific_type_is_spelled_out_in_yaml():
    """A new `data_type: varchar` or `double` would break Spark or Postgres: YAML files
    use the anchors instead (types every engine spells alike are fine)."""
    offenders = []
    for path in [*ROOT.glob("models/**/*.yml"), *ROOT.glob("seeds/*.yml")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(
                r"(data_type|: )\s*(varchar|double|text|string)\s*[,}]?\s*$", line
            ) or re.search(r"\b\w+: (varchar|double)\b(?! precision)[,}]", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, offenders


def test_marts_yaml_anchors_resolve_for_every_column():
    """Every contract column of the marts has a data type after the anchors resolve."""
    doc = yaml.safe_load((ROOT / "models" / "marts" / "_marts__models.yml").read_text())
    for model in doc["models"]:
        if (model.get("config") or {}).get("contract", {}).get("enforced"):
            for column in model["columns"]:
                assert column.get("data_type"), f"{model['name']}.{column['name']}"


def test_pg_env_from_a_url():
    env = engines.pg_env("postgresql://analyst:s3cret@db.example:6543/analytics")
    assert env == {
        "CUSTOMER_CHUNKS_PG_HOST": "db.example",
        "CUSTOMER_CHUNKS_PG_PORT": "6543",
        "CUSTOMER_CHUNKS_PG_USER": "analyst",
        "CUSTOMER_CHUNKS_PG_DBNAME": "analytics",
        "CUSTOMER_CHUNKS_PG_PASSWORD": "s3cret",
    }


def test_pg_env_rejects_another_scheme_without_showing_the_password():
    with pytest.raises(engines.EngineError) as info:
        engines.pg_env("mysql://analyst:s3cret@db/analytics")
    assert "s3cret" not in str(info.value)
    assert "postgresql://" in str(info.value)


def test_profile_postgres_target_reads_the_variables_pg_env_sets():
    """One home for the variable names: the profile reads exactly what pg_env writes."""
    profile = (ROOT / "profiles.yml").read_text()
    postgres = profile[profile.index("    postgres:") :]
    read = set(re.findall(r"env_var\('(CUSTOMER_CHUNKS_PG_\w+)'", postgres))
    assert read == set(engines.pg_env("postgresql://u:p@h:1/d"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "postgres"], "needs --url"),
        (["--target", "postgres", "--url", "http://example"], "is not a postgresql:// URL"),
    ],
)
def test_load_to_postgres_without_a_usable_url_is_one_line(tmp_path, capsys, argv, message):
    data = tmp_path / "data"
    data.mkdir()
    (data / "transactions.csv").write_text(
        "order_id,customer_id,ordered_at,product_id,category,quantity,unit_price\n"
        "o1,c1,2024-01-01 10:00:00,p1,Books,1,10\n"
    )
    code = cli.main(["load", "--data", str(data), "--warehouse", str(tmp_path / "w.duckdb"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_copying_from_a_warehouse_that_does_not_exist_is_one_clear_error(tmp_path):
    with pytest.raises(engines.EngineError, match="no such warehouse"):
        engines.load_target(tmp_path / "missing.duckdb", "spark")
