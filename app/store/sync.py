"""Sync links (the ID cross-reference, with each side's row after the last sync) and conflicts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import func, select

from app.records import LinkState, LinkUpdate
from app.store.database import Store
from app.store.models import Conflict, SyncLink, utcnow

CHUNK = 500  # ids per IN (...)


def _sides(system: str, other: str) -> tuple[str, str, bool]:
    """The link's (a, b) systems, and whether `system` is side a."""
    return (system, other, True) if system <= other else (other, system, False)


def links_for(
    store: Store, env: str, entity: str, system: str, ids: list[str], other: str, snapshots: str = "both"
) -> dict[str, LinkState]:
    """Links of `ids` (ids in `system`) to `other`, by id; ids with no link are absent.

    `snapshots` says which known values to load ("own", "other", "both" or "none"): they are JSON,
    and a filter reading thousands of links a second should not decode what it won't look at."""
    a, b, own_is_a = _sides(system, other)
    table = SyncLink.__table__
    own_column, other_column = (
        (table.c.a_snapshot, table.c.b_snapshot) if own_is_a else (table.c.b_snapshot, table.c.a_snapshot)
    )
    id_column, other_id = (table.c.a_id, table.c.b_id) if own_is_a else (table.c.b_id, table.c.a_id)
    wanted = [
        id_column,
        other_id,
        own_column if snapshots in ("own", "both") else sa.null(),
        other_column if snapshots in ("other", "both") else sa.null(),
    ]
    found: dict[str, LinkState] = {}
    unique = list(dict.fromkeys(ids))
    with store.engine.connect() as conn:
        for start in range(0, len(unique), CHUNK):
            rows = conn.execute(
                sa.select(*wanted).where(
                    table.c.env == env,
                    table.c.entity == entity,
                    table.c.a_system == a,
                    table.c.b_system == b,
                    id_column.in_(unique[start : start + CHUNK]),
                )
            )
            for own_id, partner, own_snapshot, other_snapshot in rows:
                found[own_id] = LinkState(partner, own_snapshot, other_snapshot)
    return found


def all_links(store: Store, env: str, entity: str, system: str, other: str) -> dict[str, str]:
    """Every link of an entity from `system` ids to `other` ids (for a run's xref() cache)."""
    a, b, own_is_a = _sides(system, other)
    with store.session() as session:
        rows = session.exec(
            select(SyncLink.a_id, SyncLink.b_id).where(
                SyncLink.env == env, SyncLink.entity == entity, SyncLink.a_system == a, SyncLink.b_system == b
            )
        ).all()
    return {a_id: b_id for a_id, b_id in rows} if own_is_a else {b_id: a_id for a_id, b_id in rows}


def count_links(store: Store, env: str, entity: str, system: str, other: str) -> int:
    a, b, _ = _sides(system, other)
    with store.session() as session:
        return session.exec(
            select(func.count())
            .select_from(SyncLink)
            .where(SyncLink.env == env, SyncLink.entity == entity, SyncLink.a_system == a, SyncLink.b_system == b)
        ).one()


def save_links(store: Store, env: str, entity: str, updates: list[LinkUpdate]) -> None:
    """Create or move links and keep their snapshots, a batch in one transaction.

    A record linked before to another id on the other side is linked again to the new one (the
    old link is replaced), so one id never has two partners. Bulk statements, not ORM objects: a
    sync saves a link for every record it writes."""
    if not updates:
        return
    with store.engine.begin() as conn:
        save_links_in(conn, env, entity, updates)


def save_links_in(conn: sa.Connection, env: str, entity: str, updates: list[LinkUpdate]) -> None:
    """save_links inside a transaction of the caller's (a write's outcome and its link commit together)."""
    groups: dict[tuple[str, str], dict[tuple[str, str], tuple]] = {}
    for update in updates:
        a, b, own_is_a = _sides(update.system, update.other_system)
        pair = (update.id, update.other_id) if own_is_a else (update.other_id, update.id)
        snaps = (
            (update.own_snapshot, update.other_snapshot) if own_is_a else (update.other_snapshot, update.own_snapshot)
        )
        groups.setdefault((a, b), {})[pair] = snaps  # the last update of a pair in the batch wins
    table = SyncLink.__table__
    now = utcnow()
    for (a, b), wanted in groups.items():
        if len(wanted) == 1:  # one record's link (a write to an API keeps each as it goes): statements built once
            [(a_id, b_id)] = wanted
            existing = list(
                conn.execute(
                    _ONE_PAIR_TOUCHING, {"env": env, "entity": entity, "a": a, "b": b, "a_id": a_id, "b_id": b_id}
                )
            )
        else:
            existing = _links_touching(conn, env, entity, a, b, {p[0] for p in wanted}, {p[1] for p in wanted})
        stale = [row.id for row in existing if (row.a_id, row.b_id) not in wanted]
        if stale:  # one of their ids now belongs to another pair
            conn.execute(sa.delete(table).where(table.c.id.in_(stale)))
        by_pair = {(row.a_id, row.b_id): row.id for row in existing}
        changes = [
            {"link_id": by_pair[p], "new_a": s[0], "new_b": s[1], "now": now} for p, s in wanted.items() if p in by_pair
        ]
        if changes:
            conn.execute(_SNAPSHOTS_UPDATE, changes)
        new = [
            {
                "env": env,
                "entity": entity,
                "a_system": a,
                "a_id": p[0],
                "b_system": b,
                "b_id": p[1],
                "a_snapshot": s[0],
                "b_snapshot": s[1],
                "updated_at": now,
            }
            for p, s in wanted.items()
            if p not in by_pair
        ]
        if new:
            conn.execute(_LINK_INSERT, new)


