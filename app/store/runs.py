"""Runs, their node ledgers, their dead letters, and read cursors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import func, select

from app.clock import as_utc
from app.errors import FlowbridgeError, NotFound
from app.records import Failure
from app.store.database import Store
from app.store.models import Cursor, DeadLetter, NodeLedger, Run, RunRecords, utcnow

MAX_DEAD_LETTER_RECORD_CHARS = 200_000
MAX_DETAILS_CHARS = 4000
TESTING_TRIGGERS = ("replay", "test")  # a tester's runs: not the flow's operation


def operational() -> Any:
    """The runs that say how a flow operates: not dry runs, replays or test cases (health, alerts,
    last run, failures, the automatic switch-off look only at these)."""
    return (Run.dry_run == False) & Run.trigger.not_in(TESTING_TRIGGERS)  # noqa: E712


# The `process` of a run queued for the worker pool: no one process holds it, so no process's death
# makes it stale; a worker takes it over (its name then) when it starts it.
WORKER_POOL = "worker pool"


def this_process() -> str:
    """host:pid of this process, as a run records where it runs."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def start_run(store: Store, run: Run) -> None:
    """Record a run as running in this process (a queued run's row is taken over, keeping its stored
    payload; a run handed to a child process is taken over by the child)."""
    with store.session() as session:
        queued = session.get(Run, run.id)
        if queued is not None:
            queued.status, queued.started_at, queued.flow_version = "running", run.started_at, run.flow_version
            queued.process = this_process()
            queued.document = run.document if run.document is not None else queued.document
            session.add(queued)
        else:
            run.process = this_process()
            session.add(run)
        session.commit()


def gone_runs(store: Store) -> list[Run]:
    """Runs still marked running whose process on this machine has ended (killed, say)."""
    with store.session() as session:
        running = session.exec(select(Run).where(Run.status == "running", Run.process.is_not(None))).all()
    return [run for run in running if process_gone(run.process or "")]


def process_gone(process: str, since: dt.datetime | None = None) -> bool:
    """Whether the process `host:pid` is known to have ended: only a process of this machine can be
    looked at; one of another machine is taken for alive. With `since` (when the run or lock began),
    a process by that pid started later is another one (the machine restarted, the pid was reused)."""
    import os

    host = this_process().rsplit(":", 1)[0]
    where, _, pid = process.rpartition(":")
    if where != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        pass
    if _state(int(pid)) == "Z":  # ended, not yet reaped by its parent (a run's child, say)
        return True
    began = _process_started(int(pid))
    # A run's row may be written a little before its process starts (a child forked for it on a
    # loaded machine): only a process that began well after the run is another by the same pid.
    return since is not None and began is not None and began > as_utc(since) + REUSED_AFTER


REUSED_AFTER = dt.timedelta(seconds=60)


def _state(pid: int) -> str | None:
    """The process' state letter from Linux's /proc (Z: a zombie); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _process_started(pid: int) -> dt.datetime | None:
    """When the process began, from Linux's /proc (None elsewhere, or when it cannot be read)."""
    import os

    try:
        with open(f"/proc/{pid}/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, after the name
        with open("/proc/stat") as machine:
            boot = next(int(line.split()[1]) for line in machine if line.startswith("btime "))
        return dt.datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), dt.UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def stale_runs(store: Store) -> list[Run]:
    """Runs marked running or queued whose process has ended, as far as can be told from here: a
    process of this machine that is gone (or is another by the same pid), one of any machine that
    said it was alive and has stopped saying so (a server or worker: store/workers.py), or none
    recorded. Another machine's process that never says (`flowbridge run`) is taken for alive."""
    from app.store import workers

    with store.session() as session:
        found = session.exec(select(Run).where(Run.status.in_(["running", "queued"]))).all()
    silent = workers.gone_elsewhere(store, {run.process for run in found if run.process})
    return [
        run
        for run in found
        if not run.process or run.process in silent or process_gone(run.process, run.started_at) or _not_heard_from(run)
    ]


SILENT_AFTER = dt.timedelta(seconds=60)  # a running run writes its live view at least every 10 s


def _not_heard_from(run: Run) -> bool:
    """A running run whose live view has not been written for SILENT_AFTER: its process died,
    on whichever machine (services/live_progress.py writes it at least every 10 s)."""
    written = (run.progress or {}).get("updated_at")
    if run.status != "running" or not written:
        return False
    try:
        moment = dt.datetime.fromisoformat(written)
    except ValueError:
        return False
    return utcnow() - as_utc(moment) > SILENT_AFTER


def queue_run(store: Store, run: Run) -> None:
    """A run accepted but not started yet (a webhook call): its payload is safe in the store, and
    the process whose queue it waits in is recorded."""
    run.status, run.process = "queued", this_process()
    with store.session() as session:
        session.add(run)
        session.commit()


