"""Dead letters: inspect, edit and retry a failed record, retry all of one reason, or discard.

A retried record goes through the rest of the flow from the node that failed it, in a new run of
the flow's current version (trigger "retry"); if it fails again it is a new dead letter of that run,
so nothing is lost either way. Retries and discards record who and when.
"""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select

from app.errors import FlowbridgeError, NotFound
from app.services import access, door
from app.services.runs import new_run_id
from app.store import flows
from app.store.database import Store
from app.store.models import DeadLetter, utcnow
from nodes.base import NodeTypes


def get_letter(store: Store, letter_id: int) -> DeadLetter:
    return store.fetch(DeadLetter, letter_id, f"there is no dead letter #{letter_id}")


def reason_kind(reason: str) -> str:
    """A reason without its particulars (ids, quoted values), so letters that failed alike group:
    "duplicate account: crm 14 and 64 both have name '…'" -> "duplicate account: crm … and … both have name …"."""
    return _PARTICULARS.sub("…", reason)


_PARTICULARS = re.compile(r"'[^']*'|\"[^\"]*\"|\b\d+(?:\.\d+)?\b")


def reasons(store: Store, flow_id: str | None = None) -> list[dict[str, Any]]:
    """Open dead letters grouped by flow, node and kind of reason, biggest groups first; a group of
    one keeps its reason as it is."""
    with store.session() as session:
        query = select(DeadLetter.flow_id, DeadLetter.node_id, DeadLetter.reason, DeadLetter.env).where(
            DeadLetter.status == "open"
        )
        if flow_id:
            query = query.where(DeadLetter.flow_id == flow_id)
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for flow, node, reason, env in session.exec(query).all():
            kind = reason_kind(reason)
            group = groups.setdefault(
                (flow, node, kind),
                {"flow_id": flow, "node_id": node, "reason": kind, "example": reason, "count": 0, "envs": []},
            )
            group["count"] += 1
            if env not in group["envs"]:
                group["envs"].append(env)
    for group in groups.values():
        group["envs"].sort()
        if group["count"] == 1:
            group["reason"] = group["example"]
    return sorted(groups.values(), key=lambda g: -g["count"])


def retry(
    store: Store,
    letter_ids: list[int],
    *,
    who: access.Principal | None,
    edited: dict[str, Any] | None = None,
    types: NodeTypes | None = None,
) -> list[str]:
    """Send records back into the node that failed them, by `who` (their role must allow handling
    dead letters and running in each letter's environment); the ids of the runs that did it."""
    who = access.require(who, "dead_letters")
    letters = [get_letter(store, i) for i in letter_ids]
    for env in sorted({letter.env for letter in letters}):  # a retry is a run there
        access.require(who, "run", env)
    for letter in letters:
        if letter.status != "open":
            raise FlowbridgeError(f"dead letter #{letter.id} was {letter.status} already")
    if edited is not None and len(letters) != 1:
        raise FlowbridgeError("an edited record can only be retried on its own")
    groups: dict[tuple[str, str, str], list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault((letter.flow_id, letter.node_id, letter.env), []).append(letter)
    run_ids = []
    for (flow_id, node_id, env), group in groups.items():
        document, version = flows.get_document(store, flow_id)
        records = [edited] if edited is not None else [letter.record for letter in group]
        ids, run_id = [letter.id for letter in group], new_run_id()
        # Resolved before the run: a record failing again there is a new letter of that run, not
        # this one counted again (one open letter per record).
        _resolve(store, ids, "retried", who.name, retried_in=run_id)
        try:
            result = door.start(
                store,
                who,
                door.RunStart(
                    env=env,
                    trigger="retry",
                    document=document,
                    version=version,
                    payload=records,
                    start_at=node_id,
                    run_id=run_id,
                    types=types,
                ),
            )
        except BaseException:
            _reopen(store, ids)
            raise
        if result.error:
            _reopen(store, ids)
            raise FlowbridgeError(f"the retry run {result.run_id} failed: {result.error}")
        run_ids.append(result.run_id)
    return run_ids


def _open_of_reason(store: Store, flow_id: str, node_id: str, reason: str) -> list[tuple[int, str]]:
    """(id, environment) of the open letters of the flow's node whose reason is of this kind."""
    wanted = reason_kind(reason)
    with store.session() as session:
        found = session.exec(
            select(DeadLetter.id, DeadLetter.reason, DeadLetter.env).where(
                DeadLetter.flow_id == flow_id, DeadLetter.node_id == node_id, DeadLetter.status == "open"
            )
        ).all()
    return [(letter_id, env) for letter_id, text, env in found if reason_kind(text) == wanted]


def reason_envs(store: Store, flow_id: str, node_id: str, reason: str) -> list[str]:
    """The environments a retry of this reason would run in (one run per environment)."""
    return sorted({env for _, env in _open_of_reason(store, flow_id, node_id, reason)})


def retry_reason(
    store: Store,
    flow_id: str,
    node_id: str,
    reason: str,
    *,
    who: access.Principal | None,
    types: NodeTypes | None = None,
) -> list[str]:
    """Retry every open letter of the flow's node whose reason is of this kind (see reason_kind)."""
    ids = [letter_id for letter_id, _ in _open_of_reason(store, flow_id, node_id, reason)]
    if not ids:
        raise NotFound(f"no open dead letters of {flow_id} at {node_id} with that reason")
    return retry(store, ids, who=who, types=types)


def discard(store: Store, letter_ids: list[int], *, who: access.Principal | None) -> None:
    who = access.require(who, "dead_letters")
    for letter_id in letter_ids:
        if get_letter(store, letter_id).status != "open":
            raise FlowbridgeError(f"dead letter #{letter_id} is not open")
    _resolve(store, letter_ids, "discarded", who.name)


def _reopen(store: Store, letter_ids: list[int]) -> None:
    """A retry that could not run: its letters are open again, as they were."""
    with store.session() as session:
        for letter_id in letter_ids:
            letter = session.get(DeadLetter, letter_id)
            letter.status, letter.resolved_by, letter.resolved_at, letter.retried_in = "open", None, None, None
            session.add(letter)
        session.commit()


def _resolve(store: Store, letter_ids: list[int], status: str, who: str, retried_in: str | None = None) -> None:
    with store.session() as session:
        for letter_id in letter_ids:
            letter = session.get(DeadLetter, letter_id)
            letter.status, letter.resolved_by, letter.resolved_at = status, who or "unknown", utcnow()
            letter.retried_in = retried_in
            session.add(letter)
        session.commit()