_LINKS = SyncLink.__table__
_ONE_PAIR_TOUCHING = sa.select(_LINKS.c.id, _LINKS.c.a_id, _LINKS.c.b_id).where(
    _LINKS.c.env == sa.bindparam("env"),
    _LINKS.c.entity == sa.bindparam("entity"),
    _LINKS.c.a_system == sa.bindparam("a"),
    _LINKS.c.b_system == sa.bindparam("b"),
    sa.or_(_LINKS.c.a_id == sa.bindparam("a_id"), _LINKS.c.b_id == sa.bindparam("b_id")),
)
_SNAPSHOTS_UPDATE = (
    sa.update(_LINKS)
    .where(_LINKS.c.id == sa.bindparam("link_id"))
    .values(
        a_snapshot=sa.func.coalesce(sa.bindparam("new_a", type_=sa.JSON), _LINKS.c.a_snapshot),
        b_snapshot=sa.func.coalesce(sa.bindparam("new_b", type_=sa.JSON), _LINKS.c.b_snapshot),
        updated_at=sa.bindparam("now"),
    )
)
_LINK_INSERT = sa.insert(_LINKS)


def _links_touching(
    conn: sa.Connection, env: str, entity: str, a: str, b: str, a_ids: set[str], b_ids: set[str]
) -> list[Any]:
    table = SyncLink.__table__
    found: dict[int, Any] = {}
    if len(a_ids) <= CHUNK and len(b_ids) <= CHUNK:  # one query (a write keeping one record's link, say)
        return list(
            conn.execute(
                sa.select(table.c.id, table.c.a_id, table.c.b_id).where(
                    table.c.env == env,
                    table.c.entity == entity,
                    table.c.a_system == a,
                    table.c.b_system == b,
                    sa.or_(table.c.a_id.in_(sorted(a_ids)), table.c.b_id.in_(sorted(b_ids))),
                )
            )
        )
    for column, ids in ((table.c.a_id, sorted(a_ids)), (table.c.b_id, sorted(b_ids))):
        for start in range(0, len(ids), CHUNK):
            for row in conn.execute(
                sa.select(table.c.id, table.c.a_id, table.c.b_id).where(
                    table.c.env == env,
                    table.c.entity == entity,
                    table.c.a_system == a,
                    table.c.b_system == b,
                    column.in_(ids[start : start + CHUNK]),
                )
            ):
                found[row.id] = row
    return list(found.values())


def forget_links(store: Store, env: str, entity: str, system: str, ids: list[str], other: str) -> None:
    a, b, own_is_a = _sides(system, other)
    id_column = SyncLink.a_id if own_is_a else SyncLink.b_id
    with store.session() as session:
        for row in session.exec(
            select(SyncLink).where(
                SyncLink.env == env,
                SyncLink.entity == entity,
                SyncLink.a_system == a,
                SyncLink.b_system == b,
                id_column.in_(ids),
            )
        ).all():
            session.delete(row)
        session.commit()


def add_conflicts(store: Store, conflicts: list[Conflict]) -> None:
    if conflicts:
        with store.session() as session:
            session.add_all(conflicts)
            session.commit()


def open_conflicts(store: Store, env: str | None = None, flow_id: str | None = None) -> list[Conflict]:
    with store.session() as session:
        query = select(Conflict).where(Conflict.status == "open").order_by(Conflict.id)
        if env:
            query = query.where(Conflict.env == env)
        if flow_id:
            query = query.where(Conflict.flow_id == flow_id)
        return list(session.exec(query).all())
