"""`flowbridge worker`: one process of the pool that runs queued runs (services/worker_queue.py).

Each worker takes jobs from procrastinate's queue in the store's PostgreSQL, `concurrency` at a
time, and runs each through the door as the one who asked for it. Two heartbeats keep a dead
worker's runs from being stuck: procrastinate's own (its worker row, every few seconds), from which
any worker finds the jobs of a worker that stopped beating and gives them again; and ours in the
store's `worker` table, which `flowbridge workers` reads. A run given again whose first attempt was
cut off is marked interrupted (what it wrote is counted) and run once more, from the flow's cursor
as the last committed batch left it, so the target holds every record once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import procrastinate
import sqlalchemy as sa

from app.composition import Flowbridge
from app.errors import StoreUnreachable
from app.services.worker_queue import QUEUE, ensure_schema, make_app
from app.store import runs, workers
from app.store.database import Store
from app.store.models import Run, Worker

log = logging.getLogger(__name__)

BEAT_SECONDS = 5.0  # how often a worker says it is alive (procrastinate's heartbeat and ours)
STALLED_SECONDS = 20.0  # a worker not heard from for this long has died: its jobs are given again
RECOVER_SECONDS = 5.0  # how often a worker looks for such jobs


def alive(store: Store) -> list[tuple[Worker, list[Run]]]:
    """The workers heard from lately, each with the runs it is running."""
    return workers.alive(store)


def unreachable(error: Exception) -> str:
    """One line saying why the store could not be reached (the driver's first line, no traceback)."""
    if isinstance(error, StoreUnreachable):
        return str(error).strip().splitlines()[0]
    # procrastinate's own error says only "Database error."; the driver's, behind it, says which
    detail = str(getattr(error, "orig", None) or error.__cause__ or error).strip()
    return f"cannot reach the store: {detail.splitlines()[0] if detail else type(error).__name__}"


def libpq_url(url: sa.URL) -> str:
    """The store's URL as psycopg 3 takes it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def run_worker(root: Flowbridge, concurrency: int, on_start: Callable[[str], None] = print) -> None:
    """Run queued runs until SIGINT or SIGTERM (procrastinate lets the runs going finish)."""
    from procrastinate import PsycopgConnector

    ensure_schema(root.store)
    name = runs.this_process()
    app = make_app(PsycopgConnector(conninfo=libpq_url(root.store.engine.url)))
    stop = threading.Event()
    beating = threading.Thread(target=_beat, args=(root, name, concurrency, stop), name="worker-beat", daemon=True)
    workers.beat(root.store, name, concurrency)
    beating.start()
    on_start(name)
    try:
        asyncio.run(_work(app, root, concurrency, name))
    finally:
        stop.set()
        beating.join(timeout=BEAT_SECONDS)
        workers.beat(root.store, name, concurrency, stopped=True)


async def _work(app: procrastinate.App, root: Flowbridge, concurrency: int, name: str) -> None:
    async with app.open_async():
        recovering = asyncio.create_task(_give_stalled_jobs_again(app))
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                name=name,
                additional_context={"root": root},
                update_heartbeat_interval=BEAT_SECONDS,
                stalled_worker_timeout=STALLED_SECONDS,
            )
        finally:
            recovering.cancel()


async def _give_stalled_jobs_again(app: procrastinate.App) -> None:
    manager = app.job_manager
    while True:
        try:
            for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS):
                run_id = job.task_kwargs.get("run_id")
                log.warning("run %s was cut off with its worker (it stopped beating): given to the pool again", run_id)
                await manager.retry_job(job)
        except Exception as error:  # a moment without the database: the next look tries again
            log.warning("looking for the runs of dead workers failed (%s); trying again", unreachable(error))
        await asyncio.sleep(RECOVER_SECONDS)


def _beat(root: Flowbridge, name: str, concurrency: int, stop: threading.Event) -> None:
    while not stop.wait(BEAT_SECONDS):
        try:
            workers.beat(root.store, name, concurrency)
        except sa.exc.DBAPIError:
            log.warning("worker %s could not say it is alive (the store did not answer)", name)
