"""The store's tables (SQLModel). Alembic migrations in migrations/ create and upgrade them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Flow(SQLModel, table=True):
    """A flow; its document lives in FlowVersion, its on/off switch here (operational state)."""

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    description: str = ""
    current_version: int = 1
    enabled: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class FlowVersion(SQLModel, table=True):
    """Every saved document of a flow; versions count up from 1 and are never changed."""

    __table_args__ = (UniqueConstraint("flow_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    flow_id: str = Field(foreign_key="flow.id", index=True, max_length=100)
    version: int
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    comment: str = ""
    author: str = Field(default="", max_length=100)
    created_at: dt.datetime = Field(default_factory=utcnow)


class Run(SQLModel, table=True):
    """One run of a flow, with its totals; its ledger is in NodeLedger."""

    __table_args__ = (Index("ix_run_flow_started", "flow_id", "started_at"),)
    id: str = Field(primary_key=True, max_length=40)
    flow_id: str = Field(index=True, max_length=100)
    flow_version: int | None = None
    env: str = Field(max_length=40)
    trigger: str = Field(default="manual", max_length=40)
    status: str = Field(default="running", max_length=20, index=True)
    dry_run: bool = False
    started_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    totals: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = None
    payload: list[Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Retries of transient faults during the run: what failed, which attempt, how long it waited.
    events: list[Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    started_by: str = Field(default="", max_length=100)
    replay_of: str | None = Field(default=None, max_length=40)  # the run a replay ran again
    # Where it runs (host:pid), so a run whose process is gone is known for interrupted, not running.
    process: str | None = Field(default=None, max_length=100)
    # The document it ran when that is no stored version (a file): a replay can always run it again.
    document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # While it runs: its batches so far, the node at work, retries so far (services/live_progress.py).
    progress: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Someone asked it to stop: it ends at its next batch boundary, as `cancelled`.
    stop_requested_by: str | None = Field(default=None, max_length=100)
    stop_requested_at: dt.datetime | None = None


class NodeLedger(SQLModel, table=True):
    """A node's counts in one run: records in, out per port, failed, written, time spent."""

    run_id: str = Field(primary_key=True, foreign_key="run.id", max_length=40)
    node_id: str = Field(primary_key=True, max_length=64)
    seq: int = 0  # the node's place in the run's order, to list the ledger as the flow runs
    counts: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # A few records in and out per port, for the run's detail page.
    samples: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class DeadLetter(SQLModel, table=True):
    """A record that failed, as it entered the node that failed it, with the reason."""

    __table_args__ = (Index("ix_deadletter_flow_status", "flow_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True, max_length=40)
    flow_id: str = Field(max_length=100)
    env: str = Field(max_length=40)
    node_id: str = Field(max_length=64)
    reason: str
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=20)  # open, retried, discarded
    created_at: dt.datetime = Field(default_factory=utcnow)
    resolved_by: str | None = None
    resolved_at: dt.datetime | None = None
    retried_in: str | None = Field(default=None, max_length=40)  # the run that retried it
    # One open letter per flow, environment, node and record: a record failing again on every run
    # that reads it updates its letter (how often, when last, why last) instead of making another.
    record_key: str | None = Field(default=None, max_length=64, index=True)
    count: int = 1
    last_seen_at: dt.datetime | None = None
    details: str | None = None  # what the system answered, capped (an error page, say): the reason stays short


class Cursor(SQLModel, table=True):
    """How far a read node has committed, per flow, node and environment."""

    flow_id: str = Field(primary_key=True, max_length=100)
    node_id: str = Field(primary_key=True, max_length=64)
    env: str = Field(primary_key=True, max_length=40)
    position: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Connection(SQLModel, table=True):
    """A logical connection (crm, erp) in one environment; settings are encrypted at rest."""

    name: str = Field(primary_key=True, max_length=64)
    env: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=20)
    secret_settings: str  # Fernet token of the settings' JSON
    updated_at: dt.datetime = Field(default_factory=utcnow)


