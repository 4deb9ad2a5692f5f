"""What the editor's pickers list: connection names, and the tables and columns of a connected system
(for a JSON-RPC ERP, its models and their fields; for an OData service, its entity sets and
properties from $metadata).

Tables and columns are read from the sandbox environment's system (the one analysts test against),
and kept for a minute so a form that opens and closes does not reconnect each time.
"""

from __future__ import annotations

import time
from typing import Any

from app.errors import FlowbridgeError
from app.store import connections
from app.store.database import Store

PICKER_ENV = "sandbox"
CACHE_SECONDS = 60.0
_cache: dict[tuple[str, str, str, str], tuple[float, list[str]]] = {}


def connection_names(store: Store) -> list[str]:
    return connections.connection_names(store)


def _cached(key: tuple[str, str, str, str], load: Any) -> list[str]:
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = load()
    _cache[key] = (time.monotonic(), value)
    return value


def _with_connector(store: Store, connection: str, env: str, work: Any) -> list[str]:
    spec = connections.connection_spec(store, connection, env)
    if spec.type not in ("sql", "jsonrpc", "odata"):
        raise FlowbridgeError(f"connection '{connection}' is a {spec.type} connection; it has no tables")
    connector = spec.open()
    try:
        return work(connector)
    finally:
        connector.close()


def tables(store: Store, connection: str, env: str = PICKER_ENV) -> list[str]:
    """The tables of the system a connection names in `env`; FlowbridgeError when it can't be reached."""
    return _cached(
        (store.url, env, connection, ""), lambda: _with_connector(store, connection, env, lambda c: c.tables())
    )


def columns(store: Store, connection: str, table: str, env: str = PICKER_ENV) -> list[str]:
    """The columns of one table, in the table's order."""
    return _cached(
        (store.url, env, connection, table), lambda: _with_connector(store, connection, env, lambda c: c.columns(table))
    )


def required_columns(store: Store, connection: str, table: str, env: str = PICKER_ENV) -> list[str]:
    """The columns a new record of the table must have (the field mapper marks them)."""
    return _cached(
        (store.url, env, connection, f"{table}\0required"),
        lambda: _with_connector(store, connection, env, lambda c: c.required_columns(table)),
    )


def forget(store: Store) -> None:
    """Drop what was read (after a connection changes, or in tests)."""
    for key in [k for k in _cache if k[0] == store.url]:
        del _cache[key]
