"""The wheel carries everything dbt and the reports read, and the package finds it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from support import ROOT


def setup_module_lists() -> tuple[list[str], list[str]]:
    """PROJECT_FILES and PROJECT_DIRS from setup.py, read without running setup()."""
    source = (ROOT / "setup.py").read_text()
    namespace: dict = {}
    exec(source[source.index("PROJECT_FILES =") : source.index("SKIP =")], namespace)
    return namespace["PROJECT_FILES"], namespace["PROJECT_DIRS"]


def test_wheel_ships_every_path_dbt_project_yml_reads():
    files, dirs = setup_module_lists()
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    read_by_dbt = {
        path
        for key in ("model-paths", "seed-paths", "macro-paths", "test-paths", "analysis-paths")
        for path in project.get(key, [])
        if (ROOT / path).exists()
    }
    missing = read_by_dbt - set(dirs)
    assert not missing, f"setup.py PROJECT_DIRS lacks {sorted(missing)} from dbt_project.yml"
    assert {"dbt_project.yml", "profiles.yml"} <= set(files)
    assert "reports" in dirs
    for path in [*files, *dirs]:
        assert (ROOT / path).exists(), path


def test_packaged_project_is_found_from_any_directory(tmp_path):
    """A package whose _project folder holds the dbt project uses it, wherever it runs."""
    site = tmp_path / "site"
    package = site / "customer_chunks"
    shutil.copytree(
        ROOT / "src" / "customer_chunks", package, ignore=shutil.ignore_patterns("_project")
    )
    project = package / "_project"
    project.mkdir()
    (project / "dbt_project.yml").write_text((ROOT / "dbt_project.yml").read_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from customer_chunks.project import project_dir, project_vars; "
            "import customer_chunks.run as r; "
            "print(project_dir()); print(r._state_dir()); print(sorted(project_vars()))",
        ],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0] == str(project.resolve())
    assert out[1] == str(elsewhere.resolve())  # target/ and logs/ go to the working dir
    assert "k_max" in out[2]
