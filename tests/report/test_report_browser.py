"""The report in a real browser: headless Debian Chromium driven by Playwright for Python.

Fails (does not skip) when Chromium or Playwright is missing, with the line that installs it; set
FUNDIFF_ALLOW_NO_BROWSER=1 to turn that into a skip with a reason. FUNDIFF_SCREENSHOT=<path.png> keeps the screenshot.

Also a CLI for checking the pipeline's own report (no pytest):
    python tests/report/test_report_browser.py reports/index.html [screenshot.png]
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL = "apt-get update && apt-get install -y chromium (Debian's Chromium; Playwright is in the test extras)"


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("FUNDIFF_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_browser() -> str:
    """The Chromium executable, or a failure naming the install command (a skip only if FUNDIFF_ALLOW_NO_BROWSER=1)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the Playwright Python package is missing: pip install playwright (or pip install -e '.[test]')"
    executable = chromium_path()
    if problem is None and executable is None:
        problem = f"Chromium is missing (looked for /usr/bin/chromium, chromium, chromium-browser): {INSTALL}"
    if problem is not None:
        if os.environ.get("FUNDIFF_ALLOW_NO_BROWSER") == "1":
            pytest.skip(f"FUNDIFF_ALLOW_NO_BROWSER=1 and {problem}")
        pytest.fail(f"{problem}; or set FUNDIFF_ALLOW_NO_BROWSER=1 to skip this test", pytrace=False)
    return executable


def check_report(page_path: Path, screenshot: Path, executable: str = "/usr/bin/chromium") -> dict:
    """Load ``page_path`` from disk in headless Chromium; return what it saw (and save a full-page screenshot)."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    requests: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
            )
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: console.append(f"requestfailed: {r.url} {r.failure}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15_000)
            images = page.evaluate(
                "Array.from(document.images).map(i => ({src: i.getAttribute('src'), w: i.naturalWidth, h: i.naturalHeight}))"
            )
            seen = page.evaluate(
                "Array.from(document.querySelectorAll('section.result')).map(s => ({section: s.dataset.section, "
                "heading: s.querySelector('h3').innerText, notRun: !!s.querySelector('p.notrun'), "
                "visible: s.getBoundingClientRect().height > 0}))"
            )
            timing_rows = page.evaluate(
                "Array.from(document.querySelectorAll('#timings tbody td:first-child')).map(td => td.innerText)"
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"console": console, "requests": requests, "images": images, "sections": seen, "timings": timing_rows}


def test_report_renders_in_chromium(tmp_path, monkeypatch):
    executable = require_browser()
    from report_fixtures import make_workspace
    from test_report import run_stage

    from fundiff.titles import expected_sections

    make_workspace(tmp_path)
    run_stage(tmp_path, monkeypatch)
    screenshot = Path(os.environ.get("FUNDIFF_SCREENSHOT") or tmp_path / "report.png")
    seen = check_report(tmp_path / "reports" / "index.html", screenshot, executable)

    assert seen["console"] == [], seen["console"]
    assert len(seen["images"]) == 8, seen["images"]
    broken = [i["src"] for i in seen["images"] if not (i["w"] > 0 and i["h"] > 0)]
    assert broken == [], f"images that did not load: {broken}"
    assert {i["src"].rsplit(".", 1)[1] for i in seen["images"]} == {"png", "gif"}
    assert all(url.startswith(("file://", "data:")) for url in seen["requests"]), seen["requests"]
    sections = {s["section"]: s for s in seen["sections"]}
    for name, title in expected_sections().items():
        assert name in sections and sections[name]["visible"], f"section {name} ({title}) missing from the page"
        assert sections[name]["heading"].startswith(name), sections[name]
    assert {n for n, s in sections.items() if not s["notRun"]} == {"A 1.1", "A 1.4", "A 1.8", "B 1", "B 2.4"}
    assert "B 0" in sections  # the training curves (time_cond's log is missing: a "not run" note)
    assert "report" in seen["timings"]  # timings.js loaded and filled the table
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000


def test_missing_browser_fails_loudly_unless_allowed(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "chromium_path", lambda: None)
    monkeypatch.delenv("FUNDIFF_ALLOW_NO_BROWSER", raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        require_browser()
    monkeypatch.setenv("FUNDIFF_ALLOW_NO_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception, match="Chromium is missing"):
        require_browser()


if __name__ == "__main__":  # python tests/report/test_report_browser.py reports/index.html [shot.png]
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/index.html")
    shot = Path(sys.argv[2] if len(sys.argv) > 2 else "build/report.png")
    result = check_report(target, shot, chromium_path() or "/usr/bin/chromium")
    broken = [i["src"] for i in result["images"] if not i["w"]]
    not_run = [s["section"] for s in result["sections"] if s["notRun"]]
    print(
        f"{len(result['images'])} images ({len(broken)} broken {broken}), {len(result['sections'])} sections "
        f"(not run: {', '.join(not_run) or 'none'}), console: {result['console'] or 'clean'}, screenshot: {shot}"
    )
    sys.exit(1 if broken or result["console"] else 0)
