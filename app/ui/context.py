"""What the pages work on: the process' composition root (app/composition.py), kept on NiceGUI's
app.state by create_app, so a page reaches the store and the scheduler without a module global."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nicegui import app

from app.composition import Flowbridge

if TYPE_CHECKING:
    from app.store.database import Store
    from nodes.base import NodeTypes


def use(root: Flowbridge) -> None:
    app.state.flowbridge = root


def root() -> Flowbridge:
    found = getattr(app.state, "flowbridge", None)
    if found is None:
        raise RuntimeError("the web app was not created (app.ui.main.create_app)")
    return found


def store() -> Store:
    return root().store


def node_types() -> NodeTypes:
    """The node types this process' flows may use (the root's: the registry, or a test's own set)."""
    return root().node_types


def scheduler() -> Any:
    """The FlowScheduler this process runs (`flowbridge serve`), or None (tests, a second server)."""
    return root().scheduler
