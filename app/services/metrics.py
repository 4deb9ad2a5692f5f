"""What `/metrics` tells Prometheus, read from the store at each scrape.

Runs happen in child processes, in `flowbridge run` in a terminal and on other servers, so counters
kept in one process's memory would each see a part; the store sees them all, and so does every
server asked. Each scrape reads the store (a few grouped queries and one pass over the finished
runs' totals), so any server gives the same figures and they match the Runs page.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlmodel import col, func, select

from app import clock as clocks
from app.clock import as_utc
from app.store import workers
from app.store.database import Store
from app.store.models import DeadLetter, Flow, Run

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Run durations, in seconds: a webhook's run in milliseconds up to a night's full sync.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
OUTCOMES = ("read", "inserted", "updated", "unchanged", "filtered", "failed")


def exposition(store: Store, clock: Callable[[], dt.datetime] = clocks.utc_now) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, clock))
    return generate_latest(registry)


class StoreCollector(Collector):
    def __init__(self, store: Store, clock: Callable[[], dt.datetime]) -> None:
        self.store, self.clock = store, clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from self._runs()
        yield from self._queue(now)
        yield self._dead_letters()
        yield from self._schedules(now)
        yield self._workers(now)

    def _runs(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("flowbridge_runs", "Runs that ended, by flow and status", labels=["flow", "status"])
        records = CounterMetricFamily(
            "flowbridge_records", "Records through the runs that ended, by flow and outcome", labels=["flow", "outcome"]
        )
        durations: dict[str, list[float]] = defaultdict(list)
        counted: Counter[tuple[str, str]] = Counter()
        outcomes: Counter[tuple[str, str]] = Counter()
        ended = sa.select(
            col(Run.flow_id), col(Run.status), col(Run.started_at), col(Run.finished_at), col(Run.totals)
        ).where(
            col(Run.dry_run) == False,  # noqa: E712  (a dry run writes nothing: it is not the flow's operation)
            col(Run.finished_at).is_not(None),
        )
        with self.store.session() as session:
            for flow_id, status, started, finished, totals in session.execute(ended):
                counted[flow_id, status] += 1
                for outcome in OUTCOMES:
                    outcomes[flow_id, outcome] += int((totals or {}).get(outcome, 0) or 0)
                if status != "skipped":
                    durations[flow_id].append(max(0.0, (as_utc(finished) - as_utc(started)).total_seconds()))
        for (flow_id, status), n in sorted(counted.items()):
            runs.add_metric([flow_id, status], n)
        for (flow_id, outcome), n in sorted(outcomes.items()):
            records.add_metric([flow_id, outcome], n)
        yield runs
        yield records
        yield _histogram(durations)

    def _queue(self, now: dt.datetime) -> Iterator[Metric]:
        depth = GaugeMetricFamily("flowbridge_queued_runs", "Runs accepted and waiting their turn", labels=["flow"])
        oldest = GaugeMetricFamily(
            "flowbridge_oldest_queued_run_age_seconds", "How long the longest-waiting queued run has waited"
        )
        running = GaugeMetricFamily("flowbridge_running_runs", "Runs going now", labels=["flow"])
        with self.store.session() as session:
            waiting = session.exec(
                select(Run.flow_id, func.count(), func.min(Run.started_at))
                .where(Run.status == "queued")
                .group_by(Run.flow_id)
            ).all()
            going = session.exec(
                select(Run.flow_id, func.count()).where(Run.status == "running").group_by(Run.flow_id)
            ).all()
        for flow_id, n, _ in waiting:
            depth.add_metric([flow_id], n)
        for flow_id, n in going:
            running.add_metric([flow_id], n)
        since = [as_utc(first) for _, _, first in waiting if first is not None]
        oldest.add_metric([], max(0.0, (now - min(since)).total_seconds()) if since else 0.0)
        yield depth
        yield oldest
        yield running

    def _dead_letters(self) -> Metric:
        letters = GaugeMetricFamily(
            "flowbridge_open_dead_letters", "Failed records waiting for someone", labels=["flow"]
        )
        with self.store.session() as session:
            for flow_id, n in session.exec(
                select(DeadLetter.flow_id, func.count()).where(DeadLetter.status == "open").group_by(DeadLetter.flow_id)
            ):
                letters.add_metric([flow_id], n)
        return letters

    def _workers(self, now: dt.datetime) -> Metric:
        alive = GaugeMetricFamily("flowbridge_workers_alive", "`flowbridge worker` processes heard from lately")
        alive.add_metric([], len(workers.alive(self.store, now)))
        return alive

    def _schedules(self, now: dt.datetime) -> Iterator[Metric]:
        """How late each switched-on flow's next tick is (0 when it is not due yet): a lag that grows
        means no server is scheduling."""
        lag = GaugeMetricFamily(
            "flowbridge_schedule_lag_seconds", "How far past its time the next tick of a flow is", labels=["flow"]
        )
        switched_on = GaugeMetricFamily("flowbridge_flows_on", "Flows switched on")
        with self.store.session() as session:
            on = set(session.exec(select(Flow.id).where(Flow.enabled == True)))  # noqa: E712
        switched_on.add_metric([], len(on))
        try:
            with self.store.engine.connect() as conn:
                jobs = conn.execute(sa.text("SELECT id, next_run_time FROM schedule_job")).all()
        except sa.exc.DBAPIError:  # no server has scheduled against this store yet
            jobs = []
        for flow_id, next_time in jobs:
            if flow_id in on and next_time:
                due = dt.datetime.fromtimestamp(next_time, dt.UTC)
                lag.add_metric([flow_id], max(0.0, (now - due).total_seconds()))
        yield switched_on
        yield lag


def _histogram(durations: dict[str, list[float]]) -> Metric:
    family = HistogramMetricFamily(
        "flowbridge_run_duration_seconds", "How long the runs that ended took, by flow", labels=["flow"]
    )
    for flow_id, seconds in sorted(durations.items()):
        buckets: list[tuple[str, float]] = [
            (floatToGoString(bound), float(sum(1 for s in seconds if s <= bound))) for bound in DURATION_BUCKETS
        ]
        buckets.append(("+Inf", float(len(seconds))))
        family.add_metric([flow_id], buckets, sum_value=sum(seconds))
    return family
