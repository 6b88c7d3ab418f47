"""Build hook: ship the dbt project and the reports inside the wheel.

Everything else is declared in pyproject.toml. The dbt project (dbt_project.yml,
profiles.yml, models, Python models, macros, seeds, the dbt tests) and reports/ live at
the top of the checkout, where dbt and analysts expect them; a wheel gets a copy as
``customer_chunks/_project`` so an installed package runs from any directory
(:func:`customer_chunks.project.project_dir` looks there first). An editable install
needs no copy: the checkout is the project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# What dbt and the report builder read, relative to the checkout.
PROJECT_FILES = ["dbt_project.yml", "profiles.yml"]
PROJECT_DIRS = ["models", "python_models", "macros", "seeds", "tests/dbt", "reports"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.duckdb*")


class BuildPyWithProject(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / "customer_chunks" / "_project"
        shutil.rmtree(dest, ignore_errors=True)
        for name in PROJECT_FILES:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
        for name in PROJECT_DIRS:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, dest / name, ignore=SKIP)


setup(cmdclass={"build_py": BuildPyWithProject})
