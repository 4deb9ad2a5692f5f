"""The child process side of services.isolation: run one run under a memory limit, report back.

The fork server imports this module once, and with it everything a run uses, warmed up (the node
registry, the flow and config schemas, the store's table mappings): each child forked from it
starts a run in milliseconds instead of paying for imports and first uses again.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from typing import Any

import sqlalchemy.orm

import nodes
from app.connectors import files, rest, sql_write  # noqa: F401  (imported here to be warm in children)
from app.connectors.sql import connector as _sql_connector  # noqa: F401  (the same)
from app.engine.validation import validate_document
from app.errors import FlowbridgeError
from app.one_run_process import settle_before_the_run
from app.services.runs import run_flow
from app.store import models  # noqa: F401
from app.store.database import Store


def _warm_up() -> None:
    types = nodes.registry()
    trigger = next(name for name, node_type in types.items() if node_type.is_trigger)
    validate_document(
        {"schema_version": 1, "id": "warm", "name": "warm", "nodes": [{"id": "start", "type": trigger}], "edges": []}
    )
    sqlalchemy.orm.configure_mappers()


_warm_up()


def child_main(sending: Connection, store_url: str, memory_mb: int, options: dict[str, Any]) -> None:
    """Run one run here, under the memory limit, and send back how it went."""
    _end_with_the_server()
    _limit_memory(memory_mb)
    kept: dict = {}
    keep = options.pop("keep", False)
    store = Store(store_url, migrate=False)
    settle_before_the_run()
    try:
        result = run_flow(store, **options, keep_into=kept if keep else None)
        answer: tuple = ("result", result, kept)
    except MemoryError:
        answer = ("error", f"the run needed more than the {memory_mb:,} MB a run may use", {})
    except FlowbridgeError as error:
        answer = ("error", str(error), {})
    finally:
        store.close()
    try:
        sending.send(answer)
    except MemoryError:
        os._exit(3)
    sending.close()


def _end_with_the_server() -> None:
    """If the server that started this run dies (SIGKILL, say), this run ends at once, as it would
    have inside the server: the next server marks it interrupted and runs the flow again, so a run
    left going here would be a second run of the flow at the same time."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the server's process is gone
        os._exit(70)

    threading.Thread(target=watch, name="end-with-the-server", daemon=True).start()


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the time limit still holds
        return
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
