"""Settings of the ML dbt Python models: dbt vars, passed through model config.

A var's default lives in dbt_project.yml only. The model YAML sets each config key from
``var(...)`` (lists through ``tojson``), so a Python model receives it as text; the
functions here parse that text and never supply a default of their own: a key that is
not configured is an error naming the key and where to set it.

The model must call ``dbt.config.get("<key>")`` itself, with the key written out: dbt
reads a Python model's source for those calls and hands the model only the config keys
it finds there (a call hidden in a helper gets None).

:class:`SegmentationSettings` is the one list of the vars a segmentation fit takes,
named as the vars: the run model, :func:`~customer_chunks.ml.pipeline.run_segmentation`,
:func:`~customer_chunks.ml.lifecycle.run_segmentation_over_time` and the tests all pass
it as one object.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
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


@dataclasses.dataclass(frozen=True)
class SegmentationSettings:
    """The dbt vars of a segmentation fit, each field named as its var (defaults: the
    vars in dbt_project.yml; none here). ``force_k`` None lets the k rule choose;
    ``recommended_algorithm`` is ``auto`` or an algorithm to impose."""

    segmentation_features: list[str]
    k_min: int
    k_max: int
    force_k: int | None
    recommended_algorithm: str
    ml_sample_size: int
    ml_bootstrap_resamples: int
    random_state: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SegmentationSettings:
        """From the texts a Python model read with ``dbt.config.get(<var>)``, keyed by
        var: each parsed by its field's type (:func:`required`, or :func:`optional` for
        a field that may be None); a missing or unknown key is an error naming it."""
        return cls(**{key: _parse(key, value, hint) for key, value, hint in _keyed(cls, config)})

    @classmethod
    def from_vars(cls, variables: Mapping[str, Any]) -> SegmentationSettings:
        """From dbt vars already parsed (e.g. dbt_project.yml's ``vars``, which may hold
        other vars too)."""
        return cls(**{field.name: variables[field.name] for field in dataclasses.fields(cls)})


def _keyed(cls: type, config: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(config) - set(hints))
    if unknown:
        raise ValueError(f"model config {unknown[0]!r} is not a field of {cls.__name__}")
    return [(key, config.get(key), hint) for key, hint in hints.items()]


def _parse(key: str, value: Any, hint: Any) -> Any:
    """``value`` parsed as the type ``hint`` (``X | None``: optional; ``list[str]``: list)."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    cast = next(m for m in members if m is not type(None))
    cast = typing.get_origin(cast) or cast
    parse = optional if type(None) in members else required
    return parse(key, value, cast)
