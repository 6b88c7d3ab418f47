"""Where the dbt project is, and the dbt vars it declares.

The dbt project (``dbt_project.yml``, models, macros, seeds, the dbt tests and the
reports) ships inside the wheel as package data (``customer_chunks/_project``, copied
there by ``setup.py`` at build time), so an installed package runs from any
directory. In a checkout (also an editable install) the project is the checkout itself.

The vars, their defaults and their help text have one home: the ``vars:`` block of
``dbt_project.yml``. :func:`project_vars` reads the keys, their defaults and the
comment lines above each key; the CLI builds ``--var`` and its ``--help`` from them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from customer_chunks.errors import CustomerChunksError, InputError

PACKAGED = Path(__file__).resolve().parent / "_project"
CHECKOUT = Path(__file__).resolve().parents[2]


def project_dir() -> Path:
    """The dbt project folder: $CUSTOMER_CHUNKS_PROJECT_DIR, else the copy shipped in the
    package, else the checkout this package sits in, else the working directory."""
    env = os.environ.get("CUSTOMER_CHUNKS_PROJECT_DIR")
    candidates = [Path(env)] if env else []
    candidates += [PACKAGED, CHECKOUT, Path.cwd()]
    for c in candidates:
        if (c / "dbt_project.yml").is_file():
            return c
    raise CustomerChunksError(
        "cannot find dbt_project.yml (the package was installed without its dbt project). "
        "Fix: reinstall customer-chunks, or set CUSTOMER_CHUNKS_PROJECT_DIR to a checkout."
    )


@dataclass(frozen=True)
class ProjectVar:
    """One dbt var: its name, its default in dbt_project.yml and its comment there."""

    name: str
    default: Any
    help: str


_KEY = re.compile(r"^(?P<indent>\s+)(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*:")


def _comments(text: str) -> dict[str, str]:
    """The comment lines directly above each top-level key of the ``vars:`` block."""
    helps: dict[str, str] = {}
    inside, indent, pending = False, None, []
    for line in text.splitlines():
        if not inside:
            inside = line.rstrip() == "vars:"
            continue
        if line.strip() and not line[0].isspace():
            break  # the next top-level section
        stripped = line.strip()
        here = len(line) - len(line.lstrip())
        if stripped.startswith("#"):
            if indent is None or here == indent:
                pending.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if match and (indent is None or len(match["indent"]) == indent):
            indent = len(match["indent"])
            helps[match["key"]] = " ".join(p for p in pending if p)
            pending = []
        elif not stripped:
            pending = []
    return helps


@cache
def _read_vars(path: Path) -> tuple[ProjectVar, ...]:
    text = path.read_text(encoding="utf-8")
    declared = (yaml.safe_load(text) or {}).get("vars") or {}
    helps = _comments(text)
    return tuple(ProjectVar(k, v, helps.get(k, "")) for k, v in declared.items())


def project_vars() -> dict[str, ProjectVar]:
    """The vars declared in dbt_project.yml, in file order."""
    return {v.name: v for v in _read_vars(project_dir() / "dbt_project.yml")}


def _kind(default: Any) -> str | None:
    """What a value of this var must be, judged from its default (None: anything)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, list):
        return "a list such as [a, b]"
    if isinstance(default, dict):
        return "a mapping such as {a: 1}"
    return None


def _fits(value: Any, default: Any) -> bool:
    if value is None or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, list | dict):
        return isinstance(value, type(default))
    return isinstance(value, str | int | float | bool)


def parse_var(assignment: str, declared: dict[str, ProjectVar] | None = None) -> tuple[str, Any]:
    """``"k_max=8"`` -> ``("k_max", 8)``: the value is read as a YAML scalar (``null``,
    ``true``, ``0.3``, ``2025-01-01`` stays text). Raises InputError (one line) for a
    missing ``=``, an unknown key (listing the valid ones) or a value of the wrong kind."""
    declared = project_vars() if declared is None else declared
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--var {assignment!r}: expected KEY=VALUE. Fix: e.g. --var k_max=8.")
    if key not in declared:
        raise InputError(
            f"--var {key}: unknown key. Valid keys (dbt_project.yml vars): {', '.join(declared)}."
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if not isinstance(value, str | int | float | bool | list | dict | type(None)):
        value = raw  # dates and times stay as written; dbt reads them as text
    check_var_value(key, value, f"--var {key}={raw}", declared)
    return key, value


def check_var_value(
    key: str, value: Any, where: str, declared: dict[str, ProjectVar] | None = None
) -> None:
    """Raise InputError (one line starting with ``where``) when ``key`` is not a declared
    var or ``value`` is not of the kind its default is."""
    declared = project_vars() if declared is None else declared
    if key not in declared:
        raise InputError(
            f"{where}: unknown key. Valid keys (dbt_project.yml vars): {', '.join(declared)}."
        )
    default = declared[key].default
    if not _fits(value, default):
        raise InputError(
            f"{where}: must be {_kind(default)} (default {default!r}). Fix: e.g. {key}: {default}."
        )


def contract_type(data_type: object, adapter: str = "duckdb") -> str:
    """A contract ``data_type`` from the models' YAML as dbt renders it on ``adapter``.

    Types spelled differently per engine are written in the YAML as Jinja (the
    ``&string_type`` / ``&double_type`` anchors in models/marts/_marts__models.yml, e.g.
    ``{{ 'string' if target.type == 'spark' else 'varchar' }}``); Python readers of the
    contracts (the lifecycle history copy, the test fixture) render them here.
    """
    text = str(data_type)
    if "{{" in text:
        import jinja2

        text = jinja2.Template(text).render(target={"type": adapter})
    return text.strip().lower()
