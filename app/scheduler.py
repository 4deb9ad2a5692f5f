"""Schedules: APScheduler runs the flows that are switched on and have a schedule trigger.

The store is the source of truth (which flows are on, and their schedule in the current version);
`reconcile()` makes the scheduler's jobs match it, at start, whenever a switch happens in this
process, and every few seconds for changes made elsewhere (CLI, another server). Jobs live in the
store's database (APScheduler's SQLAlchemy job store), so after downtime a missed tick runs once,
coalesced, if it is within the grace time, and a restart never fires a job twice. A tick that finds
its flow still running is recorded as a skipped run (see app/services/operations.py).

Any number of servers may keep the schedules of one store: they share its jobs, so they compute the
same ticks, and each tick is taken in the database by one of them before it runs (store/
schedule_ticks.py), so none is doubled, and while one server is up none is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import select

import nodes
from app import clock as clocks
from app.errors import FlowbridgeError
from app.services import alerts, operations, switches
from app.services.runs import new_run_id
from app.store import flows, runs, schedule_ticks, workers
from app.store.database import Store
from app.store.models import Alert, Run
from nodes.base import NodeTypes

log = logging.getLogger(__name__)
UTC = dt.UTC
# The scheduler of this process, for the jobs it runs: APScheduler's job store keeps a job as a
# reference to a module function and its arguments (it outlives the process), so the function
# finds the live scheduler here. The only process state outside the composition root.
_active: FlowScheduler | None = None


class WallClockCronTrigger(CronTrigger):
    """A cron trigger that fires once per wall-clock time, also in the hour a DST change repeats.

    APScheduler 3 compares times in the zone naively, so a daily 02:30 fires twice on the night
    clocks go back (and then keeps returning that time). This asks again past such a repeat."""

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        previous, after = previous_fire_time, now
        for _ in range(8):
            candidate = super().get_next_fire_time(previous, after)
            if candidate is None:
                return None
            repeat = previous_fire_time is not None and (
                _wall(candidate, self.timezone) == _wall(previous_fire_time, self.timezone)
                or candidate.astimezone(UTC) <= previous_fire_time.astimezone(UTC)
            )
            if candidate.astimezone(UTC) >= now.astimezone(UTC) and not repeat:
                return candidate
            # APScheduler starts from the previous fire time: move both past the repeated moment
            after = (max(candidate.astimezone(UTC), after.astimezone(UTC)) + dt.timedelta(minutes=1)).astimezone(
                self.timezone
            )
            previous = after
        return None


class _StoppableScheduler(BackgroundScheduler):
    """APScheduler 3's loop wakes once more after shutdown() and, the state being STOPPED rather than
    PAUSED, processes the due jobs: a tick due at that moment fails to reach the closed executor and
    is moved on, lost. Stopping leaves due ticks in the job store for the next start instead."""

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()


def _wall(moment: dt.datetime, zone: Any) -> tuple:
    return moment.astimezone(zone).replace(tzinfo=None).timetuple()[:6]


def make_trigger(config: dict[str, Any]) -> Any:
    """The APScheduler trigger of a trigger.schedule node's config (validated beforehand)."""
    zone = ZoneInfo(config["timezone"]) if config.get("timezone") else None
    if config.get("cron"):
        return WallClockCronTrigger.from_crontab(config["cron"], timezone=zone)
    return IntervalTrigger(timezone=zone, **{k: v for k, v in config["interval"].items() if v})


def schedule_of(document: dict[str, Any], types: NodeTypes | None = None) -> dict[str, Any] | None:
    """The config of the flow's scheduled trigger, or None when it starts another way."""
    for node in document.get("nodes", []):
        node_type = nodes.get(str(node.get("type")), types)
        if node_type is not None and node_type.scheduled:
            return node.get("config") or {}
    return None


