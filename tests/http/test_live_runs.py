"""A run that goes for a while is seen going and can be stopped: its live progress in the store while
it reads a slow API, a Stop that ends it at the next batch boundary as cancelled with its cursor
there, and the next run that finishes the job with every record written once."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from app.services import access, door, run_reads, run_stops
from app.services.runs import new_run_id
from app.store import runs
from app.store.connections import set_connection
from app.store.database import Store
from app.store.models import Run
from tests.http.support import ACCOUNTS
from tests.ops.helpers import flow, store_flow, target, wait_for

READ = {
    "id": "accounts",
    "type": "read.http",
    "config": {
        "connection": "crm_api",
        "path": "/accounts",
        "params": {"sort": "updated_at"},
        "pagination": {"style": "page", "size": 20},
        "cursor": {"field": "updated_at", "ordered": True},
    },
}
SHAPE = {"id": "shape", "type": "map", "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.name }}"}}}
WRITE = {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}}
TESTER = access.Principal("tess", "tester")


@pytest.fixture
def slow_flow(api_store, sandbox, tmp_path: Path) -> Path:
    """CRM accounts read from the sandbox API 20 a page (each call 400 ms late) into dst.items."""
    target(api_store, tmp_path, env="sandbox")
    store_flow(api_store, flow("slow_accounts", {"type": "trigger.manual"}, [READ, SHAPE, WRITE]))
    sandbox.set_faults("crm", latency_ms=400)
    return tmp_path / "dst.db"


def _start(store: Any, run_id: str, done: dict[str, Any]) -> threading.Thread:
    def go() -> None:
        done["result"] = door.start(store, TESTER, door.RunStart(env="sandbox", flow_id="slow_accounts", run_id=run_id))

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def _seen(store: Any, run_id: str) -> Run | None:
    """The run's row, or None before its run has stored it."""
    with store.session() as session:
        return session.get(Run, run_id)


def _items(path: Path) -> list[int]:
    with sqlite3.connect(path, timeout=10) as db:
        return [row[0] for row in db.execute("SELECT id FROM items ORDER BY id")]


def test_a_stopped_run_ends_at_a_batch_boundary_and_the_next_run_writes_the_rest_once(api_store, sandbox, slow_flow):
    run_id, done = new_run_id(), {}
    thread = _start(api_store, run_id, done)
    try:
        live = wait_for(
            lambda: (r := _seen(api_store, run_id)) and r.progress and r.progress["batches"] >= 2 and r,
            timeout=60,
            what="the run's live progress after two pages",
        )
        assert live.status == "running" and live.totals["read"] >= 40
        assert live.progress["records_per_second"] > 0 and live.progress["node"] in ("accounts", "shape", "write")
        asked = run_stops.stop_run(api_store, TESTER, run_id)
        assert (asked.status, asked.stop_requested_by) == ("running", "tess")
    finally:
        thread.join(timeout=60)
    result = done["result"]
    stopped = runs.get_run(api_store, run_id)
    assert result.status == stopped.status == "cancelled" and stopped.error is None
    written = _items(slow_flow)
    assert 40 <= len(written) < ACCOUNTS, "the stop came too late to stop anything"
    assert stopped.totals["read"] == len(written) == stopped.totals["inserted"]  # whole batches, all written
    assert runs.get_cursor(api_store, "slow_accounts", "accounts", "sandbox") is not None

    sandbox.set_faults("crm", latency_ms=0)
    again = door.start(api_store, TESTER, door.RunStart(env="sandbox", flow_id="slow_accounts"))
    assert again.status == "succeeded", again.error
    assert len(_items(slow_flow)) == ACCOUNTS == len(set(_items(slow_flow)))
    assert again.totals["inserted"] == ACCOUNTS - len(written)  # from the cursor on, nothing read twice as new


def test_retries_show_while_the_run_goes_not_only_when_it_ends(api_store, sandbox, slow_flow):
    sandbox.set_faults("crm", latency_ms=200, error_rate=0.5)
    run_id, done = new_run_id(), {}
    thread = _start(api_store, run_id, done)
    try:
        live = wait_for(
            lambda: (r := _seen(api_store, run_id)) and r.progress and r.progress["retries"] >= 2 and r,
            timeout=60,
            what="retries in the live progress",
        )
        assert live.status == "running" and len(live.events) == live.progress["retries"]
        assert all("500" in str(event) for event in live.events)
        run_stops.stop_run(api_store, TESTER, run_id)
    finally:
        thread.join(timeout=90)
    assert done["result"].status == "cancelled"


