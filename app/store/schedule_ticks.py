"""Each tick of a schedule is run by one server, however many compute it.

Every `flowbridge serve` keeps the schedules (there is no leader to elect or lose): each computes
the same ticks from the jobs they share in the store, and each asks the database for a tick before
running it. The row's key is (flow, environment, tick), so the first insert wins and the others
fail — on SQLite, PostgreSQL and MariaDB alike. The queued run is stored in the same transaction, so
a tick that was taken always has its run, and a server that dies before running it leaves a queued
run that is then marked interrupted (services/interrupted.py), not a tick silently lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from app.store.database import Store
from app.store.models import Run, ScheduleTick
from app.store.runs import this_process


def take(store: Store, tick_at: dt.datetime, run: Run, also: Callable[[Any, Run], None] | None = None) -> bool:
    """Take the tick at `tick_at` of `run`'s flow and environment, storing `run` as queued with it
    (and doing `also(session, run)` in the same transaction: a worker's job deferred): False when
    another server has it already (and nothing is stored)."""
    run.status, run.process = "queued", run.process or this_process()  # the pool's, for workers
    tick = ScheduleTick(
        flow_id=run.flow_id, env=run.env, tick_at=tick_at.astimezone(dt.UTC), run_id=run.id, process=this_process()
    )
    try:
        with store.session() as session:
            session.add(tick)
            session.flush()  # the tick first: when it is taken, no run row is written either
            session.add(run)
            if also is not None:
                session.flush()
                also(session, run)
            session.commit()
    except sa.exc.IntegrityError:
        return False
    return True
