"""Two `flowbridge serve` processes keep the schedules of one PostgreSQL store, with no leader:
three flows ticking every 2 s run exactly once per tick (never twice, never overlapping), and when
one server is killed with SIGKILL the other goes on, so no tick is lost either (n8n's multi-main
mode fires a schedule two or three times: #7045, #15878)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from app.services import switches
from app.services.access import admin
from app.store.database import Store
from app.store.models import Run, ScheduleTick
from tests.ops.helpers import flowbridge, flows_with_their_own_tables, wait_for
from tests.ops.test_server_crash import _up
from tests.ops.test_webhooks_and_api import free_port

FLOWS = ("ticks_a", "ticks_b", "ticks_c")
EVERY_2S = {"type": "trigger.schedule", "config": {"interval": {"seconds": 2}}}
TICK = dt.timedelta(seconds=2)


def _serve(url: str, folder: Path, name: str, queue: str) -> subprocess.Popen:
    port = free_port()
    process = flowbridge(url, folder, name, "serve", "--port", str(port), SCHEDULER="1", RUN_QUEUE=queue)
    wait_for(lambda: _up(port), timeout=60, step=0.2, what=f"server {name} to answer")
    return process


def _ticks_and_runs(store: Store, flow_id: str) -> tuple[list[ScheduleTick], list[Run]]:
    with store.session() as session:
        ticks = list(
            session.exec(select(ScheduleTick).where(ScheduleTick.flow_id == flow_id).order_by(ScheduleTick.tick_at))
        )
        ran = list(session.exec(select(Run).where(Run.flow_id == flow_id, Run.trigger == "schedule")))
    return ticks, ran


def _settled(store: Store, killed_pid: int) -> bool:
    """Every scheduled run has ended, but those the killed server was running."""
    going = [r for f in FLOWS for r in _ticks_and_runs(store, f)[1] if r.status in ("queued", "running")]
    return all((r.process or "").endswith(f":{killed_pid}") for r in going)


@pytest.mark.slow
@pytest.mark.parametrize("queue", ["process", "workers"])
def test_two_servers_run_each_tick_once_and_one_killed_loses_none(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, queue: str
) -> None:
    """The ticks run in the server that took them, or (queue=workers) on three worker processes."""
    # servers on several machines share one secret key, as they share the store
    monkeypatch.setenv("FLOWBRIDGE_SECRET_KEY", Fernet.generate_key().decode())
    store = Store(postgres_url)  # migrated here, before either server starts
    flows_with_their_own_tables(store, tmp_path, FLOWS, EVERY_2S, "production")
    first = _serve(postgres_url, tmp_path, "first", queue)
    second = _serve(postgres_url, tmp_path, "second", queue)
    pool = [flowbridge(postgres_url, tmp_path, f"worker{n}", "worker") for n in range(3) if queue == "workers"]
    try:
        for flow_id in FLOWS:
            switches.switch(store, flow_id, True, who=admin("test"))
        time.sleep(9)  # ticks with both servers up (a wait for time to pass, not for a result)
        killed_at = dt.datetime.now(dt.UTC)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        time.sleep(9)  # ticks with the second server alone, then until each flow has run since the kill
        wait_for(
            lambda: all(
                any(r.status == "succeeded" and r.started_at > killed_at for r in _ticks_and_runs(store, f)[1])
                for f in FLOWS
            ),
            timeout=45,
            what="a run of every flow after the kill",
        )
        for flow_id in FLOWS:
            switches.switch(store, flow_id, False, who=admin("test"))
        wait_for(lambda: _settled(store, first.pid), timeout=20, what="the last runs to end")
    finally:
        for process in (first, second, *pool):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
    takers = set()
    for flow_id in FLOWS:
        ticks, ran = _ticks_and_runs(store, flow_id)
        takers |= {tick.process for tick in ticks}
        assert len(ticks) >= 4 and ticks[0].tick_at < killed_at, f"{flow_id}: {len(ticks)} ticks"
        assert ticks[-1].tick_at > killed_at + 2 * TICK, f"{flow_id}: the ticks stopped with the killed server"
        after = {t.process.rsplit(":", 1)[1] for t in ticks if t.tick_at > killed_at + TICK}
        assert after == {str(second.pid)}, f"{flow_id}: after the kill, the ticks were the second server's"
        assert sorted(t.run_id for t in ticks) == sorted(r.id for r in ran), (
            f"{flow_id}: each tick must have exactly one run and each scheduled run its tick"
        )
        gaps = [later.tick_at - earlier.tick_at for earlier, later in zip(ticks, ticks[1:])]
        assert all(abs(gap - TICK) < dt.timedelta(milliseconds=100) for gap in gaps), (
            f"{flow_id}: ticks must come every 2 s, none doubled or lost: {[g.total_seconds() for g in gaps]}"
        )
        # (a skipped tick is a run that did not go: it overlaps the one it found going, by design)
        finished = sorted((r for r in ran if r.finished_at and r.status != "skipped"), key=lambda r: r.started_at)
        for earlier, later in zip(finished, finished[1:]):
            assert later.started_at >= earlier.finished_at, f"{flow_id}: two runs overlapped"
        # A tick that finds the last run still going is a `skipped` run (a slow start on a loaded
        # machine); one run may die with the killed server; every other one succeeds.
        statuses = [r.status for r in ran]
        died = [r for r in ran if r.status in ("interrupted", "queued", "running")]
        assert set(statuses) <= {"succeeded", "skipped", "interrupted", "queued", "running"}, f"{flow_id}: {statuses}"
        assert len(died) <= 1 and all(r.started_at < killed_at + TICK for r in died), f"{flow_id}: {statuses}"
        assert any(r.status == "succeeded" and r.started_at > killed_at for r in ran), f"{flow_id}: {statuses}"
        if pool:
            ran_on = {(r.process or "").rsplit(":", 1)[-1] for r in ran if r.status == "succeeded"}
            assert ran_on <= {str(w.pid) for w in pool}, f"{flow_id}: a server ran a tick itself"
    servers = {p.rsplit(":", 1)[1] for p in takers}
    assert servers <= {str(first.pid), str(second.pid)}, f"ticks taken by {takers}"
    store.close()
