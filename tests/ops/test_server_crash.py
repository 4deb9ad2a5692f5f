"""`flowbridge serve` killed with SIGKILL in the middle of a 40,000-record run: at the next start
the run is marked interrupted, and running the flow again loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.sandbox.crm_data import create_crm_database
from app.sandbox.erp_data import create_erp_database
from app.store.connections import set_connection
from app.store.database import Store
from app.store.flows import save_flow
from tests.ops.helpers import wait_for
from tests.ops.test_webhooks_and_api import free_port
from tests.sync.test_crash_recovery import customers, uninterrupted

FLOW = Path(__file__).resolve().parents[2] / "flows" / "crm_accounts_to_erp_customers.json"


def serve(tmp_path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}", "FLOWBRIDGE_SCHEDULER": "1"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    env.pop("PYTEST_CURRENT_TEST", None)  # NiceGUI would take itself for a test fixture's server
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _up(port), timeout=60, step=0.2, what="the server to answer")
    return process


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/flows", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_a_server_killed_mid_run_marks_it_interrupted_and_the_next_run_finishes_the_job(tmp_path):
    crm, erp = tmp_path / "crm.db", tmp_path / "erp.db"
    create_crm_database(crm, accounts=40_000, with_related=False)
    create_erp_database(erp, crm_path=crm)
    reference = uninterrupted(crm, erp, tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    for env in ("sandbox", "production"):
        set_connection(store, "crm", env, "sql", {"url": f"sqlite:///{crm}"})
        set_connection(store, "erp", env, "sql", {"url": f"sqlite:///{erp}"})
    save_flow(store, json.loads(FLOW.read_text()), author="test")
    before = customers(f"sqlite:///{erp}")[0]
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    process = serve(tmp_path, port)
    try:
        run_id = httpx.post(
            f"{base}/api/flows/crm_accounts_to_erp_customers/run", params={"env": "sandbox"}, timeout=10
        ).json()["run_id"]

        def halfway() -> bool:
            with sqlite3.connect(erp, timeout=10) as db:
                return db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] - before > 10_000

        wait_for(halfway, timeout=120, step=0.1, what="the run to be well under way")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert customers(f"sqlite:///{erp}")[0] < reference[0], "the kill came after the run had finished"

    process = serve(tmp_path, port)
    try:
        assert httpx.get(f"{base}/api/runs/{run_id}", timeout=10).json()["status"] == "interrupted"
        again = httpx.post(
            f"{base}/api/flows/crm_accounts_to_erp_customers/run", params={"env": "sandbox"}, timeout=10
        ).json()["run_id"]
        wait_for(
            lambda: httpx.get(f"{base}/api/runs/{again}", timeout=10).json()["status"] in ("succeeded", "partial"),
            timeout=180,
            step=0.5,
            what="the second run to finish",
        )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert customers(f"sqlite:///{erp}") == reference
