"""The composition root: what one Flowbridge process is made of, built once from its settings.

`flowbridge serve` builds one and hands it to the web pages (through NiceGUI's `app.state`), the
REST API and the scheduler; each CLI command builds one for its own short life; a test builds one
on its own store. Nothing else opens a store or starts a scheduler, so there is no process state
in module globals to find or to forget to reset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import nodes
from app.errors import FlowbridgeError
from app.store.database import Store

if TYPE_CHECKING:
    from app.scheduler import FlowScheduler
    from app.services.operations import RunQueues
    from app.services.worker_queue import WorkerQueue
    from nodes.base import NodeType


@dataclass(frozen=True)
class Settings:
    """What a process is told by its environment (the README lists each variable)."""

    store_url: str | None = None  # FLOWBRIDGE_DB_URL, else ./flowbridge.db
    schedules: bool = True  # FLOWBRIDGE_SCHEDULER=0: a web server that leaves the ticks to the others
    misfire_grace_seconds: int = 3600  # FLOWBRIDGE_MISFIRE_GRACE_SECONDS
    isolate_runs: bool = True  # FLOWBRIDGE_RUN_ISOLATION=0: runs in the server's own process
    # FLOWBRIDGE_RUN_QUEUE=workers: accepted and scheduled runs go to `flowbridge worker` processes
    # (PostgreSQL store); "process" (the default): they run in this server
    run_queue: str = "process"

    @classmethod
    def from_environment(cls, store_url: str | None = None) -> Settings:
        environ = os.environ
        try:
            grace = int(environ.get("FLOWBRIDGE_MISFIRE_GRACE_SECONDS") or 3600)
        except ValueError:
            raise FlowbridgeError("FLOWBRIDGE_MISFIRE_GRACE_SECONDS must be a whole number of seconds") from None
        run_queue = environ.get("FLOWBRIDGE_RUN_QUEUE") or "process"
        if run_queue not in ("process", "workers"):
            raise FlowbridgeError(f"FLOWBRIDGE_RUN_QUEUE is 'process' or 'workers', not {run_queue!r}")
        return cls(
            run_queue=run_queue,
            store_url=store_url or environ.get("FLOWBRIDGE_DB_URL") or None,
            schedules=environ.get("FLOWBRIDGE_SCHEDULER", "1") != "0",
            misfire_grace_seconds=grace,
            isolate_runs=environ.get("FLOWBRIDGE_RUN_ISOLATION", "1") != "0",
        )


class Flowbridge:
    """One process' store, its node types, the queues its accepted runs wait in and, once started,
    its scheduler."""

    def __init__(
        self, settings: Settings, store: Store | None = None, node_types: Mapping[str, NodeType] | None = None
    ) -> None:
        self.settings = settings
        self._store = store
        self._node_types = node_types
        self._queues: RunQueues | WorkerQueue | None = None
        self.scheduler: FlowScheduler | None = None

    @property
    def store(self) -> Store:
        """The store, opened when first asked (`flowbridge validate` opens none)."""
        if self._store is None:
            self._store = Store(self.settings.store_url)
        return self._store

    @property
    def node_types(self) -> Mapping[str, NodeType]:
        """The built-in types and installed node packs (nodes/__init__.py), or a test's own set;
        loaded when first asked, so a command that runs no flow imports no node type."""
        if self._node_types is None:
            self._node_types = nodes.registry()
        return self._node_types

    @property
    def queues(self) -> RunQueues | WorkerQueue:
        """Where runs accepted from webhooks, the API and the Flows page wait their turn, per flow:
        in this process, or in the database for the workers (FLOWBRIDGE_RUN_QUEUE=workers)."""
        if self._queues is None:
            if self.settings.run_queue == "workers":
                from app.services.worker_queue import WorkerQueue

                self._queues = WorkerQueue(self.store)
            else:
                from app.services.operations import RunQueues

                self._queues = RunQueues()
        return self._queues

    def start_scheduler(self) -> None:
        """Start the schedules, unless the settings leave them to another server."""
        if not self.settings.schedules or self.scheduler is not None:
            return
        from app.scheduler import FlowScheduler

        self.scheduler = FlowScheduler(
            self.store,
            grace_seconds=self.settings.misfire_grace_seconds,
            types=self.node_types,
            worker_queue=self.queues if self.settings.run_queue == "workers" else None,
        )
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the schedules and let queued runs finish (the server shutting down)."""
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        if self._queues is not None:
            self._queues.drain()
