"""ML settings have one home: dbt_project.yml vars, passed through model config."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from customer_chunks.ml.settings import optional, required

from ml_helpers import project_vars

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "python_models" / "ml"


def _run_models() -> dict[str, dict]:
    spec = yaml.safe_load((MODELS / "_ml__models.yml").read_text())
    return {m["name"]: m.get("config", {}) for m in spec["models"] if m.get("config")}


@pytest.mark.parametrize("name", ["ml_segmentation_run", "ml_high_value_run"])
def test_every_config_key_is_a_var_and_read_literally(name) -> None:
    config = _run_models()[name]
    variables = project_vars()
    source = (MODELS / f"{name}.py").read_text()
    # dbt hands a Python model only the config keys its source reads with a literal
    # dbt.config.get("key"): a key read any other way arrives as None
    literal = set(re.findall(r'dbt\.config\.get\("(\w+)"\)', source))
    assert literal == set(config), (literal, set(config))
    for key, template in config.items():
        assert re.search(rf"var\('{key}'\)", template), (key, template)
        assert key in variables, key
    # no default is written in the model: every value goes through required/optional
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    names = {c.func.id for c in calls if isinstance(c.func, ast.Name)}
    assert "config_value" not in names and {"required"} <= names


def test_var_comments_say_what_each_ml_var_does() -> None:
    lines = (ROOT / "dbt_project.yml").read_text().splitlines()
    for key in ("segmentation_features", "recommended_algorithm", "k_min", "force_k"):
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:"))
        assert lines[index - 1].strip().startswith("#"), key


def test_required_and_optional_parse_rendered_text() -> None:
    assert required("k", "7", int) == 7
    assert required("f", '["recency_days", "monetary"]', list) == ["recency_days", "monetary"]
    assert required("a", "auto", str) == "auto"
    assert optional("force_k", "None", int) is None
    assert optional("force_k", "4", int) == 4
    with pytest.raises(ValueError, match="'k_max' is not set.*dbt_project.yml"):
        required("k_max", None, int)
    with pytest.raises(ValueError, match="must be a list of names"):
        required("segmentation_features", '"monetary"', list)
    with pytest.raises(ValueError, match="not valid JSON"):
        required("segmentation_features", "['monetary']", list)
