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
it as one object. :class:`HighValueSettings` does the same for the high-value model
(:func:`~customer_chunks.ml.pipeline.run_high_value`,
:func:`~customer_chunks.ml.pipeline.fit_high_value`, the run model and
``customer_chunks.spark_score``); its settings that are not dbt vars have their one
default here.

In both, a field without a default is a dbt var of the same name (read by
``from_config``/``from_vars``); a field with a default is not a var.
``tests/test_one_home.py`` fails when the two kinds mix up with dbt_project.yml.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

_NULL_TEXT = {"", "none", "null"}

MAX_TRAIN_ROWS = 200_000  # the high-value forest fits on at most this many customers


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
        return _from_config(cls, config)

    @classmethod
    def from_vars(cls, variables: Mapping[str, Any]) -> SegmentationSettings:
        """From dbt vars already parsed (e.g. dbt_project.yml's ``vars``, which may hold
        other vars too)."""
        return _from_vars(cls, variables)


@dataclasses.dataclass(frozen=True)
class HighValueSettings:
    """The settings of a high-value fit. The dbt vars, each field named as its var
    (defaults: the vars in dbt_project.yml; none here): ``high_value_top_share`` (the
    label is the top share of horizon spend), ``high_value_trees`` (trees in the
    forest) and ``random_state``. The rest are not vars; their defaults live here:

    * ``spend_column``: the training table's horizon spend column;
    * ``max_depth``: tree depth (None: unlimited, leaves of at least 10 customers);
    * ``n_splits``: cross-validation folds (lowered when a class has fewer customers);
    * ``max_train_rows``: the final forest fits on at most this many customers;
    * ``cv_max_rows``: each cross-validation forest on at most this many;
    * ``holdout_share``: share of the customers held out (at most 50,000) for the
      hold-out metrics, the probability threshold and the importances;
    * ``n_repeats``: shuffles per feature for the permutation importances.
    """

    high_value_top_share: float
    high_value_trees: int
    random_state: int
    spend_column: str = "horizon_spend"
    max_depth: int | None = None
    n_splits: int = 5
    max_train_rows: int = MAX_TRAIN_ROWS
    cv_max_rows: int = 50_000
    holdout_share: float = 0.2
    n_repeats: int = 5

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HighValueSettings:
        """From the texts the run model read with ``dbt.config.get(<var>)``, keyed by var
        (as :meth:`SegmentationSettings.from_config`); the other fields keep their
        defaults."""
        return _from_config(cls, config)

    @classmethod
    def from_vars(cls, variables: Mapping[str, Any]) -> HighValueSettings:
        """From dbt vars already parsed (e.g. dbt_project.yml's ``vars``); the other
        fields keep their defaults (``dataclasses.replace`` to change them)."""
        return _from_vars(cls, variables)


def var_fields(cls: type) -> list[str]:
    """The fields of a settings class that are dbt vars: those without a default."""
    return [
        field.name
        for field in dataclasses.fields(cls)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    ]


def _from_config(cls: type, config: Mapping[str, Any]) -> Any:
    return cls(**{key: _parse(key, value, hint) for key, value, hint in _keyed(cls, config)})


def _from_vars(cls: type, variables: Mapping[str, Any]) -> Any:
    return cls(**{name: variables[name] for name in var_fields(cls)})


def _keyed(cls: type, config: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    hints = typing.get_type_hints(cls)
    names = var_fields(cls)
    unknown = sorted(set(config) - set(names))
    if unknown:
        raise ValueError(
            f"model config {unknown[0]!r} is not a field of {cls.__name__} set from a dbt var"
        )
    return [(key, config.get(key), hints[key]) for key in names]


def _parse(key: str, value: Any, hint: Any) -> Any:
    """``value`` parsed as the type ``hint`` (``X | None``: optional; ``list[str]``: list)."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    cast = next(m for m in members if m is not type(None))
    cast = typing.get_origin(cast) or cast
    parse = optional if type(None) in members else required
    return parse(key, value, cast)
