"""The built-in report renderer: .qmd -> executed notebook -> HTML + PDF (no browser
needed), the timeouts on everything it waits for, and the HTML checked in Chromium
(skipped when Chromium is not installed)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from customer_chunks.reporting import (
    ReportError,
    build_notebook,
    parse_qmd,
    render,
    render_fallback,
)
from customer_chunks.reporting import kernel as kernel_module
from customer_chunks.reporting.pdf import compile_typst

import conftest_services

chromium_executable = conftest_services.chromium_executable
browser_check = conftest_services.browser_check

FIXTURE = Path(__file__).parent / "fixtures" / "report_smoke.qmd"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"

pytest.importorskip("nbclient", reason="nbclient is not installed")
pytest.importorskip("ipykernel", reason="ipykernel is not installed")


@pytest.fixture(scope="module")
def smoke_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "smoke.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        """
        create schema marts;
        create table marts.dim_customers as
        select
            i as customer_id,
            case when i % 10 < 1 then 'champions' when i % 10 < 4 then 'loyal'
                 when i % 10 < 8 then 'at risk' else 'new' end as segment_name,
            (i * 37 % 500)::double as monetary
        from range(200) as r(i)
        """
    )
    con.close()
    return path


@pytest.fixture(scope="module")
def rendered(smoke_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("report")
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("customer_chunks.reporting")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        paths = render_fallback(FIXTURE, out, {"warehouse": smoke_warehouse}, timeout=120)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return {"paths": paths, "log": lines, "html": paths["html"].read_text(encoding="utf-8")}


def test_parse_qmd_cells_and_options() -> None:
    doc = parse_qmd(FIXTURE.read_text(encoding="utf-8"))
    assert doc.title == "Smoke report"
    code = [c for c in doc.cells if c.cell_type == "code"]
    labels = [c.metadata["quarto"]["options"].get("label") for c in code]
    assert labels[:3] == [None, "load", "inline-markdown"]
    assert code[0].metadata["tags"] == ["parameters"]
    assert code[1].source.startswith("import duckdb")  # option lines stripped
    markdown = "\n".join(c.source for c in doc.cells if c.cell_type == "markdown")
    assert ":::" not in markdown and "{#sec-static}" not in markdown
    assert "> Values come from the **smoke** warehouse" in "\n".join(
        c.source for c in doc.cells if c.cell_type == "code"
    )

    nb = build_notebook(doc, {"warehouse": Path("x.duckdb")})
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    position = nb.cells.index(injected[0])
    assert "parameters" in nb.cells[position - 1].metadata["tags"]
    assert f"warehouse = {str(Path('x.duckdb').resolve())!r}" in injected[0].source
    tags = {
        c.metadata["quarto"]["options"].get("label"): c.metadata["tags"]
        for c in nb.cells
        if c.cell_type == "code"
    }
    assert "remove_input" in tags["load"]  # echo: false from the front matter
    assert "remove_input" not in tags["echo-shown"]


def test_html_is_self_contained(rendered: dict) -> None:
    html = rendered["html"]
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", html)
    assert re.search(r"<img[^>]+src=\"data:image/png;base64,", html)
    assert 'alt="Customers per segment (matplotlib)"' in html  # the fig-cap
    assert 'class="plotly-graph-div"' in html
    assert html.count("Plotly.newPlot") == 1
    assert "The warehouse holds 200 customers in 4 segments." in html
    assert "Customers per segment (matplotlib)" in html
    assert "echo visible: 200" in html
    assert "echo visible:&quot;" in html or 'echo visible:"' in html  # echo: true shows code
    assert "import duckdb" not in html  # echo: false hides code
    assert "must not run" not in html.split("echo visible: 200")[1]  # eval: false: no output
    assert "<title>Smoke report</title>" in html


def test_progress_is_logged(rendered: dict) -> None:
    log = rendered["log"]
    cells = [line for line in log if line.startswith("report: cell ")]
    # one line per code cell of the document (injected cells are not counted)
    assert cells[0] == "report: cell 1/8 line 11"
    assert "report: cell 2/8 load" in cells
    assert cells[-1] == "report: cell 8/8 line 86"  # eval: false, not run
    assert any(
        re.fullmatch(r"report: HTML report_smoke\.html [\d.]+ MB in [\d.]+ s", m) for m in log
    )
    assert any(re.fullmatch(r"report: PDF report_smoke\.pdf \d+ kB in [\d.]+ s", m) for m in log)


def test_pdf_is_written_with_every_figure(rendered: dict) -> None:
    pdf = rendered["paths"]["pdf"]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Smoke report" in text
    assert "Customers by segment" in text
    assert "echo visible: 200" in text
    assert "left out of the PDF" not in text
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    images = [line for line in images if line.split()[2] == "image"]  # not the alpha masks
    # the matplotlib bar chart and the plotly scatter, drawn by matplotlib without a browser
    assert len(images) == 2, images


def test_html_renders_in_chromium(rendered: dict, browser_check) -> None:
    shot = SCREENSHOTS / "report_smoke.png"
    result = browser_check(rendered["paths"]["html"], shot)
    assert result["problems"] == []
    assert result["ok"]
    assert len(result["plots"]) == 1
    assert all(p["svgs"] > 0 and p["traces"] > 0 for p in result["plots"])
    assert len(result["images"]) == 1
    assert all(i["naturalWidth"] > 0 for i in result["images"])
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_browser_check_flags_a_broken_page(tmp_path: Path, browser_check) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><div class='plotly-graph-div' id='p'></div>"
        "<img src='data:image/png;base64,AAAA'>"
        "<script src='https://cdn.example.invalid/x.js'></script>"
        "<script>undefinedFunction()</script></body></html>"
    )
    result = browser_check(page, timeout_ms=1500)
    assert not result["ok"]
    text = "\n".join(result["problems"])
    assert "blocked network request: https://cdn.example.invalid/x.js" in text
    assert "page error" in text and "undefinedFunction" in text
    assert "empty plotly figure #p" in text
    assert "broken image" in text


def test_failing_cell_is_named(tmp_path: Path) -> None:
    qmd = tmp_path / "bad.qmd"
    # Cell 1 also checks the kernel runs on this interpreter, in the document's folder.
    check = f"import os, sys\nassert sys.executable == {sys.executable!r}\n"
    check += f"assert os.getcwd() == {str(tmp_path.resolve())!r}"
    qmd.write_text(
        f"---\ntitle: Bad\n---\n\n# Fine\n\n```{{python}}\n{check}\n```\n\n"
        "```{python}\n#| label: boom\nraise ValueError('no marts here')\n```\n"
    )
    with pytest.raises(ReportError) as failure:
        render_fallback(qmd, tmp_path / "out", {}, formats=("html",), timeout=60)
    message = str(failure.value)
    assert "cell 2 'boom' (line 13) raised ValueError: no marts here" in message
    assert "raise ValueError" in failure.value.traceback
    assert not (tmp_path / "out" / "bad.html").exists()


def test_render_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="not found"):
        render(tmp_path / "missing.qmd", tmp_path)
    with pytest.raises(ReportError, match="unknown report format"):
        render(FIXTURE, tmp_path, formats=("docx",))
    bad = tmp_path / "r.qmd"
    bad.write_text("```{r}\n1 + 1\n```\n")
    with pytest.raises(ReportError, match=r"line 1: ```\{r\} cells need Quarto"):
        parse_qmd(bad.read_text(), name=str(bad))


# --------------------------------------------------------------------------- timeouts


def test_cell_past_its_timeout_fails_with_one_line(tmp_path: Path) -> None:
    qmd = tmp_path / "slow.qmd"
    qmd.write_text("# Slow\n\n```{python}\n#| label: nap\nimport time\ntime.sleep(60)\n```\n")
    with pytest.raises(ReportError) as failure:
        render_fallback(qmd, tmp_path / "out", {}, formats=("html",), timeout=2)
    message = str(failure.value)
    assert "\n" not in message
    assert message.endswith(
        "cell 1 'nap' (line 3) timed out after 2 s. Fix: raise the cell timeout"
    )


def test_kernel_that_never_starts_fails_with_one_line(tmp_path: Path, monkeypatch) -> None:
    # A "kernel" that never answers: the renderer must give up after startup_timeout.
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    monkeypatch.setattr(kernel_module, "_kernel_argv", lambda: sleeper)
    qmd = tmp_path / "k.qmd"
    qmd.write_text("```{python}\n1 + 1\n```\n")
    with pytest.raises(ReportError) as failure:
        render_fallback(qmd, tmp_path / "out", {}, formats=("html",), startup_timeout=3)
    message = str(failure.value)
    assert "\n" not in message
    assert "the Python kernel" in message and "did not start within 3 s" in message
    assert "Fix: check that ipykernel imports" in message
    stuck = subprocess.run(["pgrep", "-f", "import time; time.sleep(120)"], capture_output=True)
    assert stuck.stdout.strip() == b"", "the kernel process was left running"


def test_typst_compile_past_its_timeout_is_stopped(tmp_path: Path) -> None:
    typ = tmp_path / "loop.typ"
    # 10^12 loop steps: Typst accepts each loop (< 10,000 iterations) and never ends.
    typ.write_text("#for i in range(9999) { for j in range(9999) { for k in range(9999) { } } }\n")
    pdf = tmp_path / "loop.pdf"
    with pytest.raises(ReportError) as failure:
        compile_typst(typ, pdf, root=tmp_path, timeout=3)
    assert str(failure.value) == (
        "typst did not finish compiling loop.pdf within 3 s and was stopped. "
        "Fix: raise the PDF timeout, or render with --formats html"
    )
    assert not pdf.exists()


def test_typst_error_is_one_line(tmp_path: Path) -> None:
    typ = tmp_path / "bad.typ"
    typ.write_text('#image("missing.png")\n')
    with pytest.raises(ReportError) as failure:
        compile_typst(typ, tmp_path / "bad.pdf", root=tmp_path, timeout=60)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("typst could not compile bad.pdf: ")
    assert "missing.png" in message or "not found" in message


def test_static_plotly_fallback_draws_scatter_and_bar() -> None:
    import plotly.graph_objects as go
    import plotly.io as pio

    from customer_chunks.reporting.static import plotly_png

    fig = go.Figure(
        [
            go.Scatter(x=[1, 2, 3], y=[3, 1, 2], mode="markers", name="a"),
            go.Bar(x=["p", "q"], y=[1, 2], name="b"),
            go.Heatmap(z=[[1, 2], [3, 4]]),
        ]
    )
    png, skipped = plotly_png(pio.to_json(fig))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert skipped == ["heatmap"]


def test_chromium_that_never_starts_fails_with_one_line(tmp_path: Path) -> None:
    pytest.importorskip("playwright", reason="the playwright package is not installed")
    from chromium_check import BrowserError, check_in_browser

    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexec sleep 117\n")  # never opens its DevTools pipe
    fake.chmod(0o755)
    page = tmp_path / "page.html"
    page.write_text("<html><body>hi</body></html>")
    with pytest.raises(BrowserError) as failure:
        check_in_browser(page, executable_path=str(fake), launch_timeout_ms=2000)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"Chromium {fake} did not start within 2 s")
    assert message.endswith(
        "Fix: apt-get install chromium, or set CUSTOMER_CHUNKS_CHROMIUM to a working binary"
    )
    stuck = subprocess.run(["pgrep", "-f", "sleep 117"], capture_output=True)
    assert stuck.stdout.strip() == b"", "the fake browser was left running"


def test_quarto_on_path_is_used_in_one_branch(tmp_path: Path, monkeypatch) -> None:
    # A stand-in `quarto` that records its arguments and writes the file asked for.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    script = (
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        f"with open({str(calls)!r}, 'a') as f:\n"
        "    f.write(' '.join(sys.argv[1:]) + '\\n')\n"
        "args = sys.argv[1:]\n"
        "out = pathlib.Path(args[args.index('--output-dir') + 1])\n"
        "ext = 'html' if args[args.index('--to') + 1] == 'html' else 'pdf'\n"
        "(out / (pathlib.Path(args[1]).stem + '.' + ext)).write_text('made by quarto')\n"
    )
    (bin_dir / "quarto").write_text(script)
    (bin_dir / "quarto").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    paths = render(FIXTURE, tmp_path / "out", {"warehouse": Path("w.duckdb")})
    assert {k: p.read_text() for k, p in paths.items()} == {
        "html": "made by quarto",
        "pdf": "made by quarto",
    }
    html_call, pdf_call = calls.read_text().splitlines()
    assert "--to html" in html_call and "embed-resources:true" in html_call
    assert "--to typst" in pdf_call
    assert f'-P warehouse:"{Path("w.duckdb").resolve()}"' in html_call


def _report_common():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "reports" / "_common.py"
    spec = importlib.util.spec_from_file_location("report_common", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validation_parameters_split_into_short_cell_text_and_rules() -> None:
    """The validation table's Parameters cell holds the short values only; the rules
    written in words (which wrapped over many lines in the PDF) go to a note, and the
    seed is said once."""
    split = _report_common().split_parameters
    short, rules, seed = split(
        '{"eps": 0.456789, "eps_rule": "knee of the sorted k-distance curve (k = min_samples)",'
        ' "fit_sample_size": 20000, "k_range": [2, 10], "random_state": 0, "skipped": false}'
    )
    assert short == "eps = 0.457; fit sample size = 20,000; k range = 2–10; skipped = false"
    assert rules == ["eps rule: knee of the sorted k-distance curve (k = min_samples)"]
    assert seed == 0
    assert split("not json") == ("not json", [], None)
    assert split(None) == ("", [], None)
    assert split("[1, 2]") == ("[1, 2]", [], None)
