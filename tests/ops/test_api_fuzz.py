"""Schemathesis against the REST API of a real `flowbridge serve` on the demo: every operation of the
OpenAPI document, with generated and edge-case inputs, for a bounded time; no answer may be a 5xx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.test_server_stays_up import serve
from tests.ops.test_webhooks_and_api import free_port

FUZZ_SECONDS = int(os.environ.get("FLOWBRIDGE_FUZZ_SECONDS", "40"))


def test_no_generated_api_call_gets_a_server_error(tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    if st is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "init", "--dir", "demo"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    server = serve(tmp_path, port)
    try:
        done = subprocess.run(
            [
                st,
                "run",
                f"http://127.0.0.1:{port}/api/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-time",
                str(FUZZ_SECONDS),
                "--workers",
                "2",
                "--request-timeout",
                "30",
            ],
            cwd=tmp_path,
            env={**env, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=FUZZ_SECONDS + 240,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    summary = done.stdout[-4000:]
    print(summary)
    assert done.returncode == 0, summary + done.stderr[-2000:]
