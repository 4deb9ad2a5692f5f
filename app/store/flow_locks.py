"""One run of a flow in an environment at a time, whichever process starts it: a row each in the store.

Per environment because that is what two runs must not share: a flow's cursors, links and write
outcomes are kept per environment, so a replay in the sandbox may go on while production runs.

A lock in one process's memory cannot see `flowbridge run` in a terminal, the web server, or a
worker on another machine; a row with the flow's id as its primary key can, on every database the
store runs on (SQLite, PostgreSQL, MariaDB): the second insert fails. The row names its run and its
process, so a start that finds it taken can say which run holds it, and a lock left behind — by a
process that was killed (on this machine, where that can be seen), or of a run that has ended all
the same — is freed rather than kept forever.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.store.database import Store
from app.store.models import FlowLock, Run, utcnow
from app.store.runs import process_gone, this_process


def take(store: Store, flow_id: str, env: str, run_id: str) -> FlowLock | None:
    """Take the flow's lock in `env` for `run_id`: None when taken, else the lock that holds it."""
    for _ in range(2):  # a second try after freeing a lock whose process is gone
        try:
            with store.session() as session:
                session.add(FlowLock(flow_id=flow_id, env=env, run_id=run_id, process=this_process(), since=utcnow()))
                session.commit()
            return None
        except sa.exc.IntegrityError:
            holder = holder_of(store, flow_id, env)
            if holder is None:
                continue  # released between the insert and the look
            if not _left_behind(store, holder):
                return holder
            release(store, flow_id, env, holder.run_id)
    return holder_of(store, flow_id, env)


def _left_behind(store: Store, lock: FlowLock) -> bool:
    """A lock whose process was killed (seen on this machine), or whose run has ended all the same
    (marked interrupted when a server started again)."""
    if process_gone(lock.process):
        return True
    with store.session() as session:
        run = session.get(Run, lock.run_id)
    return run is not None and run.status not in ("running", "queued")


def holder_of(store: Store, flow_id: str, env: str) -> FlowLock | None:
    with store.session() as session:
        return session.get(FlowLock, (flow_id, env))


def release(store: Store, flow_id: str, env: str, run_id: str) -> None:
    """Free the flow's lock in `env` if `run_id` holds it."""
    table = FlowLock.__table__
    with store.engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.flow_id == flow_id, table.c.env == env, table.c.run_id == run_id))