def test_a_run_is_stopped_only_by_a_role_that_may_run_it_and_only_while_it_goes(api_store, slow_flow):
    run_id, done = new_run_id(), {}
    thread = _start(api_store, run_id, done)
    try:
        wait_for(lambda: (r := _seen(api_store, run_id)) and r.status == "running", timeout=30, what="the run to start")
        with pytest.raises(access.Forbidden, match="viewer"):
            run_stops.stop_run(api_store, access.Principal("vic", "viewer"), run_id)
        assert runs.get_run(api_store, run_id).stop_requested_at is None
        run_stops.stop_run(api_store, TESTER, run_id)
    finally:
        thread.join(timeout=60)
    with pytest.raises(runs.RunEnded, match="ended as cancelled"):
        run_stops.stop_run(api_store, TESTER, run_id)


def test_a_queued_run_stopped_before_its_turn_never_runs_and_keeps_its_records(api_store, root, slow_flow):
    from app.services import operations

    run = Run(id=new_run_id(), flow_id="slow_accounts", env="sandbox", trigger="webhook", payload=[{"id": 1}])
    runs.queue_run(api_store, run)
    assert run_stops.stop_run(api_store, TESTER, run.id).status == "cancelled"
    operations._run_queued(api_store, "slow_accounts", run.id, [{"id": 1}], "webhook", "sandbox", TESTER, None)
    kept = runs.get_run(api_store, run.id)
    assert (kept.status, kept.payload) == ("cancelled", [{"id": 1}])
    assert _items(slow_flow) == []


def _cli_store(cli: Any, sandbox: Any, tmp_path: Path) -> Store:
    """The CLI's own store with crm_api on the sandbox CRM, dst and the slow flow."""
    store = Store(cli.env["FLOWBRIDGE_DB_URL"])
    settings = {"base_url": sandbox.url("crm"), "auth": "bearer", "token": sandbox.token, "retry_wait": 0.002}
    set_connection(store, "crm_api", "sandbox", "http", settings)
    target(store, tmp_path, env="sandbox")
    store_flow(store, flow("slow_accounts", {"type": "trigger.manual"}, [READ, SHAPE, WRITE]))
    return store


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal's other side closed: the command ended
            return
        if not chunk:
            return
        into.append(chunk)


def test_flowbridge_run_on_a_terminal_follows_the_run_and_run_cancel_stops_it(cli, sandbox, tmp_path):
    store = _cli_store(cli, sandbox, tmp_path)
    sandbox.set_faults("crm", latency_ms=400)
    terminal, its_side = pty.openpty()
    command = [sys.executable, "-m", "app.cli", "run", "slow_accounts"]
    process = subprocess.Popen(command, cwd=tmp_path, env=cli.env, stdin=its_side, stdout=its_side, stderr=its_side)
    os.close(its_side)
    shown: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(terminal, shown), daemon=True)
    reader.start()
    try:
        wait_for(lambda: b"records/s" in b"".join(shown), timeout=60, what="the progress line")
        [running] = [r for r in run_reads.find_runs(store, flow_id="slow_accounts", limit=5) if r.status == "running"]
        code, out, err = cli("run", "cancel", running.id)
        assert code == 0 and "stops at the end of its current batch" in out, err
        assert process.wait(timeout=60) == 1  # not succeeded: it was stopped
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=10)
        os.close(terminal)
    text = b"".join(shown).decode(errors="replace")
    lines = text.split("\r\x1b[K")[1:-1]  # each rewrite of the line, the last one cleared
    assert lines and all(line.startswith("read ") and " records/s · " in line for line in lines), lines
    assert any(" · batch " in line and ", at " in line for line in lines)
    assert f"run {running.id} of slow_accounts (sandbox): cancelled" in text
    assert runs.get_run(store, running.id).status == "cancelled"

    code, out, err = cli("run", "cancel", running.id)  # over: said in one sentence, no traceback
    assert code != 0 and "ended as cancelled" in err

    sandbox.set_faults("crm", latency_ms=0)
    code, out, err = cli("run", "slow_accounts", "--json")  # not a terminal: only the JSON
    assert json.loads(out)["status"] == "succeeded" and "\r" not in out, err
    store.close()
