"""Open a rendered HTML page in headless Chromium and report what a reader would see.

Test-only code (it drives Playwright): the ``browser_check`` fixture binds
:func:`check_in_browser` to the Debian Chromium, and tests skip when it is missing.
Everything that waits has a limit: Chromium's start (``launch_timeout_ms``), the page
load and the plotly drawing (``timeout_ms``). A Chromium that does not start fails
with :class:`BrowserError`, one line naming the binary and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class BrowserError(RuntimeError):
    """Chromium or Playwright could not be used; the message says how to fix it."""


def launch_chromium(pw: Any, executable_path: str, timeout_ms: int = 30_000) -> Any:
    """Start headless Chromium through Playwright, or raise :class:`BrowserError`."""
    from playwright.sync_api import Error as PlaywrightError

    if not Path(executable_path).is_file():
        raise BrowserError(f"{executable_path} not found. Fix: apt-get install chromium")
    try:
        return pw.chromium.launch(
            executable_path=executable_path, args=CHROMIUM_ARGS, timeout=timeout_ms
        )
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrowserError(
            f"Chromium {executable_path} did not start within {timeout_ms / 1000:g} s ({first}). "
            "Fix: apt-get install chromium, or set CUSTOMER_CHUNKS_CHROMIUM to a working binary"
        ) from None


_PAGE_STATS_JS = """() => {
  const plots = Array.from(document.querySelectorAll('.plotly-graph-div')).map((d) => ({
    id: d.id,
    svgs: d.querySelectorAll('svg.main-svg').length,
    traces: d.querySelectorAll('g.trace, g.hm, .imagelayer image').length,
    width: d.clientWidth,
    height: d.clientHeight,
  }));
  const images = Array.from(document.images).map((i) => ({
    src: i.src.slice(0, 60),
    naturalWidth: i.naturalWidth,
    complete: i.complete,
  }));
  return { plots, images, title: document.title };
}"""

_PLOTS_READY_JS = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
  .every((d) => d.querySelector('svg.main-svg'))"""


def check_in_browser(
    html_path: str | os.PathLike[str],
    screenshot_path: str | os.PathLike[str] | None = None,
    *,
    executable_path: str = DEFAULT_CHROMIUM,
    launch_timeout_ms: int = 30_000,
    timeout_ms: int = 30_000,
    viewport: tuple[int, int] = (1280, 900),
    full_page: bool = True,
) -> dict[str, Any]:
    """Open ``html_path`` in headless Chromium and report what a reader would see.

    Every request other than ``file:``/``data:``/``blob:`` is blocked and listed, so a
    page that is not self-contained shows up. Waits until every plotly div has drawn
    its SVG. Returns ``{"ok", "problems", "console_errors", "page_errors",
    "blocked_requests", "plots", "images", "title", "screenshot"}`` where ``ok`` is
    true when ``problems`` is empty: no console or page error, no blocked request,
    every plotly div with an SVG and at least one trace, every image decoded
    (``naturalWidth > 0``). Uses Debian's Chromium (never ``playwright install``).
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    page_path = Path(html_path).resolve()
    if not page_path.is_file():
        raise FileNotFoundError(f"{page_path} not found")
    console_errors: list[str] = []
    page_errors: list[str] = []
    blocked: list[str] = []
    problems: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    with sync_playwright() as pw:
        browser = launch_chromium(pw, executable_path, launch_timeout_ms)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(timeout_ms)  # every wait below (and the screenshot)
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.route("**/*", route)
            page.goto(page_path.as_uri(), wait_until="load", timeout=timeout_ms)
            try:
                page.wait_for_function(_PLOTS_READY_JS, timeout=timeout_ms)
            except PlaywrightError:
                problems.append(f"plotly figures not drawn within {timeout_ms} ms")
            page.wait_for_timeout(300)  # let plotly finish its resize pass
            stats = page.evaluate(_PAGE_STATS_JS)
            shot = None
            if screenshot_path is not None:
                shot = Path(screenshot_path)
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=full_page)
        finally:
            browser.close()

    problems += [f"console error: {m}" for m in console_errors]
    problems += [f"page error: {m}" for m in page_errors]
    problems += [f"blocked network request: {u}" for u in blocked]
    problems += [
        f"empty plotly figure #{p['id']}" for p in stats["plots"] if not (p["svgs"] and p["traces"])
    ]
    problems += [f"broken image {i['src']}..." for i in stats["images"] if not i["naturalWidth"]]
    return {
        "ok": not problems,
        "problems": problems,
        "console_errors": console_errors,
        "page_errors": page_errors,
        "blocked_requests": blocked,
        "plots": stats["plots"],
        "images": stats["images"],
        "title": stats["title"],
        "screenshot": shot,
    }
