"""What the pages, the API and the CLI show of stored flows: their names, documents and versions.

Reading needs no role beyond being signed in (every role reads); acting on a flow is in
services/designer.py, flows.py and switches.py, which check the caller's role.
"""

from __future__ import annotations

from typing import Any

from app.store import flows as flow_store
from app.store.database import Store
from app.store.models import Flow, FlowVersion

__all__ = ["Flow", "FlowVersion", "current_version", "document", "flow", "flow_ids", "flow_names", "flows", "versions"]


def flows(store: Store) -> list[Flow]:
    """Every stored flow, by name."""
    return flow_store.list_flows(store)


def flow(store: Store, flow_id: str) -> Flow:
    """One flow's row; NotFound naming it when there is none."""
    return flow_store.get_flow(store, flow_id)


def flow_names(store: Store) -> dict[str, str]:
    """flow id → its name, for the pages' pickers and links."""
    return {f.id: f.name for f in flow_store.list_flows(store)}


def flow_ids(store: Store) -> set[str]:
    return {f.id for f in flow_store.list_flows(store)}


def document(store: Store, flow_id: str, version: int | None = None) -> tuple[dict[str, Any], int]:
    """A flow's document (its current version unless one is named) and that version's number."""
    return flow_store.get_document(store, flow_id, version)


def current_version(store: Store, flow_id: str) -> int:
    return flow_store.get_flow(store, flow_id).current_version


def versions(store: Store, flow_id: str) -> list[FlowVersion]:
    """A flow's versions, newest first."""
    return flow_store.list_versions(store, flow_id)
