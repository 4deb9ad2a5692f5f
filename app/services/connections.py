"""Connections as a user manages them: saving one (an admin's act: it holds secrets) and listing
them with their secrets hidden. The store seals the settings with its key (store/connections.py)."""

from __future__ import annotations

from typing import Any

from app.connectors.settings_schemas import settings_problems
from app.errors import FlowbridgeError
from app.services import access
from app.store import connections as connection_store
from app.store.database import Store


def save_connection(
    store: Store, name: str, env: str, type_: str, settings: dict[str, Any], *, who: access.Principal | None
) -> None:
    """Add or change connection `name` in `env`; refused for every role but admin."""
    access.require(who, "connections")
    problems = settings_problems(type_, settings)
    if problems:
        raise FlowbridgeError(f"connection '{name}' ({env}): " + "; ".join(problems))
    connection_store.set_connection(store, name, env, type_, settings)


def connections(store: Store) -> list[dict[str, Any]]:
    """Every connection: name, environment, type and its target with any password hidden."""
    return connection_store.list_connections(store)