def run_scheduled(flow_id: str) -> None:
    """The job APScheduler runs (a module function, so the job store can keep its reference): the
    run of a tick this server took (_TickTakingExecutor)."""
    scheduler = _active
    if scheduler is None:
        log.warning("a tick for %s arrived with no scheduler running", flow_id)
        return
    run_id = scheduler.taken_run(flow_id)
    if run_id is not None and runs.get_run(scheduler.store, run_id).status == "cancelled":
        return  # stopped in the moment between the tick and its start
    try:
        operations.start_stored_flow(
            scheduler.store,
            flow_id,
            trigger="schedule",
            env=scheduler.env,
            who="scheduler",
            run_id=run_id,
            types=scheduler.types,
        )
    except FlowbridgeError as error:
        log.warning("scheduled run of %s could not start: %s", flow_id, error)


class _TickTakingExecutor(ThreadPoolExecutor):
    """Runs a flow's tick only once the database has given it to this server (another server that
    computed the same tick may have it): the run is stored as queued with the tick, then run."""

    def __init__(self, workers: int, take: Callable[[str, dt.datetime], bool]) -> None:
        super().__init__(workers)
        self._take = take

    def submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        if job.func is run_scheduled and not self._take(job.args[0], run_times[-1]):
            log.debug("the tick of %s at %s is another server's", job.args[0], run_times[-1])
            return
        super().submit_job(job, run_times)


