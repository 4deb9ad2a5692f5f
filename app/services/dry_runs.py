"""The editor's dry run as a service: check the drawing (or the saved version), run it through the
door without writing, and read back what it would insert, update, leave unchanged and fail."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app.engine.executor import RunResult
from app.services import designer, door
from app.services.access import Principal
from app.services.designer import Checked
from app.services.runs import dry_run_changes
from app.store.database import Store
from nodes.base import NodeTypes


@dataclass
class DryRun:
    """What a dry run did, or the problems that kept it from running (then `result` is None)."""

    env: str
    ran: str  # which document ran, in words: "version 3, as saved", "the unsaved drawing (based on version 3)"
    checked: Checked
    result: RunResult | None = None
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    connections: list[str] = field(default_factory=list)
    seconds: float = 0.0


def what_runs(based_on: int, dirty: bool) -> tuple[int | None, str]:
    """The stored version a run of the editor's document stands for (None: the drawing), in words."""
    if based_on and not dirty:
        return based_on, f"version {based_on}, as saved"
    if based_on:
        return None, f"the unsaved drawing (based on version {based_on})"
    return None, "the drawing (not saved yet)"


def dry_run(
    store: Store,
    document: dict[str, Any],
    *,
    based_on: int,
    dirty: bool,
    env: str,
    who: Principal | None,
    types: NodeTypes | None = None,
) -> DryRun:
    """Check the document, dry-run it and read back the changes it kept; for a worker thread."""
    version, ran = what_runs(based_on, dirty)
    checked = designer.check_document(document, types)
    if checked.problems:
        return DryRun(env, ran, checked)
    started = time.perf_counter()
    result = door.start(
        store, who, door.RunStart(env=env, document=document, version=version, dry_run=True, types=types)
    )
    connections = sorted(
        {
            str(n["config"]["connection"])
            for n in document.get("nodes", [])
            if isinstance(n.get("config"), dict) and n["config"].get("connection")
        }
    )
    return DryRun(
        env, ran, checked, result, dry_run_changes(store, result.run_id), connections, time.perf_counter() - started
    )