def finish_run(
    store: Store,
    run_id: str,
    *,
    status: str,
    totals: dict[str, int],
    error: str | None,
    ledger: dict[str, dict[str, Any]],
    finished_at: dt.datetime | None = None,
    events: list[dict[str, Any]] | None = None,
    samples: dict[str, Any] | None = None,
) -> None:
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFound(f"there is no run '{run_id}'")
        run.status, run.totals, run.error, run.events = status, totals, error, events
        run.finished_at = finished_at or utcnow()
        session.add(run)
        for seq, (node_id, counts) in enumerate(ledger.items()):
            session.merge(
                NodeLedger(run_id=run_id, node_id=node_id, seq=seq, counts=counts, samples=(samples or {}).get(node_id))
            )
        session.commit()


def record_progress(
    store: Store,
    run_id: str,
    *,
    totals: dict[str, int],
    ledger: dict[str, dict[str, Any]],
    progress: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> None:
    """What a running run has done so far (after each committed batch, and about every second while
    it goes): a run that is stopped or killed shows what it did, not empty totals.

    Written with a few Core statements in one transaction (it runs after every batch): the run's
    row only while it is running (never over what finish_run wrote), then each node's counts."""
    run_table, ledger_table = Run.__table__, NodeLedger.__table__  # type: ignore[attr-defined]
    changes: dict[str, Any] = {"totals": totals}
    if progress is not None:
        changes["progress"] = progress
    if events is not None:
        changes["events"] = events or None
    with store.engine.begin() as conn:
        still_running = conn.execute(
            run_table.update().where(run_table.c.id == run_id, run_table.c.status == "running").values(**changes)
        ).rowcount
        if not still_running or not ledger:
            return
        known = set(conn.execute(sa.select(ledger_table.c.node_id).where(ledger_table.c.run_id == run_id)).scalars())
        rows = [(seq, node_id, counts) for seq, (node_id, counts) in enumerate(ledger.items())]
        updated = [{"r": run_id, "n": node_id, "counts": counts} for _, node_id, counts in rows if node_id in known]
        added = [
            {"run_id": run_id, "node_id": node_id, "seq": seq, "counts": counts}
            for seq, node_id, counts in rows
            if node_id not in known
        ]
        if updated:
            conn.execute(
                ledger_table.update()
                .where(ledger_table.c.run_id == sa.bindparam("r"), ledger_table.c.node_id == sa.bindparam("n"))
                .values(counts=sa.bindparam("counts")),
                updated,
            )
        if added:
            conn.execute(ledger_table.insert(), added)


class RunEnded(FlowbridgeError):
    """A stop asked of a run that is not going any more."""


def request_stop(store: Store, run_id: str, who: str) -> Run:
    """Ask a run to stop: a running one ends at its next batch boundary (see the executor), a queued
    one is cancelled at once (its records stay with it). RunEnded when it has ended already."""
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFound(f"there is no run '{run_id}'")
        if run.status not in ("running", "queued"):
            raise RunEnded(f"run {run_id} is not going: it ended as {run.status}")
        if run.stop_requested_at is None:
            run.stop_requested_by, run.stop_requested_at = who[:100], utcnow()
        if run.status == "queued":
            run.status, run.finished_at = "cancelled", utcnow()
        session.add(run)
        session.commit()
        session.refresh(run)
        return run


def stop_requested(store: Store, run_id: str) -> bool:
    with store.session() as session:
        return session.exec(select(Run.stop_requested_at).where(Run.id == run_id)).first() is not None


def record_key(record: dict[str, Any]) -> str:
    """A record's identity among dead letters: the hash of its fields (the same record read again
    and failing again is the same letter)."""
    import hashlib
    import json

    text = json.dumps({k: v for k, v in record.items() if k != "_meta"}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def add_dead_letters(store: Store, run: Run, node_id: str, failures: list[Failure]) -> None:
    """Keep failed records; one open letter per flow, environment, node and record: a record that
    fails again (every run that reads it, say) updates its letter — count, last seen, last reason,
    the run — instead of adding another that a "retry all" would retry twice."""
    keyed: dict[str, Failure] = {}
    times: dict[str, int] = {}
    for failure in failures:
        key = record_key(failure.record)
        keyed[key] = failure  # the last of a record's failures in this batch says why
        times[key] = times.get(key, 0) + 1
    now = utcnow()
    with store.session() as session:
        found = (
            {
                letter.record_key: letter
                for letter in session.exec(
                    select(DeadLetter).where(
                        DeadLetter.flow_id == run.flow_id,
                        DeadLetter.env == run.env,
                        DeadLetter.node_id == node_id,
                        DeadLetter.status == "open",
                        DeadLetter.record_key.in_(list(keyed)),
                    )
                ).all()
            }
            if keyed
            else {}
        )
        for key, failure in keyed.items():
            letter = found.get(key)
            if letter is None:
                letter = DeadLetter(
                    run_id=run.id,
                    flow_id=run.flow_id,
                    env=run.env,
                    node_id=node_id,
                    reason=failure.reason,
                    record=_storable(failure.record),
                    record_key=key,
                    last_seen_at=now,
                    count=times[key],
                )
            else:
                letter.count, letter.last_seen_at = letter.count + times[key], now
                letter.reason, letter.run_id = failure.reason, run.id
            letter.details = failure.details[:MAX_DETAILS_CHARS] if failure.details else None
            session.add(letter)
        session.commit()


def _storable(record: dict[str, Any]) -> dict[str, Any]:
    """Records are stored whole; values JSON cannot hold are kept as their text."""
    import json

    text = json.dumps(record, default=str)
    if len(text) > MAX_DEAD_LETTER_RECORD_CHARS:
        return {"_truncated": text[:MAX_DEAD_LETTER_RECORD_CHARS]}
    return json.loads(text)


def get_run(store: Store, run_id: str) -> Run:
    return store.fetch(Run, run_id, f"there is no run '{run_id}'")


def list_runs(
    store: Store,
    flow_id: str | None = None,
    limit: int = 50,
    *,
    status: str | None = None,
    env: str | None = None,
    trigger: str | None = None,
) -> list[Run]:
    with store.session() as session:
        query = select(Run).order_by(Run.started_at.desc()).limit(limit)
        for column, value in ((Run.flow_id, flow_id), (Run.status, status), (Run.env, env), (Run.trigger, trigger)):
            if value:
                query = query.where(column == value)
        return list(session.exec(query).all())


def run_ledger(store: Store, run_id: str) -> dict[str, dict[str, Any]]:
    with store.session() as session:
        rows = session.exec(select(NodeLedger).where(NodeLedger.run_id == run_id).order_by(NodeLedger.seq)).all()
    return {row.node_id: row.counts for row in rows}


def dead_letters(
    store: Store,
    *,
    run_id: str | None = None,
    flow_id: str | None = None,
    status: str | None = "open",
    limit: int = 1000,
) -> list[DeadLetter]:
    with store.session() as session:
        query = select(DeadLetter).order_by(DeadLetter.id).limit(limit)
        if run_id:
            query = query.where(DeadLetter.run_id == run_id)
        if flow_id:
            query = query.where(DeadLetter.flow_id == flow_id)
        if status:
            query = query.where(DeadLetter.status == status)
        return list(session.exec(query).all())


KEPT_CHUNK = 1000


def keep_records(store: Store, run_id: str, kept: dict[tuple[str, str], list[Any]]) -> None:
    """Store what a run kept (see StoreRunServices), in chunks."""
    with store.session() as session:
        for (kind, node_id), records in kept.items():
            for seq, start in enumerate(range(0, len(records), KEPT_CHUNK)):
                session.add(
                    RunRecords(
                        run_id=run_id, node_id=node_id, kind=kind, seq=seq, records=records[start : start + KEPT_CHUNK]
                    )
                )
        session.commit()


def kept_records(store: Store, run_id: str, kind: str) -> dict[str, list[Any]]:
    """node id -> the records of that kind a run kept, in order."""
    with store.session() as session:
        rows = session.exec(
            select(RunRecords)
            .where(RunRecords.run_id == run_id, RunRecords.kind == kind)
            .order_by(RunRecords.node_id, RunRecords.seq)
        ).all()
    kept: dict[str, list[Any]] = {}
    for row in rows:
        kept.setdefault(row.node_id, []).extend(row.records)
    return kept


def run_samples(store: Store, run_id: str) -> dict[str, Any]:
    """Per node: the first records in, and out of each port."""
    with store.session() as session:
        rows = session.exec(select(NodeLedger).where(NodeLedger.run_id == run_id)).all()
    return {row.node_id: row.samples or {"in": [], "out": {}} for row in rows}


def count_dead_letters(store: Store, run_id: str) -> int:
    with store.session() as session:
        return session.exec(select(func.count()).select_from(DeadLetter).where(DeadLetter.run_id == run_id)).one()


def get_cursor(store: Store, flow_id: str, node_id: str, env: str) -> Any:
    with store.session() as session:
        row = session.get(Cursor, (flow_id, node_id, env))
    return row.position if row else None


def commit_cursor(store: Store, flow_id: str, node_id: str, env: str, position: Any) -> None:
    with store.session() as session:
        row = session.get(Cursor, (flow_id, node_id, env)) or Cursor(flow_id=flow_id, node_id=node_id, env=env)
        row.position, row.updated_at = position, utcnow()
        session.add(row)
        session.commit()


def reset_cursors(store: Store, flow_id: str, env: str) -> None:
    with store.session() as session:
        for row in session.exec(select(Cursor).where(Cursor.flow_id == flow_id, Cursor.env == env)).all():
            session.delete(row)
        session.commit()
