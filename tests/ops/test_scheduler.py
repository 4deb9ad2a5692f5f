"""The real scheduler (APScheduler, short intervals) on a real store: the failures users of other
tools report most, one test each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_SUBMITTED
from sqlmodel import select

from app.scheduler import FlowScheduler, make_trigger
from app.services import switches
from app.services.access import admin
from app.services.alerts import open_alerts
from app.store.flows import save_flow
from app.store.models import Run
from tests.ops.helpers import flow, store_flow, target, wait_for

EVERY_SECOND = {"type": "trigger.schedule", "config": {"interval": {"seconds": 1}}}
MANUAL = {"type": "trigger.manual"}


def runs_of(store, flow_id: str, status: str | None = None) -> list[Run]:
    with store.session() as session:
        query = select(Run).where(Run.flow_id == flow_id).order_by(Run.started_at)
        if status:
            query = query.where(Run.status == status)
        return list(session.exec(query).all())


@pytest.fixture
def scheduler(store):
    started: list[FlowScheduler] = []

    def start(on_submit: Callable[[Any], None] | None = None, **options) -> FlowScheduler:
        instance = FlowScheduler(store, reconcile_seconds=options.pop("reconcile_seconds", 0.5), **options)
        if on_submit is not None:  # before start: the catch-up of missed ticks is submitted at once
            instance.scheduler.add_listener(on_submit, EVENT_JOB_SUBMITTED)
        instance.start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.shutdown()


def test_switching_a_flow_on_and_off_100_times_leaves_exactly_one_job_or_none(store, tmp_path, scheduler):
    target(store, tmp_path)
    flow_id = store_flow(store, flow("ticking", {"type": "trigger.schedule", "config": {"cron": "0 3 * * *"}}))
    running = scheduler()
    for _ in range(100):
        switches.switch(store, flow_id, True, who=admin("test"))
        switches.switch(store, flow_id, False, who=admin("test"))
    assert running.job_ids() == []
    switches.switch(store, flow_id, True, who=admin("admin"))
    assert running.job_ids() == [flow_id]
    history = switches.history(store, flow_id, limit=500)
    assert len(history) == 201 and history[0].who == "admin" and history[0].enabled  # every switch, with who


def test_a_restart_restores_the_schedules_without_firing_twice(store, tmp_path, scheduler):
    target(store, tmp_path)
    flow_id = store_flow(store, flow("daily", {"type": "trigger.schedule", "config": {"cron": "0 3 * * *"}}))
    switches.switch(store, flow_id, True, who=admin("test"))
    first = scheduler()
    planned = first.next_run(flow_id)
    first.shutdown()
    second = scheduler()
    assert second.job_ids() == [flow_id]
    assert second.next_run(flow_id) == planned
    assert runs_of(store, flow_id) == []  # a restart is not a tick


def test_a_slow_run_is_never_overlapped_and_skipped_ticks_are_recorded(store, tmp_path, scheduler, postgres_url):
    from app.store.connections import set_connection

    target(store, tmp_path)
    set_connection(store, "slow", "production", "sql", {"url": postgres_url})
    slow_read = {
        "id": "read",
        "type": "read.sql",
        "config": {"connection": "slow", "query": "SELECT 1 AS id, 'x' AS name FROM pg_sleep(2.2)"},
    }
    document = flow(
        "slow",
        EVERY_SECOND,
        [
            slow_read,
            {
                "id": "shape",
                "type": "map",
                "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.name }}"}},
            },
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}},
        ],
    )
    flow_id = store_flow(store, document)
    switches.switch(store, flow_id, True, who=admin("test"))
    scheduler()
    wait_for(lambda: len(runs_of(store, flow_id, "succeeded")) >= 2, timeout=20, what="two slow runs")
    switches.switch(store, flow_id, False, who=admin("test"))
    wait_for(lambda: not runs_of(store, flow_id, "running"), what="the last slow run to end")
    done = [r for r in runs_of(store, flow_id) if r.status != "skipped"]
    for earlier, later in zip(done, done[1:]):
        assert later.started_at >= earlier.finished_at, "two runs of one flow overlapped"
    skipped = runs_of(store, flow_id, "skipped")
    assert skipped and all("still running" in r.error for r in skipped)


def test_after_downtime_missed_ticks_run_once_not_once_per_tick(store, tmp_path, scheduler):
    target(store, tmp_path)
    flow_id = store_flow(store, flow("catch_up", {"type": "trigger.schedule", "config": {"interval": {"seconds": 60}}}))
    switches.switch(store, flow_id, True, who=admin("test"))
    first = scheduler()
    # The server goes down, and stays down through four ticks: its stored job was due 3 × 60 s + 10 s ago.
    first.scheduler.pause()
    down_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3 * 60 + 10)
    first.scheduler.modify_job(flow_id, jobstore="default", next_run_time=down_since)
    first.shutdown()
    assert runs_of(store, flow_id) == []

    submitted: list[Any] = []
    second = scheduler(on_submit=submitted.append, reconcile_seconds=30)
    wait_for(lambda: runs_of(store, flow_id, "succeeded"), what="the catch-up run")
    ticks = [event.scheduled_run_times for event in submitted if event.job_id == flow_id]
    assert len(ticks) == 1 and len(ticks[0]) == 1, ticks  # four missed ticks, coalesced into one run
    assert len(runs_of(store, flow_id)) == 1
    assert second.next_run(flow_id) > dt.datetime.now(dt.UTC)  # the next tick is a regular one


def test_an_edited_schedule_takes_effect_without_a_duplicate_fire(store, tmp_path, scheduler):
    target(store, tmp_path)
    document = flow("edited", {"type": "trigger.schedule", "config": {"cron": "0 3 * * *"}})
    flow_id = store_flow(store, document)
    switches.switch(store, flow_id, True, who=admin("test"))
    running = scheduler()
    document["nodes"][0]["config"] = {"cron": "0 4 * * *"}
    save_flow(store, document, author="test")
    wait_for(lambda: running.next_run(flow_id) and running.next_run(flow_id).hour == 4, what="the new schedule")
    assert running.job_ids() == [flow_id]
    assert runs_of(store, flow_id) == []


def test_no_job_is_left_behind_when_a_flow_is_switched_off_or_given_another_trigger(store, tmp_path, scheduler):
    target(store, tmp_path)
    document = flow("retriggered", EVERY_SECOND)
    flow_id = store_flow(store, document)
    switches.switch(store, flow_id, True, who=admin("test"))
    running = scheduler()
    assert running.job_ids() == [flow_id]
    document["nodes"][0] = {"id": "start", **MANUAL}
    save_flow(store, document, author="test")
    wait_for(lambda: running.job_ids() == [], what="the job to go")
    wait_for(lambda: not runs_of(store, flow_id, "running"), what="a tick already under way to end")
    count = len(runs_of(store, flow_id))
    running.reconcile()  # the store says: no schedule, so no job comes back
    assert running.job_ids() == [] and len(runs_of(store, flow_id)) == count


def test_no_job_is_left_behind_when_a_flow_is_deleted(store, tmp_path, scheduler):
    from app.store.flows import delete_flow

    target(store, tmp_path)
    flow_id = store_flow(store, flow("doomed", {"type": "trigger.schedule", "config": {"cron": "0 3 * * *"}}))
    switches.switch(store, flow_id, True, who=admin("test"))
    running = scheduler()
    assert running.job_ids() == [flow_id]
    delete_flow(store, flow_id)
    wait_for(lambda: running.job_ids() == [], what="the job of the deleted flow to go")


def test_a_flow_not_synced_for_too_long_raises_one_alert_posted_to_the_alert_hook(
    store, tmp_path, scheduler, monkeypatch
):
    from tests.ops.test_webhooks_and_api import free_port

    received = []
    port = free_port()
    receiver = _receiver(port, received)
    monkeypatch.setenv("FLOWBRIDGE_ALERT_WEBHOOK", f"http://127.0.0.1:{port}/alerts")
    target(store, tmp_path)
    document = flow("quiet", {"type": "trigger.schedule", "config": {"cron": "0 3 * * *"}}, alert_after_minutes=1)
    flow_id = store_flow(store, document)
    switches.switch(store, flow_id, True, who=admin("test"))
    two_minutes_on = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)  # switched on, never succeeded since
    running = scheduler(reconcile_seconds=0.3, clock=lambda: two_minutes_on)
    wait_for(lambda: [a for a in open_alerts(store) if a.kind == "stale"], what="the stale alert")
    running.shutdown()  # no tick of its own races the checks below
    running.check_staleness()
    running.check_staleness()  # more checks, no second alert
    stale = [a for a in open_alerts(store) if a.kind == "stale" and a.flow_id == flow_id]
    assert len(stale) == 1 and stale[0].delivered and "more than 1 minutes" in stale[0].message
    assert received and received[0]["kind"] == "stale" and received[0]["flow_id"] == flow_id
    receiver.shutdown()


def _receiver(port: int, received: list) -> Any:
    import json as json_module
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json_module.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_flow_failing_runs_in_a_row_is_switched_off_with_an_alert(store, tmp_path, scheduler):
    from app.store.connections import set_connection

    target(store, tmp_path)
    set_connection(store, "down", "production", "sql", {"url": "postgresql://nobody@127.0.0.1:1/none"})
    broken = flow(
        "broken",
        EVERY_SECOND,
        [
            {"id": "read", "type": "read.sql", "config": {"connection": "down", "table": "items"}},
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}},
        ],
        max_failures=2,
    )
    flow_id = store_flow(store, broken)
    switches.switch(store, flow_id, True, who=admin("test"))
    running = scheduler()
    wait_for(lambda: running.job_ids() == [], timeout=30, what="the flow to be switched off")
    assert [r.status for r in runs_of(store, flow_id) if r.status != "skipped"] == ["failed", "failed"]
    last = switches.history(store, flow_id)[0]
    assert last.who == "flowbridge" and "2 failed runs in a row" in last.reason
    kinds = [a.kind for a in open_alerts(store) if a.flow_id == flow_id]
    assert kinds.count("run_failed") == 2 and "switched_off" in kinds


def test_a_draft_cannot_be_switched_on(store, tmp_path):
    document = flow("draft", EVERY_SECOND)
    document["edges"] = document["edges"][:1]  # the write has no input now
    flow_id = store_flow(store, document)
    with pytest.raises(switches.CannotSwitchOn, match="problem"):
        switches.switch(store, flow_id, True, who=admin("test"))


@pytest.mark.parametrize(
    "zone, spring, autumn",
    [
        ("Europe/Paris", dt.date(2026, 3, 29), dt.date(2026, 10, 25)),
        ("America/New_York", dt.date(2026, 3, 8), dt.date(2026, 11, 1)),
    ],
)
def test_a_daily_run_at_0230_is_neither_skipped_nor_doubled_across_daylight_saving(zone, spring, autumn):
    tz = ZoneInfo(zone)
    trigger = make_trigger({"cron": "30 2 * * *", "timezone": zone})
    for change in (spring, autumn):
        start = dt.datetime.combine(change - dt.timedelta(days=3), dt.time(12), tz)
        fires, previous, now = [], None, start
        while len(fires) < 6:
            fire = trigger.get_next_fire_time(previous, now)
            fires.append(fire)
            previous, now = fire, fire + dt.timedelta(seconds=1)
        days = [f.astimezone(tz).date() for f in fires]
        assert days == [start.date() + dt.timedelta(days=n) for n in range(1, 7)], "one run per day, every day"
        instants = [f.astimezone(dt.UTC) for f in fires]
        assert instants == sorted(set(instants))
