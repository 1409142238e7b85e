"""The web page of ``ffdetect serve`` driven in a real headless Chromium (Selenium + chromedriver).

CI installs Debian's ``chromium`` and ``chromium-driver`` (see ``.ci/run``). Where they cannot be
installed the test is skipped with a message saying so. The server binds 127.0.0.1 only and is
stopped at the end; a screenshot is left in ``tests/artifacts/serve_page.png``.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from test_detect_helpers import photo, save_tiny_model, stub_pipeline, write_png

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless browser test needs Debian's chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver); not installable here",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path):
    uvicorn = pytest.importorskip("uvicorn")
    from ffdetect.serve.app import create_app

    app = create_app(stub_pipeline(save_tiny_model(tmp_path / "model")))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="ffdetect-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1100,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as exc:  # noqa: BLE001 - a browser that will not start is an environment gap
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"chromium could not start: {str(exc).splitlines()[0]}")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_upload_image_shows_verdict_and_heat_maps(server: str, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    image = write_png(tmp_path / "portrait.png", photo(160))
    browser.get(server + "/")
    assert "ffdetect" in browser.title
    browser.execute_script("document.getElementById('file').hidden = false;")
    browser.find_element(By.ID, "file").send_keys(str(image))
    wait = WebDriverWait(browser, 60)
    wait.until(ec.visibility_of_element_located((By.ID, "verdict")))
    verdict = browser.find_element(By.ID, "verdict").text.lower()
    assert verdict in ("real", "fake", "uncertain"), verdict
    assert float(browser.find_element(By.ID, "score").text) >= 0.0
    heat_maps = browser.find_elements(By.CSS_SELECTOR, "#faces img.heatmap")
    assert len(heat_maps) == 2
    wait.until(lambda d: d.execute_script("return document.querySelector('#faces img').complete"))
    assert browser.find_element(By.ID, "error").text == ""
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "serve_page.png"))
