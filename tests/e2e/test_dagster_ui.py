"""The Dagster UI as a person sees it: the asset graph and a materialised asset's metadata.

Everything is real: assets materialised by ``dagster asset materialize`` into a temporary
``DAGSTER_HOME`` (the summaries and charts from hand-made runs, and one benchmark cell run for
real with the smoke profile and the tiny model), ``nlp-bench ui`` (``dagster dev``) on a free
loopback port, and headless Chromium driven by chromedriver. Screenshots land in
``test-artifacts/dagster-ui/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psutil
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from nlp_bench_pipeline.cli.dagster_home import ensure_dagster_home
from nlp_bench_pipeline.core.processes import (
    OWNER_ENV,
    ChildProcess,
    free_port,
    owned_processes,
    python_command,
)
from tests.unit.test_report_rows import build_report_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dagster-ui"
ENSURE_CHROMIUM = ROOT / "scripts" / "ensure-chromium.sh"
CANNOT_INSTALL = 2  # ensure-chromium.sh: no apt-get, or no way to become root
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# --disable-background-networking and friends: this machine refuses outside connections, and
# Chromium's own update, sync and component traffic would otherwise stall or spam the log.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1920,1200",
)

MATERIALISED = ("model_artifact", "service_image", "comparison_charts", "run_summary")
# One benchmark cell for real (smoke profile, tiny model): its figures as numeric metadata.
CELL = "warm_steady|local-k8s"
ASSETS = (
    *MATERIALISED,
    "deployment",
    "load_test_run",
    "run_summary",
    "platform_metrics",
)
# One process does both steps: the default multiprocess executor adds a Python start per step.
IN_PROCESS_RUN = {"execution": {"config": {"in_process": {}}}}

# Bounds sized for a 2-core CI machine that imports torch while dagster dev starts.
MATERIALISE_TIMEOUT_S = 240
SERVER_TIMEOUT_S = 120
PAGE_TIMEOUT_S = 60
COMMUNITY_DIALOG_TIMEOUT_S = 20
STOP_GRACE_S = 20
EXIT_TIMEOUT_S = 5


# --------------------------------------------------------------------------- the Dagster side


@pytest.fixture(scope="module")
def owner() -> str:
    """One tag on every process this module starts, browser included, for the orphan scan."""
    return f"e2e-dagster-ui-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh instance, database and work directory, so the test never sees a user's runs.

    ``DOCKER_HOST`` points at a socket that does not exist: ``service_image`` then records its
    build context only, quickly, whether or not this machine runs a Docker engine. The
    database holds hand-made runs, so ``comparison_charts`` has something to draw.
    """
    tmp = tmp_path_factory.mktemp("dagster-ui")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(tmp / "dagster_home"))
        env.setenv("NLP_BENCH_DB", str(build_report_store(tmp).path))
        env.setenv("NLP_BENCH_WORK_DIR", str(tmp / "work"))
        env.setenv("NLP_BENCH_MODEL", "tiny")
        env.setenv("DOCKER_HOST", f"unix://{tmp / 'no-docker.sock'}")
        home = ensure_dagster_home()
        create_instance_storage()
        yield home


def create_instance_storage() -> None:
    """Migrate the instance's SQLite storage once, before two processes open it together.

    On an empty home, ``dagster asset materialize`` and ``dagster dev`` started at once both ran
    the migrations and left the code server failing with "more than one head present".
    """
    with dg.DagsterInstance.get():
        pass


@pytest.fixture(scope="module")
def ui_url(dagster_home: Path, owner: str) -> Iterator[str]:
    """``nlp-bench ui`` serving an instance where ``MATERIALISED`` have one materialisation each.

    The materialisation runs while the webserver starts (both take ~15 s on 2 cores). Teardown
    stops the UI's process group and then requires that no process carrying ``owner`` is left.
    """
    logs = dagster_home.parent / "logs"
    port = free_port()
    with contextlib.ExitStack() as teardown:  # runs last to first: UI, materialise, the scan
        teardown.callback(assert_nothing_left, owner)
        materialise = ChildProcess.start(
            "materialize",
            python_command(
                *("-m", "dagster", "asset", "materialize", "-m", "nlp_bench_pipeline.definitions"),
                *("--select", ",".join(MATERIALISED), "--config-json", json.dumps(IN_PROCESS_RUN)),
            ),
            owner=owner,
            log_dir=logs,
            cwd=ROOT,
        )
        teardown.callback(materialise.stop)
        ui = ChildProcess.start(
            "ui",
            python_command("-m", "nlp_bench_pipeline.cli", "ui", "--port", str(port)),
            owner=owner,
            log_dir=logs,
            cwd=ROOT,
        )
        teardown.callback(ui.stop, grace_s=STOP_GRACE_S)
        url = f"http://127.0.0.1:{port}"
        wait_for_materialisation(materialise)
        cell = ChildProcess.start(
            "materialize-cell",
            python_command(
                *("-m", "dagster", "asset", "materialize", "-m", "nlp_bench_pipeline.definitions"),
                *("--select", "load_test_run", "--partition", CELL),
                *("--config-json", json.dumps(IN_PROCESS_RUN)),
            ),
            owner=owner,
            env={"NLP_BENCH_PROFILE": "smoke"},
            log_dir=logs,
            cwd=ROOT,
        )
        teardown.callback(cell.stop)
        wait_for_materialisation(cell)
        wait_for_webserver(ui, url)
        yield url


