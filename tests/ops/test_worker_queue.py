"""A run for the workers is stored and queued in one transaction, through either PostgreSQL driver
(a plain postgresql:// URL takes psycopg 3): both or neither, never a queued run without its job
nor a job without its run."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.services.worker_queue import WorkerQueue
from app.store import runs, schedule_ticks
from app.store.database import Store
from app.store.models import Run


def _jobs(store: Store) -> list[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT args->>'run_id', lock, status FROM procrastinate_jobs ORDER BY id")).all()
    return [tuple(row) for row in rows]


@pytest.fixture(params=["psycopg2", "psycopg"])
def store(request: pytest.FixtureRequest, postgres_url: str):
    url = sa.make_url(postgres_url).set(drivername=f"postgresql+{request.param}")
    if request.param == "psycopg":
        url = url.set(drivername="postgresql")  # as a user writes it; SQLAlchemy 2.1 picks psycopg 3
    opened = Store(url.render_as_string(hide_password=False))
    assert opened.engine.driver == request.param
    yield opened
    opened.close()


def test_an_accepted_run_and_its_job_are_stored_together(store: Store) -> None:
    queue = WorkerQueue(store)
    queue.accept(store, Run(id="r1", flow_id="orders", env="production", trigger="webhook"), work=None)
    assert runs.get_run(store, "r1").status == "queued"
    assert _jobs(store) == [("r1", "flow:orders:production", "todo")]


def test_a_failed_transaction_leaves_neither_the_run_nor_its_job(store: Store) -> None:
    queue = WorkerQueue(store)

    def defer_then_fail(session, run) -> None:
        queue.defer_in(session, run)
        raise RuntimeError("the server went away before the commit")

    tick = dt.datetime(2026, 12, 4, 21, 0, tzinfo=dt.UTC)
    with pytest.raises(RuntimeError):
        schedule_ticks.take(store, tick, Run(id="r2", flow_id="orders", env="production"), also=defer_then_fail)
    assert _jobs(store) == []
    with store.session() as session:
        assert session.get(Run, "r2") is None
    # the tick is still free: a server taking it now queues both
    assert schedule_ticks.take(store, tick, Run(id="r3", flow_id="orders", env="production"), also=queue.defer_in)
    assert _jobs(store) == [("r3", "flow:orders:production", "todo")]
