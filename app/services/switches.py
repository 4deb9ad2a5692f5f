"""Switching flows on and off: validated first, recorded with who and when, seen by the scheduler.

The switch is operational state kept in the store (not in the flow document). The scheduler of a
running `flowbridge serve` picks a change up at once when it happens in the same process, and
within a few seconds when it comes from the CLI or another process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlmodel import select

from app.engine.validation import validate_document
from app.errors import FlowbridgeError
from app.services import access
from app.store.database import Store
from app.store.flows import get_document
from app.store.models import Flow, FlowSwitch, utcnow
from nodes.base import NodeTypes


def on_switch(store: Store, listener: Callable[[str], None]) -> None:
    """Call `listener(flow_id)` after each switch of a flow in `store` (the scheduler, to reconcile at once)."""
    store.switch_listeners.append(listener)


def forget_listener(store: Store, listener: Callable[[str], None]) -> None:
    if listener in store.switch_listeners:
        store.switch_listeners.remove(listener)


class CannotSwitchOn(FlowbridgeError):
    """The flow has validation problems: a draft cannot run unattended."""


def switch(
    store: Store,
    flow_id: str,
    enabled: bool,
    *,
    who: access.Principal | None,
    reason: str = "",
    types: NodeTypes | None = None,
) -> Flow:
    """Switch a flow on or off by `who` (their role must allow it) and record it; switching on a
    flow with problems (against `types`, default the registry of nodes/) is refused."""
    who = access.require(who, "switch")
    return record_switch(store, flow_id, enabled, who=who.name, reason=reason, types=types)


def record_switch(
    store: Store, flow_id: str, enabled: bool, *, who: str, reason: str = "", types: NodeTypes | None = None
) -> Flow:
    """Switch a flow and record it, for the product's own rules (a draft never runs, too many failed
    runs): whoever caused it is named, and no role is asked."""
    document, _ = get_document(store, flow_id)
    if enabled:
        problems = validate_document(document, types)
        if problems:
            raise CannotSwitchOn(
                f"flow '{flow_id}' is a draft with {len(problems)} problem(s) and cannot be "
                f"switched on; first: {problems[0]}. Fix them in the editor and save"
            )
    with store.session() as session:
        flow = session.get(Flow, flow_id)
        changed = flow.enabled != enabled
        flow.enabled = enabled
        flow.updated_at = utcnow()
        session.add(flow)
        if changed:
            session.add(FlowSwitch(flow_id=flow_id, enabled=enabled, who=who or "unknown", reason=reason))
        session.commit()
        session.refresh(flow)
    for listener in list(store.switch_listeners):
        listener(flow_id)
    return flow


def history(store: Store, flow_id: str, limit: int = 50) -> list[FlowSwitch]:
    with store.session() as session:
        return list(
            session.exec(
                select(FlowSwitch).where(FlowSwitch.flow_id == flow_id).order_by(FlowSwitch.id.desc()).limit(limit)
            ).all()
        )


def first_run_once_on(
    store: Store, flow_id: str, types: NodeTypes | None = None, *, now: dt.datetime | None = None
) -> dt.datetime | None:
    """When a scheduled flow would first run if switched on now (what the switch's confirmation
    says); None for a flow started another way (a webhook, by hand)."""
    from app.scheduler import make_trigger, schedule_of

    document, _ = get_document(store, flow_id)
    config = schedule_of(document, types)
    if config is None:
        return None
    try:
        trigger = make_trigger(config)
    except (ValueError, KeyError, TypeError):  # a draft's half-typed schedule: said by its problems
        return None
    moment: dt.datetime | None = trigger.get_next_fire_time(None, now or dt.datetime.now(dt.UTC))
    return moment