def wait_for_materialisation(materialise: ChildProcess) -> None:
    try:
        returncode = materialise.popen.wait(timeout=MATERIALISE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"dagster asset materialize still running after {MATERIALISE_TIMEOUT_S} s:\n"
            + materialise.log_tail(40)
        )
    if returncode != 0:
        pytest.fail(f"dagster asset materialize exited {returncode}:\n{materialise.log_tail(40)}")


def wait_for_webserver(ui: ChildProcess, url: str) -> None:
    """Poll ``/server_info`` until it answers; fail with the UI's output if it never does."""
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if not ui.alive():
            pytest.fail(f"nlp-bench ui exited {ui.returncode} before serving:\n{ui.log_tail(40)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"no Dagster webserver at {url} after {SERVER_TIMEOUT_S} s:\n{ui.log_tail(40)}")


def assert_nothing_left(owner: str) -> None:
    """No process carrying ``owner`` may outlive the UI's stop.

    ``dagster dev`` has been seen to ignore SIGTERM and leave its webserver, daemon and code
    servers behind; they inherit ``NLP_BENCH_OWNER``, so this scan finds them even re-parented.
    """
    assert_gone(lambda: owned_processes(owner), "processes left after the UI stopped")


def assert_gone(find: Callable[[], list[psutil.Process]], what: str) -> None:
    """Fail, after killing them, if processes ``find`` sees outlive a short grace to exit."""
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.2)
    described = [describe(proc) for proc in left]
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    assert not described, f"{what}:\n" + "\n".join(described)


