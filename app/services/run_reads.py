"""What the pages, the API and the CLI show of runs: the list, one run's page (its ledger, samples
and dead letters), a run's status while it goes. Every role reads these; acting on a run or a dead
letter is in services/door.py and dead_letters.py.

The rows handed out are the store's own (Run, DeadLetter), detached from any session: read them,
never write them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.engine.executor import RunResult, summary
from app.store import runs as run_store
from app.store.database import Store
from app.store.models import DeadLetter, Run

__all__ = [
    "DeadLetter",
    "Run",
    "RunPage",
    "count_dead_letters",
    "dead_letters",
    "find_runs",
    "run",
    "result_summary",
    "run_page",
    "would_fail",
]


def find_runs(
    store: Store,
    flow_id: str | None = None,
    limit: int = 50,
    *,
    status: str | None = None,
    env: str | None = None,
    trigger: str | None = None,
) -> list[Run]:
    """The newest runs first, narrowed by whichever of flow, status, environment and trigger is given."""
    return run_store.list_runs(store, flow_id, limit, status=status, env=env, trigger=trigger)


def live_ledger(store: Store, run_id: str) -> dict[str, dict[str, Any]]:
    """A run's counts per node as it has stored them so far (about every second while it goes);
    empty before its row exists."""
    return run_store.run_ledger(store, run_id)


def run(store: Store, run_id: str) -> Run:
    """One run; NotFound naming it when there is none."""
    return run_store.get_run(store, run_id)


def dead_letters(
    store: Store,
    *,
    run_id: str | None = None,
    flow_id: str | None = None,
    status: str | None = "open",
    limit: int = 1000,
) -> list[DeadLetter]:
    """Dead letters (open ones unless `status` says otherwise), oldest first."""
    return run_store.dead_letters(store, run_id=run_id, flow_id=flow_id, status=status, limit=limit)


def result_summary(result: RunResult) -> dict[str, Any]:
    """A finished run as one JSON object: its id, status, totals and each node's counts."""
    return summary(result)


def would_fail(store: Store, run_id: str) -> dict[str, list[Any]]:
    """A dry run's records that would fail, per node, with their reasons."""
    return run_store.kept_records(store, run_id, "failed")


def count_dead_letters(store: Store, run_id: str) -> int:
    return run_store.count_dead_letters(store, run_id)


@dataclass(frozen=True)
class RunPage:
    """Everything one run's page shows, read in one go."""

    run: Run
    ledger: dict[str, dict[str, Any]]  # node id → its counts
    samples: dict[str, Any]  # node id → the first records in and out of each port
    letters: list[DeadLetter]  # the first 200, whatever their status
    failed_total: int


def run_page(store: Store, run_id: str) -> RunPage:
    return RunPage(
        run=run_store.get_run(store, run_id),
        ledger=run_store.run_ledger(store, run_id),
        samples=run_store.run_samples(store, run_id),
        letters=run_store.dead_letters(store, run_id=run_id, status=None, limit=200),
        failed_total=run_store.count_dead_letters(store, run_id),
    )
