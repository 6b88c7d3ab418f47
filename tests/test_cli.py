"""The CLI reaches every dbt var declared in dbt_project.yml, rejects bad settings in one
line before any work starts, and the README's vars table matches the project file."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from customer_chunks import cli
from customer_chunks.errors import InputError
from customer_chunks.project import ProjectVar, parse_var, project_vars

from support import ROOT

DECLARED = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]


def run_args(*argv: str):
    return cli.build_parser().parse_args(["run", "--data", "d", *argv])


def test_project_vars_are_the_dbt_project_vars_in_file_order():
    found = project_vars()
    assert list(found) == list(DECLARED)
    assert {k: v.default for k, v in found.items()} == DECLARED


def test_every_var_has_a_comment_line_above_it():
    missing = [name for name, var in project_vars().items() if not var.help]
    assert not missing, f"vars without a comment line above them in dbt_project.yml: {missing}"


def test_help_lists_every_var_with_its_default_and_comment():
    out = subprocess.run(
        [sys.executable, "-m", "customer_chunks.cli", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    flat = " ".join(out.split())
    for var in project_vars().values():
        default = "null" if var.default is None else var.default
        assert f"{var.name} (default {default})" in out
        assert " ".join(var.help.split()) in flat


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("k_max=8", ("k_max", 8)),
        ("high_value_top_share=0.3", ("high_value_top_share", 0.3)),
        ("high_value_top_share=1", ("high_value_top_share", 1)),
        ("force_k=null", ("force_k", None)),
        ("force_k=", ("force_k", None)),
        ("recommended_algorithm=dbscan", ("recommended_algorithm", "dbscan")),
        ("as_of=2025-01-31", ("as_of", "2025-01-31")),
    ],
)
def test_var_values_are_read_as_yaml_scalars(assignment, expected):
    assert parse_var(assignment) == expected


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("k_maxx=3", r"--var k_maxx: unknown key\. Valid keys .*k_max.*random_state"),
        ("k_max", r"expected KEY=VALUE"),
        ("k_max=abc", r"must be a whole number \(default 10\)"),
        ("k_max=2.5", r"must be a whole number"),
        ("high_value_top_share=lots", r"must be a number"),
    ],
)
def test_bad_var_is_one_line_error(assignment, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_var(assignment)
    assert "\n" not in str(caught.value)


def test_a_var_added_to_the_project_needs_no_cli_change():
    declared = {"clv_horizon_days": ProjectVar("clv_horizon_days", 365, "CLV horizon.")}
    assert parse_var("clv_horizon_days=180", declared) == ("clv_horizon_days", 180)
    with pytest.raises(InputError, match="Valid keys .*: clv_horizon_days"):
        parse_var("k_max=3", declared)


def test_aliases_and_vars_combine():
    args = run_args(
        "--var", "k_max=6", "--var", "random_state=3", "--k", "4", "--as-of", "2025-01-31"
    )
    assert cli.run_vars(args) == {
        "k_max": 6,
        "random_state": 3,
        "force_k": 4,
        "as_of": "2025-01-31",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--k", "0"], r"--k 0: .* at least 2"),
        (["--k", "1"], r"--k 1: .* at least 2"),
        (["--var", "force_k=0"], r"--var force_k 0: .* at least 2"),
        (["--k", "3", "--var", "force_k=4"], r"--k and --var force_k disagree"),
        (["--as-of", "2020-13-01"], r"is not a date"),
        (["--var", "as_of=yesterday"], r"is not a date"),
    ],
)
def test_bad_settings_fail_before_any_work(argv, message):
    with pytest.raises(InputError, match=message):
        cli.run_vars(run_args(*argv))


def test_cli_prints_one_error_line_and_exit_code_2(tmp_path, capsys):
    code = cli.main(["run", "--data", str(tmp_path), "--var", "nope=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: --var nope: unknown key")


def _readme_vars() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("| var | default | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.strip().splitlines()[1:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([a-z0-9_]+)`", cells[0])
        assert name, f"README vars table: one var per row, got {cells[0]!r}"
        rows[name.group(1)] = cells[1]
    return rows


def test_readme_vars_table_matches_dbt_project_yml():
    rows = _readme_vars()
    assert set(rows) == set(DECLARED), (
        f"README only: {sorted(set(rows) - set(DECLARED))}; "
        f"dbt_project.yml only: {sorted(set(DECLARED) - set(rows))}"
    )
    for name, default in DECLARED.items():
        if isinstance(default, list):  # shown whole, as YAML: [a, b]
            assert yaml.safe_load(rows[name]) == default, (name, rows[name], default)
            continue
        shown = "null" if default is None else str(default).lower()
        assert rows[name].split(" ", 1)[0].lower() == shown, (name, rows[name], default)


def test_a_bug_is_one_error_line_with_the_trace_on_disk(tmp_path, monkeypatch, capsys):
    """An exception that is not an input or build error (a bug) still prints one line,
    not a traceback, and keeps the trace in logs/ for the report."""

    def broken(_args):
        raise ZeroDivisionError("division by zero inside the pipeline")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "cmd_generate", broken)
    code = cli.main(["generate", "--customers", "10", "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert len(err) == 1, err
    assert err[0].startswith("error: unexpected ZeroDivisionError in `customer-chunks generate`")
    trace = tmp_path / "logs" / "customer-chunks-error.log"
    assert str(trace) in err[0]
    assert "Traceback" in trace.read_text() and "inside the pipeline" in trace.read_text()
