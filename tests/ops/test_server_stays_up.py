"""A tester's API call starts runs that want ten gigabytes (an expression, an endless answer): the web
server keeps answering its pages, and each run ends with its reason."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.store.connections import set_connection
from app.store.database import Store
from tests.ops.helpers import flow, store_flow, target, wait_for
from tests.ops.test_run_isolation import connect, hostile_api, reading  # noqa: F401  (a fixture)
from tests.ops.test_webhooks_and_api import free_port

HOSTILE = "{% set a = 'x' * 99999 %}{{ [a] * 99999 }}"


def serve(tmp_path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}", "FLOWBRIDGE_RUN_MEMORY_MB": "500"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    env.pop("PYTEST_CURRENT_TEST", None)  # NiceGUI would take itself for a test fixture's server
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _answers(f"http://127.0.0.1:{port}/api/flows"), timeout=60, step=0.2, what="the server")
    return process


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_runs_that_want_ten_gigabytes_end_alone_while_the_pages_keep_answering(hostile_api, tmp_path):  # noqa: F811
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    target(store, tmp_path, env="sandbox")
    connect(store, tmp_path, hostile_api)
    nodes = [
        {"id": "shape", "type": "map", "config": {"fields": {"id": "{{ record.id }}", "name": HOSTILE}}},
        {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}},
    ]
    store_flow(store, flow("ten_gigabytes", {"type": "trigger.manual"}, nodes))
    store_flow(store, reading("/endless"))
    set_connection(store, "files", "sandbox", "file", {"path": str(tmp_path / "files")})
    store.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(tmp_path, port)
    try:
        started = [
            httpx.post(f"{base}/api/flows/{flow_id}/run", params={"env": "sandbox"}, json=records, timeout=10).json()[
                "run_id"
            ]
            for flow_id, records in (("ten_gigabytes", [{"id": n} for n in range(20)]), ("read_endless", None))
        ]
        slowest, peak, done = 0.0, 0.0, {}
        deadline = time.monotonic() + 120
        while len(done) < 2 and time.monotonic() < deadline:
            for path in ("/", "/runs", "/api/flows"):
                began = time.monotonic()
                assert httpx.get(base + path, timeout=10).status_code == 200
                slowest = max(slowest, time.monotonic() - began)
            peak = max(peak, rss_mb(server.pid))
            for run_id in started:
                run = httpx.get(f"{base}/api/runs/{run_id}", timeout=10).json()
                if run["status"] not in ("queued", "running"):
                    done[run_id] = run
            time.sleep(0.2)
        assert len(done) == 2, "the runs did not end"
        expression, endless = done[started[0]], done[started[1]]
        assert expression["status"] == "partial" and expression["totals"]["failed"] == 20
        letters = httpx.get(f"{base}/api/runs/{started[0]}", timeout=10).json()["dead_letters"]
        assert all("repetition would build" in d["reason"] for d in letters)
        assert endless["status"] == "failed" and "500 MB" in endless["error"]
        print(f"slowest page while the runs went: {slowest:.2f} s; server peak RSS {peak:.0f} MB")
        # Not a speed target (the suite loads both cores meanwhile): a run held in the server's own process
        # would hold its pages for as long as the run, or take the server down with it.
        assert slowest < 5.0, f"a page took {slowest:.1f} s while the runs went"
        assert peak < 400  # the web server never held the gigabytes: its runs' children did, and ended
    finally:
        server.terminate()
        server.wait(timeout=20)
