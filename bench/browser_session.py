"""What the browser benchmarks share: `flowbridge serve` on a store, and headless Chromium driving it.

Both are started the way a user runs them (a real server process on a free port, Debian's
chromium through chromedriver), so a figure includes everything a person waits for.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1440,900",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(db_url: str, folder: Path) -> Iterator[str]:
    """`flowbridge serve` on the store at `db_url`; yields its base URL once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {"FLOWBRIDGE_DB_URL": db_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def chromium(folder: Path) -> Iterator[Any]:
    """A headless Chromium (Selenium) with a fresh profile in `folder`."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in (*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'chromium'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
