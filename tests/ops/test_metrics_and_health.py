"""/metrics in Prometheus' format over a real HTTP server, read back with prometheus-client's own
parser: its figures are the store's (runs by status, records by outcome, durations, the queue, open
dead letters, schedule lag); /healthz and /readyz answer a process supervisor."""

from __future__ import annotations

import datetime as dt

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from app.services import access, operations, switches
from app.services.access import admin
from app.services.runs import new_run_id
from app.store import runs
from app.store.models import DeadLetter, Run
from tests.ops.helpers import count, flow, store_flow, target
from tests.ops.test_webhooks_and_api import server  # noqa: F401  (the fixture)

MANUAL = {"type": "trigger.manual"}
EVERY_MINUTE = {"type": "trigger.schedule", "config": {"interval": {"minutes": 1}}}


def _scrape(base: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    reply = httpx.get(f"{base}/metrics", headers=headers or {}, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def test_the_metrics_are_the_stores_figures(server, store, tmp_path):  # noqa: F811
    path = target(store, tmp_path)
    flow_id = store_flow(store, flow("orders", MANUAL))
    good = [{"id": n, "name": f"order {n}"} for n in range(1, 6)]
    operations.start_stored_flow(store, flow_id, trigger="manual", payload=good, who=admin("ana"))
    operations.start_stored_flow(store, flow_id, trigger="manual", payload=good, who=admin("ana"))  # all unchanged
    # two records the table refuses (no name): the run is partial, two dead letters stay open
    refused = [{"id": 6, "name": "six"}, {"id": 7, "name": None}, {"id": 8, "name": None}]
    operations.start_stored_flow(store, flow_id, trigger="manual", payload=refused, who=admin("ana"))
    waiting_since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    runs.queue_run(store, Run(id=new_run_id(), flow_id=flow_id, env="production", started_at=waiting_since))
    assert count(path) == 6

    seen = _scrape(server)

    with store.session() as session:
        ended = [r for r in session.exec(select(Run).where(Run.flow_id == flow_id)) if r.finished_at]
        open_letters = len(list(session.exec(select(DeadLetter).where(DeadLetter.status == "open"))))
    by_status: dict[str, int] = {}
    for run in ended:
        by_status[run.status] = by_status.get(run.status, 0) + 1
    assert by_status == {"succeeded": 2, "partial": 1}
    for status, n in by_status.items():
        assert seen["flowbridge_runs_total", (("flow", flow_id), ("status", status))] == n
    for outcome, n in {"inserted": 6, "unchanged": 5, "failed": 2}.items():
        assert seen["flowbridge_records_total", (("flow", flow_id), ("outcome", outcome))] == n
        assert n == sum(r.totals.get(outcome, 0) for r in ended)
    assert seen["flowbridge_run_duration_seconds_count", (("flow", flow_id),)] == 3
    assert seen["flowbridge_run_duration_seconds_bucket", (("flow", flow_id), ("le", "+Inf"))] == 3
    assert seen["flowbridge_queued_runs", (("flow", flow_id),)] == 1
    assert seen["flowbridge_oldest_queued_run_age_seconds", ()] >= 300
    assert seen["flowbridge_workers_alive", ()] == 0  # runs in this process: no worker pool
    assert open_letters == 2
    assert seen["flowbridge_open_dead_letters", (("flow", flow_id),)] == 2


def test_a_schedule_no_server_keeps_shows_a_growing_lag(server, store, root, tmp_path):  # noqa: F811
    import sqlalchemy as sa

    target(store, tmp_path)
    flow_id = store_flow(store, flow("ticking", EVERY_MINUTE))
    switches.switch(store, flow_id, True, who=admin("test"))
    root.start_scheduler()
    assert _scrape(server)["flowbridge_schedule_lag_seconds", (("flow", flow_id),)] == 0  # due in a minute
    root.stop()  # the last server scheduling stops; its job stays in the store
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)  # as the job reads ten minutes later
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE schedule_job SET next_run_time = :at WHERE id = :id"),
            {"id": flow_id, "at": due.timestamp()},
        )
    seen = _scrape(server)
    assert seen["flowbridge_flows_on", ()] == 1
    assert seen["flowbridge_schedule_lag_seconds", (("flow", flow_id),)] >= 600


def test_metrics_need_a_token_once_there_are_users(server, store):  # noqa: F811
    token = access.add_user(store, "prom", "viewer")
    assert httpx.get(f"{server}/metrics", timeout=10).status_code == 401
    assert "flowbridge_flows_on" in {name for name, _ in _scrape(server, {"Authorization": f"Bearer {token}"})}


def test_a_supervisor_is_told_alive_and_why_not_ready(server, root):  # noqa: F811
    assert httpx.get(f"{server}/healthz", timeout=10).json() == {"status": "alive"}
    reply = httpx.get(f"{server}/readyz", timeout=10)
    assert reply.status_code == 503  # this root keeps schedules, and its scheduler is not started
    assert reply.json()["reasons"] == [
        "the schedules are not running in this server (FLOWBRIDGE_SCHEDULER=0 leaves them out)"
    ]
    root.start_scheduler()
    reply = httpx.get(f"{server}/readyz", timeout=10)
    assert (reply.status_code, reply.json()) == (200, {"status": "ready"})