class SyncLink(SQLModel, table=True):
    """One record known in two systems: its id in each, and each side's row after the last sync.

    The link is the ID cross-reference (CRM account 17 is ERP customer 10023) and the memory a
    two-way sync needs: a side whose row still equals its snapshot has not changed since, so a
    write made by a sync is not taken for a new change and echoed back."""

    __table_args__ = (
        UniqueConstraint("env", "entity", "a_system", "a_id", "b_system"),
        UniqueConstraint("env", "entity", "b_system", "b_id", "a_system"),
    )
    id: int | None = Field(default=None, primary_key=True)
    env: str = Field(max_length=40)
    entity: str = Field(max_length=64)
    a_system: str = Field(max_length=64)  # the two systems in alphabetical order
    a_id: str = Field(max_length=200)
    b_system: str = Field(max_length=64)
    b_id: str = Field(max_length=200)
    a_snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    b_snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Conflict(SQLModel, table=True):
    """A field changed on both sides since the last sync, held for someone to decide."""

    __table_args__ = (Index("ix_conflict_status", "env", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    env: str = Field(max_length=40)
    flow_id: str = Field(max_length=100)
    run_id: str = Field(max_length=40)
    entity: str = Field(max_length=64)
    field: str = Field(max_length=100)
    source_system: str = Field(max_length=64)
    source_id: str = Field(max_length=200)
    source_value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    target_system: str = Field(max_length=64)
    target_id: str = Field(max_length=200)
    target_value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default="open", max_length=20)  # open, resolved
    created_at: dt.datetime = Field(default_factory=utcnow)
    resolved_by: str | None = None
    resolved_at: dt.datetime | None = None


class FlowSwitch(SQLModel, table=True):
    """Every time a flow was switched on or off: by whom, when, and why."""

    id: int | None = Field(default=None, primary_key=True)
    flow_id: str = Field(index=True, max_length=100)
    enabled: bool
    who: str = Field(max_length=100)
    reason: str = ""
    at: dt.datetime = Field(default_factory=utcnow)


class WebhookSecret(SQLModel, table=True):
    """A flow's webhook secret (a token, or the HMAC key), sealed like connection settings."""

    flow_id: str = Field(primary_key=True, max_length=100)
    sealed: str
    created_at: dt.datetime = Field(default_factory=utcnow)


class Alert(SQLModel, table=True):
    """Something an admin must know: a failed run, a flow switched off, a flow not synced for too long."""

    __table_args__ = (Index("ix_alert_open", "status", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    flow_id: str = Field(max_length=100)
    kind: str = Field(max_length=40)  # run_failed, switched_off, stale
    message: str
    run_id: str | None = Field(default=None, max_length=40)
    status: str = Field(default="open", max_length=20)  # open, acknowledged
    delivered: bool = False  # posted to the alert webhook
    created_at: dt.datetime = Field(default_factory=utcnow)
    acknowledged_by: str | None = Field(default=None, max_length=100)
    acknowledged_at: dt.datetime | None = None


class RunRecords(SQLModel, table=True):
    """Records a run kept, in chunks: what each read node read (so the run can be replayed), and
    what reached each write node with what came of it (so a replay can be compared with it)."""

    __table_args__ = (Index("ix_runrecords_run", "run_id", "kind", "node_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=40)
    node_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)  # input (read), written (entered a write), change (its outcome)
    seq: int = 0
    records: list[Any] = Field(sa_column=Column(JSON, nullable=False))


class TestCase(SQLModel, table=True):
    """A replayable case a tester saved on a flow: input records and the writes they must give."""

    __tablename__ = "testcase"
    id: int | None = Field(default=None, primary_key=True)
    flow_id: str = Field(index=True, max_length=100)
    name: str = Field(max_length=200)
    payload: list[Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    inputs: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # read node -> records
    expected: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # write node -> records
    # node -> the records that failed there, each with why ({"record": …, "reason": …}): a case checks
    # that what failed still fails (and what was written is not refused now)
    expected_failed: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_by: str = Field(default="", max_length=100)
    created_at: dt.datetime = Field(default_factory=utcnow)
    from_run: str | None = Field(default=None, max_length=40)


class User(SQLModel, table=True):
    """Someone who may use the API: a name, a role, and the hash of their API token."""

    name: str = Field(primary_key=True, max_length=100)
    role: str = Field(max_length=20)  # admin, analyst, tester, viewer
    token_hash: str = Field(index=True, max_length=128)
    created_at: dt.datetime = Field(default_factory=utcnow)


class SignIn(SQLModel, table=True):
    """A browser signed in as a user: the hash of the token its cookie holds, and until when.

    Made anew at every sign-in (whatever session the browser had before stays signed out), kept in
    the store so every server of one store knows it, deleted at sign-out."""

    token_hash: str = Field(primary_key=True, max_length=64)
    user_name: str = Field(index=True, max_length=100)
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime


class WebhookCall(SQLModel, table=True):
    """A signed webhook call accepted: its signature, kept while its timestamp is fresh, so the same
    signed call is never run twice."""

    signature_hash: str = Field(primary_key=True, max_length=64)
    flow_id: str = Field(max_length=100)
    seen_at: dt.datetime = Field(index=True, default_factory=utcnow)


class WriteOutcome(SQLModel, table=True):
    """What a write node did with one record in a target that cannot roll back (an API), kept the
    moment it happens: `sending` before a create is sent (it may reach the target even if the answer
    never comes back), `accepted` with the target's id once the target said yes."""

    __table_args__ = (Index("ix_writeoutcome_run", "run_id"),)
    env: str = Field(primary_key=True, max_length=20)
    flow_id: str = Field(primary_key=True, max_length=100)
    node_id: str = Field(primary_key=True, max_length=64)
    record_key: str = Field(primary_key=True, max_length=255)
    state: str = Field(max_length=20)  # sending, accepted
    outcome: str | None = Field(default=None, max_length=20)  # inserted, updated
    target_id: str | None = Field(default=None, max_length=255)
    idempotency_key: str = Field(max_length=64)
    run_id: str = Field(max_length=40)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class FlowLock(SQLModel, table=True):
    """The run of a flow in an environment that is going now, whichever process runs it (a server,
    `flowbridge run`, another machine): one row each, so a second start finds it taken
    (store/flow_locks.py)."""

    flow_id: str = Field(primary_key=True, max_length=100)
    env: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(max_length=40)
    process: str = Field(max_length=100)  # host:pid of the holder, so a lock left by a killed process is freed
    since: dt.datetime = Field(default_factory=utcnow)


class ScheduleTick(SQLModel, table=True):
    """A schedule's tick of a flow that a server took to run: one row per (flow, environment, tick),
    so when several servers compute the same tick, the database lets one of them have it
    (store/schedule_ticks.py)."""

    flow_id: str = Field(primary_key=True, max_length=100)
    env: str = Field(primary_key=True, max_length=40)
    tick_at: dt.datetime = Field(primary_key=True)
    run_id: str = Field(max_length=40)
    process: str = Field(max_length=100)  # host:pid of the server that took it


class Worker(SQLModel, table=True):
    """A `flowbridge worker` (or a `flowbridge serve` keeping schedules): it says it is alive every
    few seconds (`seen_at`), so `flowbridge workers` lists who is up and what each runs (its runs'
    `process` is its name), and a server starting elsewhere can tell its runs from a dead one's."""

    name: str = Field(primary_key=True, max_length=100)  # host:pid
    kind: str = Field(default="worker", max_length=20)  # worker, server
    concurrency: int = 1
    started_at: dt.datetime = Field(default_factory=utcnow)
    seen_at: dt.datetime = Field(default_factory=utcnow)
    stopped_at: dt.datetime | None = None
