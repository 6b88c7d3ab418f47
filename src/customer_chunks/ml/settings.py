"""Settings of the ML dbt Python models: dbt vars, passed through model config.

A var's default lives in dbt_project.yml only. The model YAML sets each config key from
``var(...)`` (lists through ``tojson``), so a Python model receives it as text; the
functions here parse that text and never supply a default of their own: a key that is
not configured is an error naming the key and where to set it.
"""

from __future__ import annotations

import json
from typing import Any

_NULL_TEXT = {"", "none", "null"}


def _raw(dbt: Any, key: str) -> str | None:
    raw = dbt.config.get(key)
    if raw is None or str(raw).strip().lower() in _NULL_TEXT:
        return None
    return str(raw)


def required(dbt: Any, key: str, cast: type) -> Any:
    """The config value ``key`` cast to ``cast`` (``list`` parses JSON); error when unset."""
    raw = _raw(dbt, key)
    if raw is None:
        raise ValueError(
            f"model config {key!r} is not set: set it from var('{key}') in "
            "python_models/ml/_ml__models.yml (its default lives in dbt_project.yml vars)"
        )
    return _cast(raw, key, cast)


def optional(dbt: Any, key: str, cast: type) -> Any:
    """Like :func:`required`, but a var that is null gives None (e.g. ``force_k``)."""
    raw = _raw(dbt, key)
    return None if raw is None else _cast(raw, key, cast)


def _cast(raw: str, key: str, cast: type) -> Any:
    if cast is str:
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"model config {key!r} = {raw!r} is not valid JSON ({error})") from None
    if cast is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"model config {key!r} must be a list of names, got {raw!r}")
        return value
    return cast(value)