class FlowScheduler:
    def __init__(
        self,
        store: Store,
        *,
        env: str = "production",
        grace_seconds: int = 3600,
        reconcile_seconds: float = 2.0,
        workers: int = 4,
        clock: Callable[[], dt.datetime] = clocks.utc_now,
        types: NodeTypes | None = None,
        worker_queue: Any = None,
    ) -> None:
        # `worker_queue`: a services/worker_queue.WorkerQueue when runs go to `flowbridge worker`
        # processes; its ticks' jobs are deferred with the tick, and this process runs none.
        # `clock` decides when a flow counts as stale; APScheduler keeps its own (the wall clock)
        # for when a tick is due.
        self.store, self.env, self.clock, self.types, self.worker_queue = store, env, clock, types, worker_queue
        self.grace_seconds, self.reconcile_seconds = grace_seconds, reconcile_seconds
        self._taken: dict[str, deque[str]] = {}  # per flow, the runs of ticks taken, to be started
        self._taken_guard = threading.Lock()
        self.scheduler = _StoppableScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=store.engine, tablename="schedule_job"),
                "internal": MemoryJobStore(),
            },
            executors={"default": _TickTakingExecutor(workers, self._take_tick)},
            # coalesce: after downtime, missed ticks of a job run once; max_instances above 1 lets
            # a tick reach our own guard, which records it as skipped instead of dropping it silently
            job_defaults={"coalesce": True, "misfire_grace_time": grace_seconds, "max_instances": 3},
            timezone=dt.datetime.now().astimezone().tzinfo,
        )

    def start(self) -> None:
        global _active
        _active = self
        operations.mark_interrupted(self.store)
        self.scheduler.start(paused=True)  # reconcile first, so a job of a flow switched off never fires
        self.reconcile()
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.reconcile_seconds,
            id="reconcile",
            jobstore="internal",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.resume()
        switches.on_switch(self.store, self._switched)

    def shutdown(self) -> None:
        global _active
        switches.forget_listener(self.store, self._switched)
        if self.scheduler.running:
            self.scheduler.pause()  # no new submissions while the executor winds down
            self.scheduler.shutdown(wait=True)
        if _active is self:
            _active = None

    @property
    def running(self) -> bool:
        """Whether its ticks are being kept (started and not shut down)."""
        return bool(self.scheduler.running)

    def _switched(self, flow_id: str) -> None:
        self.reconcile()

    def _take_tick(self, flow_id: str, tick_at: dt.datetime) -> bool:
        run = Run(id=new_run_id(), flow_id=flow_id, env=self.env, trigger="schedule", started_by="scheduler")
        if self.worker_queue is not None:  # the tick's run is the workers': nothing to run here
            run.process = runs.WORKER_POOL
            schedule_ticks.take(self.store, tick_at, run, also=self.worker_queue.defer_in)
            return False
        if not schedule_ticks.take(self.store, tick_at, run):
            return False
        with self._taken_guard:
            self._taken.setdefault(flow_id, deque()).append(run.id)
        return True

    def taken_run(self, flow_id: str) -> str | None:
        """The oldest tick of the flow this server took and has not started yet: its run's id."""
        with self._taken_guard:
            waiting = self._taken.get(flow_id)
            return waiting.popleft() if waiting else None

    def _tick(self) -> None:
        try:
            # this server is alive: its queued runs are its own to run (store/runs.stale_runs)
            workers.beat(self.store, runs.this_process(), 0, kind="server")
            self.reconcile()
            self.check_staleness()
        except Exception:  # the periodic check must survive a bad moment (a locked store, say)
            log.exception("reconciling schedules failed; trying again at the next tick")

    def reconcile(self) -> None:
        """Make the jobs match the store: one job per flow that is on and has a schedule."""
        wanted: dict[str, dict[str, Any]] = {}
        for flow in flows.list_flows(self.store):
            if not flow.enabled:
                continue
            try:
                document, _ = flows.get_document(self.store, flow.id)
            except FlowbridgeError:
                continue
            config = schedule_of(document, self.types)
            if config is not None:
                wanted[flow.id] = config
        jobs = {job.id: job for job in self.scheduler.get_jobs(jobstore="default")}
        for flow_id in jobs:
            if flow_id not in wanted:
                self._remove(flow_id)
        for flow_id, config in wanted.items():
            trigger = make_trigger(config)
            job = jobs.get(flow_id)
            if job is None:
                try:  # not replacing: another server may have added it since the look (same ticks)
                    self.scheduler.add_job(
                        run_scheduled, trigger=trigger, args=[flow_id], id=flow_id, name=flow_id, jobstore="default"
                    )
                except ConflictingIdError:
                    pass
            elif str(job.trigger) != str(trigger):  # the schedule was edited: next tick from now
                self.scheduler.reschedule_job(flow_id, jobstore="default", trigger=trigger)

    def _remove(self, flow_id: str) -> None:
        try:
            self.scheduler.remove_job(flow_id, jobstore="default")
        except JobLookupError:
            pass

    def next_run(self, flow_id: str) -> dt.datetime | None:
        job = self.scheduler.get_job(flow_id, jobstore="default")
        return job.next_run_time if job else None

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs(jobstore="default"))

    def check_staleness(self) -> None:
        """Alert once for each flow that is on and has not succeeded for `settings.alert_after_minutes`."""
        now = self.clock()
        for flow in flows.list_flows(self.store):
            if not flow.enabled:
                continue
            document, _ = flows.get_document(self.store, flow.id)
            minutes = document.get("settings", {}).get("alert_after_minutes")
            if not minutes:
                continue
            with self.store.session() as session:
                last = session.exec(
                    select(Run.finished_at)
                    .where(Run.flow_id == flow.id, runs.operational(), Run.status.in_(["succeeded", "partial"]))
                    .order_by(Run.finished_at.desc())
                ).first()
                already = session.exec(
                    select(Alert.id).where(Alert.flow_id == flow.id, Alert.kind == "stale", Alert.status == "open")
                ).first()
            since = last or flow.updated_at
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            if not already and now - since > dt.timedelta(minutes=minutes):
                alerts.raise_alert(
                    self.store,
                    flow.id,
                    "stale",
                    f"{flow.id} has not synced successfully for more than {minutes} minutes "
                    f"(last success: {last.isoformat() if last else 'never'})",
                )


__all__ = ["FlowScheduler", "WallClockCronTrigger", "make_trigger"]
