"""Real headless Chromium against a real `flowbridge serve` on the demo: fixtures and helpers.

The server runs in its own process on a free port with a fresh store and demo; Chromium is driven by
Selenium through Debian's chromedriver. Tests skip, saying why, when chromium or chromedriver are
missing. Screenshots of every step go to artifacts/browser/ (look at them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import Page
from tests.serving import comes_up

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"


def _missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (apt-get install chromium); ./run-tests.sh installs it"
    if not Path(CHROMEDRIVER).exists():
        return "chromedriver is not installed (apt-get install chromium-driver); ./run-tests.sh installs it"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(folder: Path, *, users: tuple[tuple[str, str], ...] = ()) -> Iterator[dict[str, Any]]:
    """`flowbridge serve` on a fresh store with the demo in `folder`; its URL, the demo's database
    paths and, with `users` ((name, role), ...), their API tokens (the server is then closed)."""
    from app.services import access
    from app.services.demo import init_demo
    from app.store.database import Store

    url = f"sqlite:///{folder / 'store.db'}"
    store = Store(url)
    init_demo(store, folder / "demo", accounts=120)
    tokens = {name: access.add_user(store, name, role) for name, role in users}
    port = _free_port()
    env = {**os.environ, "FLOWBRIDGE_DB_URL": url}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    env.pop("PYTEST_CURRENT_TEST", None)  # NiceGUI would think it runs inside pytest and pick another port
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    if not comes_up(lambda: urllib.request.urlopen(base + "/sign-in", timeout=2) is not None, process, timeout=30):
        process.kill()
        pytest.fail(f"flowbridge serve did not start: {(folder / 'serve.log').read_text()[-2000:]}")
    try:
        yield {
            "url": base,
            "store": store,
            "folder": folder,
            "demo": folder / "demo",
            "log": folder / "serve.log",
            "tokens": tokens,
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        store.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`flowbridge serve` on a fresh store with the demo, open (no users)."""
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    with serving(tmp_path_factory.mktemp("served")) as server:
        yield server


@pytest.fixture(scope="session")
def driver(served: dict[str, Any]) -> Iterator[Any]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tempfile.mkdtemp(prefix='fb-chromium-')}",
        "--window-size=1440,900",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def page(driver: Any, served: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Page]:
    driver.get_log("browser")  # start each test with an empty console
    seen = Page(driver, served["url"], getattr(request.module, "SHOTS", request.node.name.removeprefix("test_")))
    yield seen
    errors = seen.console_errors()
    assert not errors, f"the browser console has errors: {errors}"
