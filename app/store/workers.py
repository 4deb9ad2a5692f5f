"""The worker processes that run queued runs, as they say they are alive."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, select

from app.clock import as_utc
from app.store.database import Store
from app.store.models import Run, Worker, utcnow

ALIVE_WITHIN = dt.timedelta(seconds=30)  # a worker not heard from for this long is taken for dead


def beat(store: Store, name: str, concurrency: int, *, stopped: bool = False, kind: str = "worker") -> None:
    """The process `name` is alive now (or, with `stopped`, has stopped on purpose)."""
    now = utcnow()
    with store.session() as session:
        worker = session.get(Worker, name) or Worker(name=name, kind=kind, concurrency=concurrency, started_at=now)
        worker.seen_at, worker.concurrency = now, concurrency
        worker.stopped_at = now if stopped else None
        session.add(worker)
        session.commit()


def alive(store: Store, now: dt.datetime | None = None) -> list[tuple[Worker, list[Run]]]:
    """The workers heard from lately, each with the runs it is running."""
    now = now or utcnow()
    with store.session() as session:
        found = list(
            session.exec(
                select(Worker).where(
                    Worker.kind == "worker",
                    Worker.stopped_at == None,  # noqa: E711
                    Worker.seen_at >= now - ALIVE_WITHIN,
                )
            )
        )
        running = list(
            session.exec(select(Run).where(Run.status == "running", col(Run.process).in_([w.name for w in found])))
        )
    return [(worker, [run for run in running if run.process == worker.name]) for worker in found]


def gone_elsewhere(store: Store, processes: set[str], now: dt.datetime | None = None) -> set[str]:
    """Of `processes` (host:pid), those that beat in the store and stopped beating (or stopped):
    dead, whichever machine they ran on. A process that never beats (`flowbridge run` in a
    terminal) is not in it: nothing can be told of it from here."""
    if not processes:
        return set()
    now = now or utcnow()
    with store.session() as session:
        found = session.exec(select(Worker).where(col(Worker.name).in_(processes))).all()
    return {w.name for w in found if w.stopped_at is not None or as_utc(w.seen_at) < now - ALIVE_WITHIN}
