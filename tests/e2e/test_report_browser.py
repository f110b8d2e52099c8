"""The HTML report as a person sees it: headless Chromium, networking off, laptop and phone.

The report is made by ``nlp-bench report`` from hand-made runs (economics rows included, so
every chart family draws) and opened from disk with the browser offline (DevTools network
emulation, and no name resolves): every chart must render — no Vega error, an SVG with marks —
with nothing fetched, no console error, the verdict table and the analysis present, and at
phone width no sideways scrolling of the page. Full-page screenshots at both widths land in
``test-artifacts/report/``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from nlp_bench_pipeline.cli import main
from nlp_bench_pipeline.core.processes import OWNER_ENV
from tests.e2e.test_dagster_ui import (
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    assert_gone,
    chromium,  # noqa: F401 - the fixture that installs Chromium where it can
    process_group,
)
from tests.unit.test_report_rows import add_economics, build_report_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "report"
WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}
RENDER_TIMEOUT_S = 60
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND",)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``index.html`` made by the command from a hand-made store."""
    folder = tmp_path_factory.mktemp("report-browser")
    store = build_report_store(folder)
    add_economics(store)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(
            ["report", "--db", str(store.path), "--out", str(folder / "report"), "--offline"]
        )
    assert code == 0, out.getvalue()
    assert out.getvalue().strip().splitlines()[-1].endswith(str(folder / "report" / "index.html"))
    return folder / "report"


@pytest.fixture(scope="module")
def browser(chromium: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:  # noqa: F811
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, *OFFLINE_FLAGS):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-report')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        CHROMEDRIVER,
        env={**os.environ, OWNER_ENV: "e2e-report-browser"},
        popen_kw={"start_new_session": True},
    )
    driver = webdriver.Chrome(options=options, service=service)
    group = service.process.pid
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        yield driver
    finally:
        driver.quit()
        assert_gone(lambda: process_group(group), "browser processes left after quit")


def open_report(driver: webdriver.Chrome, report: Path, width: int, height: int) -> None:
    driver.set_window_size(width, height)
    driver.get((report / "index.html").as_uri())
    WebDriverWait(driver, RENDER_TIMEOUT_S).until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('[data-chart]')]"
            ".every(h => h.dataset.rendered || h.dataset.error)"
        )
    )


def save_full_page(driver: webdriver.Chrome, name: str) -> Path:
    """A screenshot of the whole page, not only the window."""
    size = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
        },
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.mark.parametrize("device", list(WIDTHS))
def test_every_chart_renders_offline_with_the_verdict_and_the_analysis(
    browser: webdriver.Chrome, report: Path, device: str
) -> None:
    width, height = WIDTHS[device]
    open_report(browser, report, width, height)
    try:
        drawn = [c for c in json.loads((report / "charts" / "charts.json").read_text()) if c["png"]]
        holders = browser.find_elements(By.CSS_SELECTOR, "[data-chart]")
        assert len(holders) == len(drawn) == 9
        for holder in holders:
            name = holder.get_attribute("data-name")
            assert holder.get_attribute("data-error") is None, name
            assert holder.get_attribute("data-rendered") == "true", name
            svg = holder.find_element(By.TAG_NAME, "svg")
            assert svg.size["width"] > 0, name
            assert svg.size["height"] > 0, name
            marks = browser.execute_script(
                "return arguments[0].querySelectorAll('path, line, rect, text').length", svg
            )
            assert marks > 10, name
        rows = browser.find_elements(By.CSS_SELECTOR, "#verdict-table tbody tr")
        assert len(rows) == 4
        assert browser.find_element(By.ID, "analysis-summary").text.strip()
        assert "offline analyst" in browser.find_element(By.ID, "analysis-author").text
        fetched = browser.execute_script("return performance.getEntriesByType('resource').length")
        assert fetched == 0
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        if device == "phone":
            page_width = browser.execute_script("return document.documentElement.scrollWidth")
            assert page_width <= browser.execute_script("return window.innerWidth")
    finally:
        save_full_page(browser, f"report-{device}")
