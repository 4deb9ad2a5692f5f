"""What the Flows page, the REST API and the CLI show about flows and runs, computed in one place."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import func, select

import nodes
from app.store import flows
from app.store.database import Store
from app.store.models import DeadLetter, Run
from app.store.runs import operational
from nodes.base import NodeTypes


def flow_rows(store: Store, scheduler: Any = None, types: NodeTypes | None = None) -> list[dict[str, Any]]:
    """Per flow: on/off, trigger in words, next run, last run, failed and partial runs in the last 24 hours."""

    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
    rows = []
    with store.session() as session:
        counted = session.exec(
            select(Run.flow_id, Run.status, func.count())
            .where(Run.status.in_(("failed", "partial")), Run.started_at >= since, operational())  # type: ignore[attr-defined]
            .group_by(Run.flow_id, Run.status)
        ).all()
        failures = {flow_id: n for flow_id, status, n in counted if status == "failed"}
        partial = {flow_id: n for flow_id, status, n in counted if status == "partial"}
        queued = dict(
            session.exec(select(Run.flow_id, func.count()).where(Run.status == "queued").group_by(Run.flow_id)).all()
        )
    for flow in flows.list_flows(store):
        document, _ = flows.get_document(store, flow.id)
        with store.session() as session:
            last = session.exec(
                select(Run).where(Run.flow_id == flow.id, operational()).order_by(Run.started_at.desc())
            ).first()
        next_run = (
            (scheduler.next_run(flow.id) if scheduler is not None else stored_next_run(store, flow.id))
            if flow.enabled
            else None
        )
        rows.append(
            {
                "id": flow.id,
                "name": flow.name,
                "version": flow.current_version,
                "enabled": flow.enabled,
                "trigger": describe_trigger(document, types),
                "next_run": next_run.isoformat() if next_run else None,
                "last_run": {
                    "run_id": last.id,
                    "status": last.status,
                    "env": last.env,
                    "started_at": last.started_at.isoformat(),
                }
                if last
                else None,
                "failures_24h": failures.get(flow.id, 0),
                "partial_24h": partial.get(flow.id, 0),  # runs that left records failed: not all is well
                "queued": queued.get(flow.id, 0),  # accepted runs waiting their turn (or a worker)
            }
        )
    return rows


def stored_next_run(store: Store, flow_id: str) -> dt.datetime | None:
    """The next run the scheduler's job store holds, for a web server that does not schedule itself."""
    import sqlalchemy as sa

    try:
        with store.engine.connect() as conn:
            value = conn.execute(
                sa.text("SELECT next_run_time FROM schedule_job WHERE id = :id"), {"id": flow_id}
            ).scalar()
    except sa.exc.DBAPIError:  # no scheduler has ever run against this store: no table yet
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC) if value else None


def run_row(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "flow_id": run.flow_id,
        "flow_version": run.flow_version,
        "env": run.env,
        "trigger": run.trigger,
        "status": run.status,
        "dry_run": run.dry_run,
        "started_by": run.started_by,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "totals": run.totals,
        "error": run.error,
        "progress": run.progress,
        "stop_requested_by": run.stop_requested_by,
        "ran_on": run.process,  # host:pid of the server, worker or terminal that ran it
    }


def letter_row(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "run_id": letter.run_id,
        "flow_id": letter.flow_id,
        "env": letter.env,
        "node_id": letter.node_id,
        "reason": letter.reason,
        "record": letter.record,
        "status": letter.status,
        "created_at": letter.created_at.isoformat(),
        "resolved_by": letter.resolved_by,
        "resolved_at": letter.resolved_at.isoformat() if letter.resolved_at else None,
        "retried_in": letter.retried_in,
    }


def describe_trigger(document: dict[str, Any], types: NodeTypes | None = None) -> str:
    """The flow's trigger in words, for the Flows page (as its node type says it)."""
    for node in document.get("nodes", []):
        node_type = nodes.get(str(node.get("type")), types)
        if node_type is not None and node_type.is_trigger and node_type.summary is not None:
            return node_type.summary(node.get("config") or {})
    return "no trigger"
