"""Read-only figures for the health dashboard: per flow and day (UTC), runs by outcome, records read,
written and failed, and the lag since the last successful run. Dry runs are left out."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import func, select

from app import clock
from app.clock import as_utc
from app.errors import FlowbridgeError
from app.store import flows
from app.store.database import Store
from app.store.models import Run
from app.store.runs import operational

UTC = dt.UTC
OUTCOMES = ("succeeded", "partial", "failed", "other")
# A partial run synced (some records wait in dead letters): it counts as a success for the lag.
SUCCESSES = ("succeeded", "partial")  # other: skipped, interrupted, still going
RECORDS = ("read", "written", "failed")  # written: inserted and updated


@dataclass
class FlowHealth:
    flow_id: str
    name: str
    enabled: bool
    days: list[dt.date]
    runs: dict[str, list[int]] = field(default_factory=dict)  # outcome -> runs started that day
    records: dict[str, list[int]] = field(default_factory=dict)  # read / written / failed -> that day
    lag_hours: list[float | None] = field(default_factory=list)  # at each day's end (today: now); None: no success yet
    last_success: dt.datetime | None = None
    lag_now_seconds: float | None = None
    alert_after_minutes: float | None = None  # the flow's staleness threshold, when it sets one

    @property
    def total_runs(self) -> int:
        return sum(sum(per_day) for per_day in self.runs.values())

    @property
    def failed_runs(self) -> int:
        return sum(self.runs.get("failed", []))


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else as_utc(moment)


def flow_health(
    store: Store, *, days: int = 14, env: str | None = None, now: dt.datetime | None = None
) -> list[FlowHealth]:
    """Every flow's last `days` days, oldest day first; `env` keeps one environment's runs only."""
    now = _utc(now) or clock.utc_now()
    first_day = now.date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first_day, dt.time(), UTC)
    day_list = [first_day + dt.timedelta(days=i) for i in range(days)]
    with store.session() as session:

        def scoped(query: Any) -> Any:
            query = query.where(operational())
            return query.where(Run.env == env) if env else query

        runs = session.exec(
            scoped(select(Run.flow_id, Run.started_at, Run.status, Run.totals).where(Run.started_at >= since))
        ).all()
        before = dict(
            session.exec(
                scoped(
                    select(Run.flow_id, func.max(Run.finished_at)).where(
                        Run.status.in_(SUCCESSES), Run.finished_at < since
                    )
                ).group_by(Run.flow_id)
            ).all()
        )
        successes = session.exec(
            scoped(select(Run.flow_id, Run.finished_at).where(Run.status.in_(SUCCESSES), Run.finished_at >= since))
        ).all()
    found = []
    for flow in flows.list_flows(store):
        health = FlowHealth(
            flow.id,
            flow.name,
            flow.enabled,
            day_list,
            runs={k: [0] * days for k in OUTCOMES},
            records={k: [0] * days for k in RECORDS},
        )
        try:
            document, _ = flows.get_document(store, flow.id)
            health.alert_after_minutes = (document.get("settings") or {}).get("alert_after_minutes")
        except FlowbridgeError:  # a flow without a readable version still has runs to show
            health.alert_after_minutes = None
        found.append(health)
    by_flow = {h.flow_id: h for h in found}
    for flow_id, started_at, status, totals in runs:
        health = by_flow.get(flow_id)
        started_at = _utc(started_at)
        if health is None or started_at is None:
            continue
        index = (started_at.date() - first_day).days
        if not 0 <= index < days:
            continue
        health.runs[status if status in OUTCOMES else "other"][index] += 1
        totals = totals or {}
        health.records["read"][index] += int(totals.get("read") or 0)
        health.records["written"][index] += int(totals.get("inserted") or 0) + int(totals.get("updated") or 0)
        health.records["failed"][index] += int(totals.get("failed") or 0)
    success_times: dict[str, list[dt.datetime]] = {}
    for flow_id, finished_at in successes:
        success_times.setdefault(flow_id, []).append(_utc(finished_at))
    for health in found:
        times = sorted(t for t in [_utc(before.get(health.flow_id)), *success_times.get(health.flow_id, [])] if t)
        health.last_success = times[-1] if times else None
        health.lag_now_seconds = (now - health.last_success).total_seconds() if health.last_success else None
        for day in day_list:
            moment = min(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), UTC), now)
            position = bisect.bisect_right(times, moment)
            health.lag_hours.append(
                round((moment - times[position - 1]).total_seconds() / 3600, 2) if position else None
            )
    return found
