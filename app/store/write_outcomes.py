"""The durable outcome of each record a write sends to a target that cannot roll back (an API).

A database target commits a batch or nothing; an API takes records one call at a time and cannot
take them back. So each record a write creates there is marked `sending` before the call (the call
may land even if its answer is lost) and `accepted` — with the target's id, its link and its
outcome, in one transaction — the moment the target says yes. What that gives:
- a record marked `sending` may be in the target: it is looked for there before it is created
  again, and sent again with the same idempotency key where the API honours one;
- a record `accepted` keeps its link and its target id whatever stops the run next;
- a run that was stopped gets its write counts back from its `accepted` outcomes (settle_run).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.records import LinkUpdate
from app.store.database import Store
from app.store.models import NodeLedger, Run, WriteOutcome, utcnow
from app.store.sync import save_links_in

CHUNK = 500


@dataclass(frozen=True)
class Where:
    """The write node whose outcomes these are."""

    env: str
    flow_id: str
    node_id: str


def known(store: Store, where: Where, keys: list[str]) -> dict[str, WriteOutcome]:
    """The outcomes kept for these record keys, by key (keys never written are absent)."""
    table = WriteOutcome.__table__
    found: dict[str, WriteOutcome] = {}
    unique = list(dict.fromkeys(keys))
    with store.engine.connect() as conn:
        for start in range(0, len(unique), CHUNK):
            rows = conn.execute(
                sa.select(table).where(
                    table.c.env == where.env,
                    table.c.flow_id == where.flow_id,
                    table.c.node_id == where.node_id,
                    table.c.record_key.in_(unique[start : start + CHUNK]),
                )
            )
            for row in rows.mappings():
                found[row["record_key"]] = WriteOutcome(**row)
    return found


_TABLE = WriteOutcome.__table__
_THIS = sa.and_(
    _TABLE.c.env == sa.bindparam("w_env"),
    _TABLE.c.flow_id == sa.bindparam("w_flow"),
    _TABLE.c.node_id == sa.bindparam("w_node"),
    _TABLE.c.record_key == sa.bindparam("w_key"),
)
# Built once: these run for every record a write sends, and building a statement costs more than
# running it on SQLite.
_INSERT = sa.insert(_TABLE)
_MARK = sa.update(_TABLE).where(_THIS)


def _where(where: Where, key: str) -> dict[str, str]:
    return {"w_env": where.env, "w_flow": where.flow_id, "w_node": where.node_id, "w_key": key}


class OutcomeWriter:
    """`sending` and `accepted` for one run, over one connection the run holds: a write to an API
    keeps two transactions per record, and checking a pooled connection out and resetting it for
    each would cost as much as their statements. Each call is still its own transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._conn: sa.Connection | None = None

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._store.engine.connect()
        with self._conn.begin():
            yield self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def sending(self, where: Where, key: str, run_id: str, kept: WriteOutcome | None = None) -> str:
        """Mark a record as about to be created; its idempotency key (the one it had, if it was being
        sent before and never accepted: the API then knows the second call for the first). `kept` is
        what `known` gave for it: one statement, or none, instead of a read and a write."""
        if kept is not None and kept.state == "sending":
            return kept.idempotency_key  # marked already, by an earlier attempt or run
        token = secrets.token_hex(16)
        values = {
            "state": "sending",
            "outcome": None,
            "target_id": None,
            "idempotency_key": token,
            "run_id": run_id,
            "updated_at": utcnow(),
        }
        with self._transaction() as conn:
            if kept is None:
                conn.execute(
                    _INSERT,
                    {"env": where.env, "flow_id": where.flow_id, "node_id": where.node_id, "record_key": key, **values},
                )
            else:
                conn.execute(_SEND, {**_where(where, key), **{f"v_{k}": v for k, v in values.items()}})
        return token

    def accepted(
        self,
        where: Where,
        key: str,
        run_id: str,
        outcome: str,
        target_id: str | None,
        links: Sequence[tuple[str, LinkUpdate]] = (),
    ) -> None:
        """The target took the record: its outcome, its id and its links — (entity, link): the
        record's, and its children's — in one transaction."""
        values = {
            "state": "accepted",
            "outcome": outcome,
            "target_id": target_id,
            "run_id": run_id,
            "updated_at": utcnow(),
        }
        with self._transaction() as conn:
            changed = conn.execute(_ACCEPT, {**_where(where, key), **{f"v_{k}": v for k, v in values.items()}}).rowcount
            if not changed:
                conn.execute(
                    _INSERT,
                    {
                        "env": where.env,
                        "flow_id": where.flow_id,
                        "node_id": where.node_id,
                        "record_key": key,
                        "idempotency_key": secrets.token_hex(16),
                        **values,
                    },
                )
            by_entity: dict[str, list[LinkUpdate]] = {}
            for entity, link in links:
                by_entity.setdefault(entity, []).append(link)
            for entity, updates in by_entity.items():
                save_links_in(conn, where.env, entity, updates)


_ACCEPT = _MARK.values(**{k: sa.bindparam(f"v_{k}") for k in ("state", "outcome", "target_id", "run_id", "updated_at")})
_SEND = _MARK.values(
    **{k: sa.bindparam(f"v_{k}") for k in ("state", "outcome", "target_id", "idempotency_key", "run_id", "updated_at")}
)


def settle_run(store: Store, run_id: str) -> dict[str, int]:
    """A stopped run's totals with its write counts as its accepted outcomes say (each record the
    target took counts, even those of a batch the run never finished); its run row is updated."""
    table = WriteOutcome.__table__
    with store.engine.connect() as conn:
        counted = conn.execute(
            sa.select(table.c.node_id, table.c.outcome, sa.func.count())
            .where(table.c.run_id == run_id, table.c.state == "accepted")
            .group_by(table.c.node_id, table.c.outcome)
        ).all()
    if not counted:
        return {}
    by_node: dict[str, dict[str, int]] = {}
    for node_id, outcome, n in counted:
        by_node.setdefault(node_id, {})[outcome] = n
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            return {}
        totals = dict(run.totals or {})
        for node_id, outcomes in by_node.items():
            row = session.get(NodeLedger, (run_id, node_id))
            counts: dict[str, Any] = dict(row.counts) if row is not None else {"in": 0, "out": {}, "failed": 0}
            for outcome, n in outcomes.items():  # a node's summary counts each outcome flat (ledger.py)
                grown = max(n - int(counts.get(outcome) or 0), 0)
                counts[outcome] = int(counts.get(outcome) or 0) + grown
                totals[outcome] = totals.get(outcome, 0) + grown
            if row is None:
                session.add(NodeLedger(run_id=run_id, node_id=node_id, seq=99, counts=counts))
            else:
                row.counts = counts
                session.add(row)
        run.totals = totals
        session.add(run)
        session.commit()
    return totals
