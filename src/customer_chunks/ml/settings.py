"""Settings of the ML dbt Python models: dbt vars, passed through model config.

A var's default lives in dbt_project.yml only. The model YAML sets each config key from
``var(...)`` (lists through ``tojson``), so a Python model receives it as text; the
functions here parse that text and never supply a default of their own: a key that is
not configured is an error naming the key and where to set it.

The model must call ``dbt.config.get("<key>")`` itself, with the key written out: dbt
reads a Python model's source for those calls and hands the model only the config keys
it finds there (a call hidden in a helper gets None).
"""

from __future__ import annotations

import json
from typing import Any

_NULL_TEXT = {"", "none", "null"}


def _raw(raw: Any) -> str | None:
    if raw is None or str(raw).strip().lower() in _NULL_TEXT:
        return None
    return str(raw)


def required(key: str, value: Any, cast: type) -> Any:
    """``value`` (from ``dbt.config.get(key)``) cast to ``cast`` (``list`` parses JSON);
    an error naming ``key`` when it is unset."""
    raw = _raw(value)
    if raw is None:
        raise ValueError(
            f"model config {key!r} is not set: set it from var('{key}') in "
            "python_models/ml/_ml__models.yml (its default lives in dbt_project.yml vars)"
        )
    return _cast(raw, key, cast)


def optional(key: str, value: Any, cast: type) -> Any:
    """Like :func:`required`, but a var that is null gives None (e.g. ``force_k``)."""
    raw = _raw(value)
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
