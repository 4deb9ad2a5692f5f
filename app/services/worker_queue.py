"""Accepted runs queued for `flowbridge worker` processes, through procrastinate on PostgreSQL.

With `FLOWBRIDGE_RUN_QUEUE=workers`, a run accepted by a server (a webhook call, the API's or the
Flows page's Run now) is stored as queued and its job is deferred in the same database transaction:
procrastinate's jobs are rows of the store's own PostgreSQL, so a run is never queued without its
row, nor stored without being queued (no second write to a broker that one crash could split).
The job's procrastinate lock is the flow and environment, so however many workers there are, one
run of a flow in an environment goes at a time, in the order they came; the store's flow lock
(store/flow_locks.py) still guards against a run started another way.
"""

from __future__ import annotations

from typing import Any

import procrastinate
import sqlalchemy as sa

from app.errors import FlowbridgeError
from app.services import operations
from app.store import runs
from app.store.database import Store
from app.store.models import Run

QUEUE = "runs"
TASK = "flowbridge.run"
_SCHEMA_LOCK = 7_271_114  # an advisory lock: two processes starting at once apply the schema once


def make_app(connector: Any) -> procrastinate.App:
    """A procrastinate app with Flowbridge's one task, on `connector`."""
    app = procrastinate.App(connector=connector)
    app.task(name=TASK, queue=QUEUE, pass_context=True)(_run_job)
    return app


def _run_job(context: procrastinate.JobContext, run_id: str) -> None:
    root = context.additional_context["root"]
    operations.run_accepted(root.store, run_id, root.node_types)


def lock_of(run: Run) -> str:
    """One run of a flow in an environment at a time, across every worker."""
    return f"flow:{run.flow_id}:{run.env}"


def ensure_schema(store: Store) -> None:
    """procrastinate's tables in the store's database, made once by whichever process comes first."""
    if store.engine.dialect.name != "postgresql":
        raise FlowbridgeError(
            "FLOWBRIDGE_RUN_QUEUE=workers needs a PostgreSQL store (FLOWBRIDGE_DB_URL=postgresql://…): "
            f"this one is {store.engine.dialect.name}"
        )
    with store.engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        if conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            conn.exec_driver_sql(procrastinate.schema.SchemaManager.get_schema().replace("%", "%%"))


class WorkerQueue:
    """Where a server puts accepted runs for the workers (the same `accept` as the in-process
    operations.RunQueues)."""

    def __init__(self, store: Store) -> None:
        ensure_schema(store)
        # The job is written on the session's own connection, through the connector of its driver:
        # SQLAlchemy's connection for psycopg2, the driver's own connection for psycopg 3.
        self._driver = store.engine.driver
        if self._driver == "psycopg2":
            from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector

            connector: Any = SQLAlchemyPsycopg2Connector()
            connector.open(store.engine)
        elif self._driver == "psycopg":
            connector = procrastinate.SyncPsycopgConnector()
        else:
            raise FlowbridgeError(
                f"FLOWBRIDGE_RUN_QUEUE=workers takes a store through psycopg or psycopg2, not {self._driver}"
            )
        self._app = make_app(connector)

    def accept(self, store: Store, run: Run, work: Any) -> None:
        """Store `run` as queued and defer its job, in one transaction (`work` is for the in-process
        queue: a worker runs the stored row)."""
        run.status, run.process = "queued", runs.WORKER_POOL
        with store.session() as session:
            session.add(run)
            session.flush()
            self.defer_in(session, run)
            session.commit()

    def defer_in(self, session: Any, run: Run) -> None:
        """Defer the job of `run` (its row added in `session`) in `session`'s own transaction."""
        connection = session.connection()
        if self._driver == "psycopg":
            connection = connection.connection.driver_connection
        task = self._app.tasks[TASK]
        task.configure(connection=connection, lock=lock_of(run)).defer(run_id=run.id)

    def drain(self) -> None:
        """Nothing waits in this process: the queue is the database's."""
