"""The built-in report renderer: .qmd -> executed notebook -> HTML + PDF, checked in Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from customer_chunks.report import (
    ReportError,
    build_notebook,
    parse_qmd,
    render,
    render_fallback,
)

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
    paths = render_fallback(
        FIXTURE, out, {"warehouse": smoke_warehouse}, timeout=120, log=lines.append
    )
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
    assert 'class="plotly-graph-div"' in html
    assert html.count("Plotly.newPlot") == 1
    assert "The warehouse holds 200 customers in 4 segments." in html
    assert "Customers per segment (matplotlib)" in html
    assert "echo visible: 200" in html
    assert "echo visible:&quot;" in html or 'echo visible:"' in html  # echo: true shows code
    assert "import duckdb" not in html  # echo: false hides code
    assert "must not run" not in html.split("echo visible: 200")[1]  # eval: false: no output
    assert "<title>Smoke report</title>" in html


def test_pdf_is_written(rendered: dict) -> None:
    pdf = rendered["paths"]["pdf"]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "Smoke report" in text
        assert "Customers by segment" in text
        assert "echo visible: 200" in text


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
        render_fallback(qmd, tmp_path / "out", {}, formats=("html",), timeout=60, log=None)
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
