"""Waiting for a server a test started in its own process (the sandbox, trytond, cds-serve, flowbridge serve)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx


def comes_up(probe: Callable[[], bool], process: subprocess.Popen, *, timeout: float, step: float = 0.2) -> bool:
    """Whether `probe()` comes true — the server answers — within `timeout` seconds while `process`
    still runs; False at once when the process ends (its log says why)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return True
        except (httpx.HTTPError, OSError):  # not listening yet
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(step)