def describe(proc: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{proc.pid}: {' '.join(proc.cmdline())[:200]}"
    return f"{proc.pid}: (gone)"


def process_group(pgid: int) -> list[psutil.Process]:
    """Live processes in process group ``pgid``."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def recorded_metadata(asset: str) -> dict[str, Any]:
    """The metadata of ``asset``'s latest materialisation, as the instance stored it."""
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None, f"{asset} was never materialised"
    materialisation = event.asset_materialization
    assert materialisation is not None
    return {key: entry.value for key, entry in materialisation.metadata.items()}


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def chromium() -> None:
    """Chromium and chromedriver, installed by the project's script where they are missing.

    Skips only where they are missing and this machine cannot install them; an install that
    could run but failed is a failure.
    """
    result = subprocess.run(
        [str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=240, check=False
    )
    if result.returncode == CANNOT_INSTALL:
        pytest.skip(f"no Chromium and no way to install it: {result.stderr.strip()}")
    assert result.returncode == 0, f"{ENSURE_CHROMIUM.name} failed:\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def browser(
    chromium: None, ui_url: str, owner: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[webdriver.Chrome]:
    """Headless Chromium on a fresh profile, with Dagster's community dialog already skipped."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # The owner tag reaches chromedriver, Chromium's main process and its crash handlers (which
    # leave the group, so only the tag finds them). Chromium starts its zygote, GPU, network and
    # renderer processes without it; those stay in chromedriver's own process group.
    service = Service(
        CHROMEDRIVER,
        env={**os.environ, OWNER_ENV: owner},
        popen_kw={"start_new_session": True},
    )
    driver = webdriver.Chrome(options=options, service=service)
    group = service.process.pid
    try:
        driver.get(ui_url)
        skip_community_dialog(driver)
        yield driver
    finally:
        driver.quit()
        assert_gone(lambda: process_group(group), "browser processes left after quit")


def skip_community_dialog(driver: webdriver.Chrome) -> None:
    """Press Skip on "Join the Dagster community", which covers the first page of a new home.

    It opens about a second after the page asks the server whether to show it; where a later
    Dagster shows none, there is nothing to press.
    """
    skip = (By.XPATH, "//button[normalize-space()='Skip']")
    try:
        WebDriverWait(driver, COMMUNITY_DIALOG_TIMEOUT_S).until(
            EC.element_to_be_clickable(skip)
        ).click()
    except TimeoutException:
        return
    WebDriverWait(driver, PAGE_TIMEOUT_S).until(EC.invisibility_of_element_located(skip))


def visible(driver: webdriver.Chrome, xpath: str) -> WebElement:
    return WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        EC.visibility_of_element_located((By.XPATH, xpath))
    )


def graph_node(name: str) -> str:
    """A node of the lineage graph (drawn as HTML inside the graph's SVG) labelled ``name``."""
    return f"//*[local-name()='foreignObject']//*[normalize-space(text())='{name}']"


def text_containing(text: str) -> str:
    return f"//*[text()[contains(., '{text}')]]"


@contextlib.contextmanager
def screenshot(driver: webdriver.Chrome, name: str) -> Iterator[None]:
    """Save what the page shows at the end, passed or failed: the evidence CI keeps."""
    try:
        yield
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def show(driver: webdriver.Chrome, element: WebElement) -> None:
    """Scroll ``element`` to the middle of its scrolling panel, for the screenshot."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)


# --------------------------------------------------------------------------- the tests


def test_asset_graph_shows_every_asset(browser: webdriver.Chrome, ui_url: str) -> None:
    browser.get(f"{ui_url}/asset-groups")
    with screenshot(browser, "asset-graph"):
        # The global lineage opens with each group collapsed to one node; ⌥E expands them all
        # (the shortcut the graph's own menu advertises), once the groups are drawn.
        visible(browser, graph_node("build"))
        ActionChains(browser).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
        for asset in ASSETS:
            visible(browser, graph_node(asset))


def test_model_artifact_page_shows_the_recorded_digest(
    browser: webdriver.Chrome, ui_url: str
) -> None:
    recorded = recorded_metadata("model_artifact")
    assert recorded["digest"].startswith("sha256:")
    browser.get(f"{ui_url}/assets/model_artifact")
    with screenshot(browser, "model_artifact"):
        show(browser, visible(browser, text_containing(recorded["digest"])))
        visible(browser, text_containing("tiny-distilbert"))


def test_service_image_page_says_whether_it_was_built(
    browser: webdriver.Chrome, ui_url: str
) -> None:
    recorded = recorded_metadata("service_image")  # "built", or why only the context is recorded
    browser.get(f"{ui_url}/assets/service_image")
    with screenshot(browser, "service_image"):
        show(browser, visible(browser, text_containing(recorded["note"])))


def test_comparison_charts_page_shows_a_chart_image(browser: webdriver.Chrome, ui_url: str) -> None:
    recorded = recorded_metadata("comparison_charts")
    assert "data:image/png;base64," in recorded["latency_percentiles"]
    browser.get(f"{ui_url}/assets/comparison_charts")
    with screenshot(browser, "comparison_charts"):
        # Markdown over 1,000 characters sits behind "[Show Markdown]"; it opens in a dialog.
        visible(browser, "//*[normalize-space(text())='[Show Markdown]']").click()
        image = visible(browser, "//img[starts-with(@src, 'data:image/png;base64,')]")
        show(browser, image)
        WebDriverWait(browser, PAGE_TIMEOUT_S).until(
            lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0
        )


def test_run_summary_page_shows_a_typed_table_with_a_profile_and_formatted_values(
    browser: webdriver.Chrome, ui_url: str
) -> None:
    table = recorded_metadata("run_summary")["summary"]
    columns = {column.name: column.type for column in table.schema.columns}
    assert columns["profile"] == "string"
    assert columns["p99 ms"] == "float"
    assert columns["runs"] == "int"
    assert columns["failed"] == "string"  # a share, shown as a percentage
    records = [record.data for record in table.records]
    assert {record["profile"] for record in records} == {"quick"}
    assert all(record["p50 ms"] == round(record["p50 ms"], 1) for record in records)
    assert all(record["failed"].endswith(" %") for record in records)
    shown = records[0]
    browser.get(f"{ui_url}/assets/run_summary")
    with screenshot(browser, "run_summary"):
        show(browser, visible(browser, "//*[normalize-space(text())='p99 ±95% ms']"))
        visible(browser, f"//*[normalize-space(text())='{shown['failed']}']")
        visible(browser, "//*[normalize-space(text())='quick']")


def test_load_test_run_plots_its_numeric_figures_per_partition(
    browser: webdriver.Chrome, ui_url: str
) -> None:
    recorded = recorded_metadata("load_test_run")
    assert recorded["profile"] == "smoke"
    for figure in ("p50_ms", "throughput_rps", "offered_rps", "failed_share"):
        assert isinstance(recorded[figure], float), figure
    browser.get(f"{ui_url}/assets/load_test_run")
    with screenshot(browser, "load_test_run-plots"):
        # The overview's Metadata section has a Table | Plots toggle: Plots draws every numeric
        # entry by partition (or by event).
        plots = visible(browser, "//button[normalize-space()='Plots']")
        show(browser, plots)
        plots.click()
        show(browser, visible(browser, "//*[normalize-space(text())='p50_ms']"))
        visible(browser, "//canvas")
