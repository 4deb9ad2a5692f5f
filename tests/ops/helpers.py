"""Small flows and a target database for the operations tests."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.store.connections import set_connection
from app.store.flows import save_flow


def target(store: Any, tmp_path: Path, env: str = "production") -> Path:
    """A `dst` connection: a SQLite file with a table `items (id PRIMARY KEY, name NOT NULL)`."""
    path = tmp_path / "dst.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    for environment in ("sandbox", "production"):
        set_connection(store, "dst", environment, "sql", {"url": f"sqlite:///{path}"})
    return path


def flow(flow_id: str, trigger: dict[str, Any], nodes: list[dict] | None = None, **settings: Any) -> dict[str, Any]:
    """trigger -> map (id, name) -> write dst.items, unless `nodes` are given (chained in order)."""
    nodes = nodes or [
        # a scheduled run starts with one empty record: it becomes item 1, "tick"
        {
            "id": "shape",
            "type": "map",
            "config": {"fields": {"id": "{{ record.id | default(1) }}", "name": "{{ record.name | default('tick') }}"}},
        },
        {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}},
    ]
    chain = [{"id": "start", **trigger}, *nodes]
    return {
        "schema_version": 1,
        "id": flow_id,
        "name": flow_id,
        **({"settings": settings} if settings else {}),
        "nodes": chain,
        "edges": [{"from": a["id"], "to": b["id"]} for a, b in zip(chain, chain[1:])],
    }


def store_flow(store: Any, document: dict[str, Any]) -> str:
    save_flow(store, json.loads(json.dumps(document)), author="test")
    return document["id"]


def wait_for(condition: Callable[[], Any], timeout: float = 15, step: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def count(path: Path, table: str = "items") -> int:
    with sqlite3.connect(path, timeout=10) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def flows_with_their_own_tables(
    store: Any, folder: Path, flow_ids: tuple[str, ...], trigger: dict[str, Any], env: str
) -> None:
    """One `flow()` per id, each writing to its own SQLite file (folder/ID.db, connection dst_ID), so
    runs of different flows in different processes never wait on one file's lock."""
    for flow_id in flow_ids:
        path = folder / f"{flow_id}.db"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        set_connection(store, f"dst_{flow_id}", env, "sql", {"url": f"sqlite:///{path}"})
        document = flow(flow_id, trigger)
        document["nodes"][-1]["config"]["connection"] = f"dst_{flow_id}"
        store_flow(store, document)


def flowbridge(url: str, folder: Path, name: str, *command: str, **settings: str) -> Any:
    """`flowbridge COMMAND` in its own process on the store at `url`, with FLOWBRIDGE_ settings
    (RUN_QUEUE="workers", say) and this process' secret key; its output in folder/NAME.log."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "FLOWBRIDGE_DB_URL": url, **{f"FLOWBRIDGE_{k}": v for k, v in settings.items()}}
    env.pop("PYTEST_CURRENT_TEST", None)  # NiceGUI would take itself for a test fixture's server
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *command],
        cwd=folder,
        env=env,
        stdout=(folder / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
    )
