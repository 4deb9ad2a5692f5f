"""One door for every run: a CLI run and an editor run started while a scheduled run of the same flow
is going are refused, each naming the running one; never two at once. The scheduled run is held
mid-read by a PostgreSQL advisory lock the test owns, so "while it is going" needs no sleeping."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa
from nicegui.testing.user import User

from app.services import operations
from app.store import flow_locks
from app.store import runs as run_store
from app.store.connections import set_connection
from app.store.database import Store
from tests.ops.helpers import count, flow, store_flow, target, wait_for

ROOT = Path(__file__).resolve().parents[2]
HELD = 4242  # the advisory lock the scheduled run's read waits for


def _held_flow(store: Store, tmp_path: Path, postgres_url: str) -> str:
    target(store, tmp_path)
    set_connection(store, "held", "sandbox", "sql", {"url": postgres_url})
    read = {
        "id": "read",
        "type": "read.sql",
        "config": {
            "connection": "held",
            "query": f"SELECT 1 AS id, 'x' AS name FROM (SELECT pg_advisory_xact_lock({HELD})) AS w",
        },
    }
    return store_flow(
        store,
        flow(
            "held",
            {"type": "trigger.schedule", "config": {"interval": {"hours": 1}}},
            [
                read,
                {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}},
            ],
        ),
    )


async def test_a_cli_run_and_an_editor_run_are_refused_while_a_scheduled_run_goes(
    user: User, store: Store, tmp_path: Path, postgres_url: str
) -> None:
    flow_id = _held_flow(store, tmp_path, postgres_url)
    holder = sa.create_engine(postgres_url).connect()
    holder.execute(sa.text(f"SELECT pg_advisory_lock({HELD})"))
    scheduled = threading.Thread(
        target=operations.start_stored_flow,
        args=(store, flow_id),
        kwargs={"trigger": "schedule", "env": "sandbox", "who": "scheduler"},
    )
    try:
        scheduled.start()  # what the scheduler's tick does
        lock = wait_for(lambda: flow_locks.holder_of(store, flow_id, "sandbox"), what="the scheduled run's lock")
        wait_for(lambda: run_store.list_runs(store, flow_id), what="the scheduled run's row")
        running = run_store.list_runs(store, flow_id)[0]
        assert running.status == "running" and running.trigger == "schedule" and lock.run_id == running.id

        cli = subprocess.run(
            [sys.executable, "-m", "app.cli", "run", flow_id, "--env", "sandbox"],
            cwd=ROOT,
            env={**os.environ, "FLOWBRIDGE_DB_URL": store.url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode != 0
        said = cli.stdout + cli.stderr
        assert f"is running already in sandbox: run {running.id}" in said, said
        assert "Traceback" not in said

        await user.open(f"/flows/{flow_id}")
        await user.should_see("version 1")
        user.find(marker="run-sandbox").click()
        await user.should_see(f"is running already in sandbox: run {running.id}", retries=100)

        assert [r.id for r in run_store.list_runs(store, flow_id)] == [running.id], "a second run started"
    finally:
        holder.execute(sa.text(f"SELECT pg_advisory_unlock({HELD})"))
        holder.close()
        scheduled.join(timeout=30)
    [done] = run_store.list_runs(store, flow_id)
    assert done.status == "succeeded" and count(tmp_path / "dst.db") == 1
    assert flow_locks.holder_of(store, flow_id, "sandbox") is None, "the lock outlived its run"

    user.find(marker="run-sandbox").click()  # once the scheduled run has ended, the editor's runs
    await user.should_see("Run succeeded", retries=100)
    assert len(run_store.list_runs(store, flow_id)) == 2
