"""The one door every run goes through, whoever starts it.

The CLI, the editor's Run and Dry run, the Flows page, the API, webhooks, schedules, dead-letter
retries, replays and test cases all call `start`. It checks the caller's role for running in the
environment, takes the flow's lock for that environment in the store (so two processes — a server
and `flowbridge run` in a terminal — never run one flow at once there; store/flow_locks.py), runs it (services/runs.run_flow:
the run row, ledger, dead letters), frees the lock, and applies what follows a run of a stored flow:
an alert when it failed, and the switch-off after too many failures in a row.

A dry run writes nothing, so it takes no lock and counts toward nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from app.engine.executor import RunResult
from app.errors import FlowbridgeError
from app.services import access, alerts, switches
from app.services.interrupted import reap_gone_runs
from app.services.runs import new_run_id, run_flow
from app.store import flow_locks, flows, runs
from app.store.database import Store
from app.store.models import Flow, FlowLock, Run
from nodes.base import NodeType, Record

DEFAULT_MAX_FAILURES = 3
WAIT_STEP_SECONDS = 0.25  # how often a start that waits its turn looks at the lock again


class FlowBusy(FlowbridgeError):
    """The flow is running already (in this process or another); this start did not run."""

    def __init__(self, flow_id: str, holder: FlowLock) -> None:
        self.flow_id, self.holder_run_id = flow_id, holder.run_id
        super().__init__(
            f"flow '{flow_id}' is running already in {holder.env}: run {holder.run_id}, started "
            f"{holder.since:%Y-%m-%d %H:%M:%S} UTC; a flow runs one run at a time, so start it "
            "again when that run has ended"
        )


@dataclass(frozen=True)
class RunStart:
    """What to run, and how. Either `flow_id` (its current stored version) or `document` (a file,
    the editor's drawing, a stored version a replay picked) with its `version` if it is stored."""

    env: str
    trigger: str = "manual"
    flow_id: str | None = None
    document: dict[str, Any] | None = None
    version: int | None = None
    dry_run: bool = False
    payload: list[Record] | None = None
    start_at: str | None = None  # the node a dead-letter retry sends its records into
    replay_inputs: dict[str, list[Record]] | None = None
    replay_of: str | None = None
    run_id: str | None = None  # a queued run's id (its row exists already)
    full_resync: bool = False
    batch_size: int | None = None
    wait: bool = False  # found running: wait its turn (webhooks, retries) instead of refusing
    # The node types the run may use (a composition root's own, `Flowbridge.node_types`); None: the
    # registry of nodes/. Under run isolation they travel to the child, so they must be importable.
    types: Mapping[str, NodeType] | None = None


def start(
    store: Store,
    who: access.Principal | None,
    what: RunStart,
    keep_into: dict[tuple[str, str], list[Any]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Run once, through the door (see the module docstring); FlowBusy when the flow is running
    and `what.wait` is not set; Forbidden when the caller's role may not run in that environment."""
    principal = access.require(who, "run", what.env)
    document, version = what.document, what.version
    if document is None:
        if not what.flow_id:
            raise FlowbridgeError("a run needs a stored flow's id or a flow document")
        document, version = flows.get_document(store, what.flow_id)
    options = dict(
        version=version,
        env=what.env,
        trigger=what.trigger,
        payload=what.payload,
        dry_run=what.dry_run,
        full_resync=what.full_resync,
        batch_size=what.batch_size,
        start_at=what.start_at,
        started_by=principal.name,
        replay_inputs=what.replay_inputs,
        keep_into=keep_into,
        replay_of=what.replay_of,
        types=what.types,
    )
    flow_id = document.get("id") if isinstance(document, dict) else None
    if what.dry_run or not isinstance(flow_id, str) or not flow_id:  # a document with no id is refused by the run
        return run_flow(store, document, run_id=what.run_id, **options)
    run_id = what.run_id or new_run_id()
    _take_lock(store, flow_id, what.env, run_id, what.wait, sleep)
    try:
        result = run_flow(store, document, run_id=run_id, **options)
    finally:
        flow_locks.release(store, flow_id, what.env, run_id)
    if version is not None and what.trigger not in runs.TESTING_TRIGGERS:
        after_run(store, flow_id, result, document)
    return result


def _take_lock(store: Store, flow_id: str, env: str, run_id: str, wait: bool, sleep: Callable[[float], None]) -> None:
    reap_gone_runs(store)  # a run killed mid-way shows as interrupted, with its counts, before its lock is judged
    holder = flow_locks.take(store, flow_id, env, run_id)
    while holder is not None:
        if not wait:
            raise FlowBusy(flow_id, holder)
        sleep(WAIT_STEP_SECONDS)
        holder = flow_locks.take(store, flow_id, env, run_id)


def after_run(store: Store, flow_id: str, result: RunResult, document: dict[str, Any]) -> None:
    """Alerts for a failed run of a stored flow; switch the flow off after too many failures in a
    row. (Replays and test cases say nothing about how a flow operates: `start` leaves them out.)"""
    if result.status != "failed":
        return
    alerts.raise_alert(
        store, flow_id, "run_failed", f"run {result.run_id} of {flow_id} failed: {result.error}", result.run_id
    )
    limit = int(document.get("settings", {}).get("max_failures", DEFAULT_MAX_FAILURES))
    with store.session() as session:
        recent = session.exec(
            select(Run.status)
            .where(Run.flow_id == flow_id, Run.status != "skipped", runs.operational())
            .order_by(Run.started_at.desc())
            .limit(limit)
        ).all()
        enabled = session.exec(select(Flow.enabled).where(Flow.id == flow_id)).first()
    if enabled and len(recent) == limit and all(status == "failed" for status in recent):
        reason = f"switched off after {limit} failed runs in a row; last error: {result.error}"
        switches.record_switch(store, flow_id, False, who=access.SYSTEM.name, reason=reason)
        alerts.raise_alert(store, flow_id, "switched_off", f"{flow_id} was {reason}", result.run_id)
