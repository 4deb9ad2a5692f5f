"""Stored flows run by schedule, by webhook or from the Flows page, through the door (services/door.py).

A tick that finds its flow still running is recorded as a skipped run; a webhook call, or a run
asked for on the Flows page, is queued (its records stored first, never dropped) and waits its turn
in its flow's own queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.engine.executor import RunResult
from app.services import access, door
from app.services.door import FlowBusy  # noqa: F401  (where callers have always found it)
from app.services.interrupted import mark_cut_off, mark_interrupted, reap_gone_runs  # noqa: F401  (likewise)
from app.services.runs import new_run_id
from app.store import flows, runs
from app.store.database import Store
from app.store.models import Run, utcnow
from nodes.base import NodeTypes

log = logging.getLogger(__name__)


def start_stored_flow(
    store: Store,
    flow_id: str,
    *,
    trigger: str,
    env: str = "production",
    payload: list[dict[str, Any]] | None = None,
    who: access.Principal | str = "",
    wait: bool = False,
    dry_run: bool = False,
    run_id: str | None = None,
    types: NodeTypes | None = None,
) -> RunResult | Run:
    """Run the flow's current version now, through the door. With `wait`, a start that finds it
    running waits its turn (webhooks); without, it is recorded as a skipped run and that Run is
    returned (a schedule's tick). `who` given as a name is a trusted caller of this process (the
    scheduler): it acts as an admin of that name."""
    principal = who if isinstance(who, access.Principal) else access.admin(who or access.SYSTEM.name)
    try:
        return door.start(
            store,
            principal,
            door.RunStart(
                env=env,
                trigger=trigger,
                flow_id=flow_id,
                payload=payload,
                dry_run=dry_run,
                run_id=run_id,
                wait=wait,
                types=types,
            ),
        )
    except door.FlowBusy as busy:
        return _skipped(
            store,
            flow_id,
            env,
            trigger,
            principal.name,
            f"a run of this flow was still running (run {busy.holder_run_id})",
            run_id,
        )


def _skipped(store: Store, flow_id: str, env: str, trigger: str, who: str, why: str, run_id: str | None) -> Run:
    """The start recorded as skipped: its queued row (a schedule's tick taken) or a new one."""
    now = utcnow()
    with store.session() as session:
        queued = session.get(Run, run_id) if run_id else None
        if queued is not None:
            queued.status, queued.started_at, queued.finished_at, queued.error = "skipped", now, now, why
            session.add(queued)
            session.commit()
            session.refresh(queued)
            return queued
    run = Run(
        id=new_run_id(),
        flow_id=flow_id,
        env=env,
        trigger=trigger,
        status="skipped",
        started_at=now,
        finished_at=now,
        error=why,
        started_by=who,
    )
    with store.session() as session:
        session.add(run)
        session.commit()
        session.refresh(run)
    return run


class RunQueues:
    """One queue per flow, where accepted runs wait their turn (one worker each, so a flow's runs
    go one after another in the order they came). A composition root owns one; shutting down
    drains it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._queues: dict[str, ThreadPoolExecutor] = {}

    def accept(self, store: Store, run: Run, work: Callable[[], None]) -> None:
        """Store `run` as queued (its records safe), then put `work` in its flow's queue."""
        runs.queue_run(store, run)
        self.submit(run.flow_id, work)

    def submit(self, flow_id: str, work: Callable[[], None]) -> None:
        with self._guard:
            queue = self._queues.get(flow_id)
            if queue is None:
                queue = self._queues[flow_id] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"flow-{flow_id}")
        queue.submit(work)

    def drain(self) -> None:
        """Wait for the queued runs to finish (server shutdown, tests); later submissions start new queues."""
        with self._guard:
            queues = list(self._queues.values())
            self._queues.clear()
        for queue in queues:
            queue.shutdown(wait=True)


def queue_flow_run(
    store: Store,
    flow_id: str,
    payload: list[dict[str, Any]] | None,
    *,
    queues: RunQueues | Any,  # or services/worker_queue.WorkerQueue: the same accept()
    trigger: str = "webhook",
    env: str = "production",
    who: access.Principal | None,
    types: NodeTypes | None = None,
) -> str:
    """Accept records for a run now and run it soon, after the flow's earlier runs in `queues`: its
    id. `who` must be allowed to run in `env` (a webhook call, proven by its secret, is access.WEBHOOK).

    The run and its records are stored before this returns, so an accepted call is never lost;
    runs of one flow go one at a time through that flow's own queue."""
    principal = access.require(who, "run", env)
    flows.get_flow(store, flow_id)  # an unknown flow is refused now, not as a failed run later
    run = Run(id=new_run_id(), flow_id=flow_id, env=env, trigger=trigger, payload=payload, started_by=principal.name)
    queues.accept(store, run, lambda: _run_queued(store, flow_id, run.id, payload, trigger, env, principal, types))
    return run.id


def run_accepted(store: Store, run_id: str, types: NodeTypes | None = None) -> None:
    """Run a queued run from its stored row (a worker process took it from the queue): as the one
    who asked for it, whose role was checked when it was accepted."""
    run = runs.get_run(store, run_id)
    who = access.admin(run.started_by or access.SYSTEM.name)
    # Given again: its first worker died mid-way (worker_pool.py); a server starting meanwhile may
    # have marked it interrupted already. A run for the pool is never marked so while it waits.
    if run.status in ("running", "interrupted"):
        if run.status == "running":
            mark_cut_off(store, run)
        again = Run(id=new_run_id(), flow_id=run.flow_id, env=run.env, trigger=run.trigger, payload=run.payload)
        again.started_by = run.started_by
        runs.queue_run(store, again)
        log.warning("run %s of %s was cut off with its worker; running it again as %s", run.id, run.flow_id, again.id)
        run = again
    elif run.status != "queued":  # stopped while it waited, or already taken up and ended
        return
    _run_queued(store, run.flow_id, run.id, run.payload, run.trigger, run.env, who, types)


def _run_queued(
    store: Store,
    flow_id: str,
    run_id: str,
    payload: list[dict[str, Any]] | None,
    trigger: str,
    env: str,
    who: access.Principal,
    types: NodeTypes | None,
) -> None:
    if runs.get_run(store, run_id).status == "cancelled":  # stopped while it waited its turn
        return
    try:
        start_stored_flow(
            store, flow_id, trigger=trigger, env=env, payload=payload, who=who, wait=True, run_id=run_id, types=types
        )
    except Exception as error:  # the queued run must end in a state someone can see
        log.exception("queued run %s of %s could not run", run_id, flow_id)
        runs.finish_run(store, run_id, status="failed", totals={}, error=f"could not run: {error}", ledger={})
