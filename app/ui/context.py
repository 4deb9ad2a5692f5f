"""The store the web app works on, opened once per process (FLOWBRIDGE_DB_URL or ./flowbridge.db)."""

from __future__ import annotations

from typing import Any

from app.store.database import Store

_store: Store | None = None


def use_store(store: Store | None) -> None:
    global _store
    _store = store


def store() -> Store:
    global _store
    if _store is None:
        _store = Store()
    return _store


def scheduler() -> Any:
    """The FlowScheduler this process runs (`flowbridge serve`), or None (tests, a second server)."""
    from app.api import server

    return server._scheduler
