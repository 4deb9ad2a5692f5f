"""Switching flows on and off: validated first, recorded with who and when, seen by the scheduler.

The switch is operational state kept in the store (not in the flow document). The scheduler of a
running `flowbridge serve` picks a change up at once when it happens in the same process, and
within a few seconds when it comes from the CLI or another process.
"""

from __future__ import annotations

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
