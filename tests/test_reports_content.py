"""The segmentation report and the dashboard, built from a fake warehouse.

``build_reports`` runs once on a warehouse with every mart filled (3,000 customers, 4
segments; its file is named ``marts.duckdb``, which must not shadow the ``marts``
schema) and once on one whose ML marts are all empty. Files, text and figures are
checked without a browser; when Chromium is installed the pages are also opened in
headless Chromium, the dashboard is clicked through, and screenshots are saved under
``output/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from fixtures.fake_warehouse import build_fake_warehouse

from customer_chunks.errors import InputError
from customer_chunks.marts import open_read_only
from customer_chunks.reporting import build_reports, reports_dir

import conftest_services

chromium_executable = conftest_services.chromium_executable
browser_check = conftest_services.browser_check

pytest.importorskip("nbclient", reason="nbclient is not installed")
pytest.importorskip("ipykernel", reason="ipykernel is not installed")

SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
MAX_HTML_BYTES = 20_000_000
N_CUSTOMERS = 3_000
N_SEGMENTS = 4


def _segments(warehouse: Path) -> list[tuple[int, str, int]]:
    con = open_read_only(warehouse)  # any file name, marts.duckdb included
    try:
        return con.execute(
            "select segment_id, segment_name, count(*) from marts.dim_customers "
            "group by 1, 2 order by 1"
        ).fetchall()
    finally:
        con.close()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _build(tmp: Path, name: str = "warehouse.duckdb", **fake: object) -> dict:
    built = build_fake_warehouse(tmp / "fake.duckdb", n_customers=N_CUSTOMERS, **fake)
    warehouse = built.rename(tmp / name)  # DuckDB names the catalog after the file
    handler = _Lines()
    logger = logging.getLogger("customer_chunks.reporting.build")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        paths = build_reports(warehouse, tmp / "reports")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = handler.lines
    return {
        "warehouse": warehouse,
        "paths": paths,
        "log": lines,
        "report": paths["segmentation_report_html"].read_text(encoding="utf-8"),
        "dashboard": paths["dashboard_html"].read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _build(tmp_path_factory.mktemp("full"), "marts.duckdb", n_segments=N_SEGMENTS, seed=3)


@pytest.fixture(scope="module")
def empty_ml(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _build(tmp_path_factory.mktemp("empty"), empty=["all"], seed=4)


def _pdf_text(pdf: Path) -> str | None:
    if not shutil.which("pdftotext"):
        return None
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    return done.stdout


def _assert_self_contained(html: str) -> None:
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", html)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html)
    assert html.count("* plotly.js v") == 1  # plotly.js inlined exactly once


# --------------------------------------------------------------------------- files


def test_build_reports_writes_every_document(full: dict) -> None:
    paths = full["paths"]
    assert set(paths) == {
        "segmentation_report_html",
        "segmentation_report_pdf",
        "dashboard_html",
    }
    for path in paths.values():
        assert path.is_file()
    assert paths["segmentation_report_pdf"].read_bytes()[:5] == b"%PDF-"
    for key in ("segmentation_report_html", "dashboard_html"):
        assert 100_000 < paths[key].stat().st_size < MAX_HTML_BYTES
    # a summary line per document: name, sizes, seconds
    assert full["warehouse"].name == "marts.duckdb"
    summaries = [line for line in full["log"] if " in " in line]
    assert len(summaries) == 2, full["log"]
    assert re.fullmatch(
        r"report: segmentation_report html [\d.]+ MB, pdf \d+ kB in [\d.]+ s", summaries[0]
    )
    assert re.fullmatch(r"report: dashboard html [\d.]+ MB in [\d.]+ s", summaries[1])
    _assert_self_contained(full["report"])
    _assert_self_contained(full["dashboard"])


def test_build_reports_html_only_and_bad_input(full: dict, tmp_path: Path) -> None:
    paths = build_reports(full["warehouse"], tmp_path / "html", formats=("html",))
    assert set(paths) == {"segmentation_report_html", "dashboard_html"}
    with pytest.raises(InputError, match="not found"):
        build_reports(tmp_path / "missing.duckdb", tmp_path)
    with pytest.raises(InputError, match="unknown report format"):
        build_reports(full["warehouse"], tmp_path, formats=("docx",))
    bare = tmp_path / "bare.duckdb"
    duckdb.connect(str(bare)).close()
    with pytest.raises(InputError, match="no marts.dim_customers"):
        build_reports(bare, tmp_path)


# --------------------------------------------------------------------------- report


def test_report_shows_every_section(full: dict) -> None:
    html = full["report"]
    for heading in (
        "Data overview and row accounting",
        "Feature distributions",
        "Choosing the algorithm",
        "K-Means: choosing k",
        "Customers in PCA space",
        "Hierarchical clustering",
        "DBSCAN outliers",
        "Segment profiles",
        "RFM segments",
        "High-value customer model",
        "Customer lifetime value",
        "Segments over time",
    ):
        assert heading in html, heading
    assert ": not available.</strong>" not in html  # every mart is filled
    assert f"{N_CUSTOMERS:,} customers" in html
    for _, name, _ in _segments(full["warehouse"]):
        assert name in html
    # the PCA scatter is interactive (plotly) with one trace per segment, and says it is a sample
    assert html.count('class="plotly-graph-div"') == 1
    assert f"A random sample of {N_CUSTOMERS:,} of the {N_CUSTOMERS:,} customers" in html
    # static figures are inline PNGs: quarantine, distributions, sizes, k search,
    # PCA variance, dendrogram, outliers, heatmap, RFM grid, ROC, high value by segment,
    # CLV hold-out validation, CLV by segment, transitions between the last two runs
    assert len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", html)) == 14
    assert "Segment ids this run: " in html and "stayed in their segment" in html
    assert "Reward; early access and referrals." in html  # a suggested action
    assert "ROC AUC" in html and "top 20% of net spend" in html


def test_report_pdf_has_text_and_figures(full: dict) -> None:
    pdf = full["paths"]["segmentation_report_pdf"]
    text = _pdf_text(pdf)
    if text is None:
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")
    for expected in ("Customer segmentation report", "Row accounting", "Segment profiles"):
        assert expected.lower() in text.lower(), expected
    assert "Champions" in text and "Suggested action" in text
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert int(re.search(r"Pages:\s+(\d+)", pages.stdout).group(1)) >= 5
    listed = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]  # two header lines, then one per image or alpha mask
    images = [line for line in listed if line.split()[2] == "image"]
    # the 14 matplotlib figures of the HTML (2 CLV, 1 transitions) and the PCA scatter's twin
    assert len(images) == 15, listed
    assert "left out of the PDF" not in text


def test_report_renders_in_chromium(full: dict, browser_check) -> None:
    shot = SCREENSHOTS / "segmentation_report.png"
    result = browser_check(full["paths"]["segmentation_report_html"], shot)
    assert result["problems"] == []
    assert len(result["plots"]) == 1
    scatter = result["plots"][0]
    assert scatter["svgs"] > 0 and scatter["traces"] >= N_SEGMENTS
    assert len(result["images"]) == 14  # 11 + the 2 CLV figures + the transitions
    assert all(i["naturalWidth"] > 0 for i in result["images"])
    assert shot.stat().st_size > 50_000


# --------------------------------------------------------------------------- sampling


def test_scatter_sample_is_capped_stratified_and_repeatable(full: dict) -> None:
    sys.path.insert(0, str(reports_dir()))
    try:
        import _common as cc
    finally:
        sys.path.remove(str(reports_dir()))
    wh = cc.Warehouse(full["warehouse"])
    try:
        sample, total = cc.sample_customers(wh, ["pca_1", "pca_2"], 400, seed=7)
        again, _ = cc.sample_customers(wh, ["pca_1", "pca_2"], 400, seed=7)
        other, _ = cc.sample_customers(wh, ["pca_1", "pca_2"], 400, seed=8)
    finally:
        wh.close()
    assert total == N_CUSTOMERS
    assert 400 - N_SEGMENTS <= len(sample) <= 400 + 50 * N_SEGMENTS
    assert sample["customer_id"].is_unique
    sizes = sample["segment_name"].value_counts()
    assert len(sizes) == N_SEGMENTS and sizes.min() >= 50
    assert list(sample["customer_id"]) == list(again["customer_id"])
    assert set(sample["customer_id"]) != set(other["customer_id"])


# --------------------------------------------------------------------------- dashboard


def test_dashboard_renders_and_responds(full: dict, browser_check, chromium_executable) -> None:
    from chromium_check import launch_chromium
    from playwright.sync_api import sync_playwright

    page_path = full["paths"]["dashboard_html"]
    result = browser_check(page_path, SCREENSHOTS / "dashboard.png")
    assert result["problems"] == []
    ids = {p["id"] for p in result["plots"]}
    assert ids == {"seg-sizes", "pca-scatter", "seg-profile", "seg-rfm"}
    assert all(p["svgs"] > 0 and p["traces"] > 0 for p in result["plots"])

    html = page_path.read_text(encoding="utf-8")
    # the fake warehouse plants moves at run 2: the "who moved" block lists them
    con = open_read_only(full["warehouse"])
    n_moved = con.execute(
        "select count(*) from marts.customer_segment_history where valid_from_run_id = 2"
    ).fetchone()[0]
    con.close()
    assert n_moved > 0
    assert f"{n_moved:,} customers changed segment in run 2" in html
    assert html.count("<tr><td>") >= min(n_moved, 1)

    segments = _segments(full["warehouse"])
    names = [name for _, name, _ in segments]
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw, chromium_executable)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelector('#seg-profile svg.main-svg')")

            # drill-down: choosing another segment changes the card, profile and lists
            assert page.inner_text("#seg-title") == names[0]
            profile_before = page.evaluate("document.getElementById('seg-profile').data[0].x")
            top_before = page.inner_text("#seg-top tbody")
            page.select_option("#segment-select", "2")
            page.wait_for_function(
                f"document.getElementById('seg-title').textContent === {names[2]!r}"
            )
            assert page.inner_text("#seg-n") == f"{segments[2][2]:,}"
            assert page.inner_text("#seg-description") not in (
                "",
                "No description stored for this segment.",
            )
            profile_after = page.evaluate("document.getElementById('seg-profile').data[0].x")
            assert profile_after != profile_before
            assert page.inner_text("#seg-top tbody") != top_before
            rfm_total = page.evaluate(
                "document.getElementById('seg-rfm').data[0].x.reduce((a, b) => a + b, 0)"
            )
            assert rfm_total == segments[2][2]

            # scatter: showing one segment leaves one visible trace with that segment's points
            total_points = int(page.get_attribute("#pca-scatter", "data-shown-points"))
            page.select_option("#pca-filter", names[1])
            page.wait_for_function(
                "document.getElementById('pca-scatter').data.filter(t => t.visible === true).length === 1"
            )
            visible = page.evaluate(
                "document.getElementById('pca-scatter').data.filter(t => t.visible === true).map(t => t.name)"
            )
            assert visible == [names[1]]
            shown = int(page.get_attribute("#pca-scatter", "data-shown-points"))
            assert 0 < shown < total_points
            page.evaluate("window.scrollTo(0, 0)")  # the sticky menu stays at the top
            page.screenshot(path=str(SCREENSHOTS / "dashboard_filtered.png"), full_page=True)
            page.select_option("#pca-filter", "__all__")
            page.wait_for_function(
                f"document.getElementById('pca-scatter').dataset.shownPoints === '{total_points}'"
            )

            # high-value list: sorted by probability, filterable, re-sortable
            rows = page.locator("#hv-table tbody tr")
            assert rows.count() == 500
            probabilities = page.eval_on_selector_all(
                "#hv-table tbody tr td:nth-child(5)",
                "tds => tds.map(td => parseFloat(td.textContent))",
            )
            assert probabilities == sorted(probabilities, reverse=True)
            page.select_option("#hv-segment", names[0])
            segment_cells = page.eval_on_selector_all(
                "#hv-table tbody tr td:nth-child(2)", "tds => tds.map(td => td.textContent)"
            )
            assert segment_cells and set(segment_cells) == {names[0]}
            page.fill("#hv-filter", "germany")
            countries = page.eval_on_selector_all(
                "#hv-table tbody tr td:nth-child(4)", "tds => tds.map(td => td.textContent)"
            )
            assert 0 < len(countries) < len(segment_cells) and set(countries) == {"Germany"}
            assert page.inner_text("#hv-count").endswith("of 500 customers")
            page.click("#hv-table th[data-key=monetary]")
            revenue = page.eval_on_selector_all(
                "#hv-table tbody tr td:nth-child(6)",
                "tds => tds.map(td => parseFloat(td.textContent.replace(/,/g, '')))",
            )
            assert revenue == sorted(revenue, reverse=True)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SCREENSHOTS / "dashboard_interaction.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []


# --------------------------------------------------------------------------- empty ML marts


def test_empty_ml_marts_are_explained(empty_ml: dict) -> None:
    report = empty_ml["report"]
    for what in (
        "ML segments: not available.",
        "Model comparison: not available.",
        "K-Means search over k: not available.",
        "PCA: not available.",
        "Dendrogram: not available.",
        "DBSCAN outliers: not available.",
        "Segment profiles: not available.",
        "High-value model: not available.",
    ):
        assert what in report, what
    assert "no model could be trained" in report
    assert "RFM segments" in report and "Champions" in report  # what can be shown still is
    assert 'class="plotly-graph-div"' not in report
    assert empty_ml["paths"]["segmentation_report_pdf"].read_bytes()[:5] == b"%PDF-"
    text = _pdf_text(empty_ml["paths"]["segmentation_report_pdf"])
    if text is not None:
        assert "High-value model: not available." in text

    dashboard = empty_ml["dashboard"]
    assert "customers are grouped by RFM segment instead" in dashboard
    assert "Who moved" in dashboard
    assert "ranks by net revenue" in dashboard
    assert "no customer map" in dashboard


def test_empty_ml_pages_render_in_chromium(empty_ml: dict, browser_check) -> None:
    for name in ("segmentation_report", "dashboard"):
        result = browser_check(
            empty_ml["paths"][f"{name}_html"], SCREENSHOTS / f"{name}_empty_ml.png"
        )
        assert result["problems"] == [], name
        assert all(i["naturalWidth"] > 0 for i in result["images"])
        assert all(p["svgs"] > 0 and p["traces"] > 0 for p in result["plots"])
    assert "pca-scatter" not in {p["id"] for p in result["plots"]}


# --------------------------------------------------------------------------- CLV (issue 15)


def test_clv_section_and_dashboard_block(full: dict, empty_ml: dict) -> None:
    report = full["report"]
    section = report[report.index("Customer lifetime value") :]
    assert "mean absolute error" in section and "correlation" in section
    assert "0.243" in section and "15.44" in section  # the parameter table (r, gamma)
    assert "Not every model could be fitted" not in section
    dashboard = full["dashboard"]
    block = dashboard[dashboard.index('<section id="clv">') :]
    block = block[: block.index("</section>")]
    for _, name, _ in _segments(full["warehouse"]):
        assert f"<td>{name}</td>" in block, name
    # When the fits failed the report says why and the dashboard says there is no CLV.
    failed = empty_ml["report"][empty_ml["report"].index("Customer lifetime value") :]
    assert "Not every model could be fitted" in failed
    assert "Hold-out validation: not available." in failed
    assert (
        "No customer lifetime value in this warehouse: no customer made a repeat"
        in (empty_ml["dashboard"])
    )
