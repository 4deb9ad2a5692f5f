"""Running stored flows for real: by hand, on schedule or by webhook, never two at once.

A tick that finds its flow still running is recorded as a skipped run; a webhook call waits its
turn instead (its records must not be dropped). After each run: a failed run raises an alert, and
a flow that failed `settings.max_failures` runs in a row (default 3) is switched off, saying why.
At start, runs left `running` by a crash are marked `interrupted`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlmodel import select

from app.engine.executor import RunResult
from app.errors import FlowbridgeError
from app.services import access, alerts, switches
from app.services.runs import new_run_id, run_flow
from app.store import flows, runs, write_outcomes
from app.store.database import Store
from app.store.models import Flow, Run, utcnow

log = logging.getLogger(__name__)
DEFAULT_MAX_FAILURES = 3
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class FlowBusy(FlowbridgeError):
    """The flow is running already; this start was skipped."""


def _lock(flow_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(flow_id, threading.Lock())


def running_elsewhere(store: Store, flow_id: str) -> bool:
    """A run of this flow started by another process (the CLI, another server) is still going."""
    with store.session() as session:
        return session.exec(select(Run.id).where(Run.flow_id == flow_id, Run.status == "running",
                                                 Run.dry_run == False)).first() is not None  # noqa: E712


def start_stored_flow(store: Store, flow_id: str, *, trigger: str, env: str = "production",
                      payload: list[dict[str, Any]] | None = None, who: str = "", wait: bool = False,
                      dry_run: bool = False, run_id: str | None = None) -> RunResult | Run:
    """Run the flow's current version now. With `wait`, a start that finds it running waits its
    turn (webhooks); without, it is recorded as a skipped run and that Run is returned."""
    lock = _lock(flow_id)
    if not lock.acquire(blocking=wait):
        return _skipped(store, flow_id, env, trigger, who, "a run of this flow was still running")
    try:
        reap_gone_runs(store)
        if not dry_run and running_elsewhere(store, flow_id):
            return _skipped(store, flow_id, env, trigger, who, "a run of this flow was still running in "
                                                                "another process")
        document, version = flows.get_document(store, flow_id)
        result = run_flow(store, document, version=version, env=env, trigger=trigger, payload=payload,
                          started_by=who, dry_run=dry_run, run_id=run_id)
    finally:
        lock.release()
    if not dry_run:
        after_run(store, flow_id, result, document)
    return result


def _skipped(store: Store, flow_id: str, env: str, trigger: str, who: str, why: str) -> Run:
    now = utcnow()
    run = Run(id=new_run_id(), flow_id=flow_id, env=env, trigger=trigger, status="skipped", started_at=now,
              finished_at=now, error=why, started_by=who)
    with store.session() as session:
        session.add(run)
        session.commit()
        session.refresh(run)
    return run


def after_run(store: Store, flow_id: str, result: RunResult, document: dict[str, Any]) -> None:
    """Alerts for a failed run; switch the flow off after too many failures in a row."""
    if result.status != "failed":
        return
    alerts.raise_alert(store, flow_id, "run_failed", f"run {result.run_id} of {flow_id} failed: {result.error}",
                       result.run_id)
    limit = int(document.get("settings", {}).get("max_failures", DEFAULT_MAX_FAILURES))
    with store.session() as session:
        recent = session.exec(select(Run.status).where(Run.flow_id == flow_id, Run.status != "skipped",
                                                       runs.operational())
                              .order_by(Run.started_at.desc()).limit(limit)).all()
        enabled = session.exec(select(Flow.enabled).where(Flow.id == flow_id)).first()
    if enabled and len(recent) == limit and all(status == "failed" for status in recent):
        reason = f"switched off after {limit} failed runs in a row; last error: {result.error}"
        switches.record_switch(store, flow_id, False, who=access.SYSTEM.name, reason=reason)
        alerts.raise_alert(store, flow_id, "switched_off", f"{flow_id} was {reason}", result.run_id)


_queues: dict[str, ThreadPoolExecutor] = {}


def queue_flow_run(store: Store, flow_id: str, payload: list[dict[str, Any]] | None, *, trigger: str = "webhook",
                   env: str = "production", who: access.Principal | None) -> str:
    """Accept records for a run now and run it soon, after the flow's earlier runs: its id. `who`
    must be allowed to run in `env` (a webhook call, proven by its secret, is access.WEBHOOK).

    The run and its records are stored before this returns, so an accepted call is never lost;
    runs of one flow go one at a time through that flow's own queue."""
    principal = access.require(who, "run", env)
    flows.get_flow(store, flow_id)  # an unknown flow is refused now, not as a failed run later
    who_name = principal.name
    run = Run(id=new_run_id(), flow_id=flow_id, env=env, trigger=trigger, payload=payload, started_by=who_name)
    runs.queue_run(store, run)
    with _locks_guard:
        queue = _queues.setdefault(flow_id, ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"flow-{flow_id}"))
    queue.submit(_run_queued, store, flow_id, run.id, payload, trigger, env, who_name)
    return run.id


def _run_queued(store: Store, flow_id: str, run_id: str, payload: list[dict[str, Any]], trigger: str, env: str,
                who: str) -> None:
    try:
        start_stored_flow(store, flow_id, trigger=trigger, env=env, payload=payload, who=who, wait=True, run_id=run_id)
    except Exception as error:  # the queued run must end in a state someone can see
        log.exception("queued run %s of %s could not run", run_id, flow_id)
        runs.finish_run(store, run_id, status="failed", totals={}, error=f"could not run: {error}", ledger={})


def drain_queues(timeout: float = 30) -> None:
    """Wait for queued runs to finish (server shutdown, tests)."""
    with _locks_guard:
        queues = list(_queues.values())
        _queues.clear()
    for queue in queues:
        queue.shutdown(wait=True)


def mark_interrupted(store: Store) -> int:
    """Runs left `running` or `queued` by a crash are `interrupted` (call at start, before any run
    begins); a queued run keeps its records, so it can be run again."""
    with store.session() as session:
        stale = list(session.exec(select(Run).where(Run.status.in_(["running", "queued"]))).all())
    _interrupted(store, stale)
    return len(stale)


def reap_gone_runs(store: Store) -> int:
    """Runs marked running whose process on this machine has ended (a `flowbridge run` killed, say)
    are `interrupted`, with what they wrote counted; how many."""
    gone = runs.gone_runs(store)
    _interrupted(store, gone)
    return len(gone)


def _interrupted(store: Store, stale: list[Run]) -> None:
    with store.session() as session:
        for found in stale:
            run = session.get(Run, found.id)
            if run is None or run.status not in ("running", "queued"):
                continue
            run.status, run.finished_at = "interrupted", utcnow()
            run.error = "the process running it stopped before it finished; run the flow again to finish the job"
            session.add(run)
        session.commit()
    for run in stale:  # what its writes to APIs had done, record by record, counts
        write_outcomes.settle_run(store, run.id)
