"""ML settings have one home: dbt_project.yml vars, passed through model config."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from customer_chunks.ml.settings import (
    HighValueSettings,
    SegmentationSettings,
    optional,
    required,
    var_fields,
)

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
    names |= {c.func.attr for c in calls if isinstance(c.func, ast.Attribute)}
    assert "config_value" not in names and {"required", "from_config"} & names


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


def test_segmentation_settings_are_vars_parsed_by_their_field_types() -> None:
    """SegmentationSettings names the fit's vars once: each field is a var the run
    model is configured with, parsed from its rendered text by the field's type."""
    variables = project_vars()
    fields = [field.name for field in dataclasses.fields(SegmentationSettings)]
    assert set(fields) <= set(variables)
    assert set(fields) <= set(_run_models()["ml_segmentation_run"])
    texts = {
        key: "None" if variables[key] is None else json.dumps(variables[key]) for key in fields
    }
    texts["recommended_algorithm"] = variables["recommended_algorithm"]  # str: as rendered
    assert SegmentationSettings.from_config(texts) == SegmentationSettings.from_vars(variables)
    parsed = SegmentationSettings.from_config({**texts, "force_k": "4", "k_min": "3"})
    assert (parsed.force_k, parsed.k_min) == (4, 3)
    with pytest.raises(ValueError, match="'k_min' is not set"):
        SegmentationSettings.from_config({**texts, "k_min": None})
    with pytest.raises(ValueError, match="'k_mni' is not a field of SegmentationSettings"):
        SegmentationSettings.from_config({**texts, "k_mni": "3"})


def test_high_value_settings_parse_their_vars_and_keep_their_own_defaults() -> None:
    """HighValueSettings: the var fields parsed from the run model's config texts, the
    other fields at the class's defaults; a missing var or a key that is not a var field
    is an error naming it."""
    variables = project_vars()
    assert var_fields(HighValueSettings) == [
        "high_value_top_share",
        "high_value_trees",
        "random_state",
    ]
    texts = {key: json.dumps(variables[key]) for key in var_fields(HighValueSettings)}
    parsed = HighValueSettings.from_config(texts)
    assert parsed == HighValueSettings.from_vars(variables)
    assert parsed.high_value_trees == variables["high_value_trees"]
    assert (parsed.n_splits, parsed.spend_column) == (5, "horizon_spend")
    assert HighValueSettings.from_config({**texts, "high_value_trees": "7"}).high_value_trees == 7
    with pytest.raises(ValueError, match="'high_value_trees' is not set"):
        HighValueSettings.from_config({**texts, "high_value_trees": None})
    with pytest.raises(ValueError, match="'n_splits' is not a field of HighValueSettings"):
        HighValueSettings.from_config({**texts, "n_splits": "3"})
