"""Runs whose process stopped before they ended: marked `interrupted`, with what they wrote counted."""

from __future__ import annotations

from app.store import runs, write_outcomes
from app.store.database import Store
from app.store.models import Run, utcnow


def mark_interrupted(store: Store) -> int:
    """Runs left `running` or `queued` by a crash are `interrupted` (call at start); a queued run
    keeps its records, so it can be run again. The runs of another server that is still up (on
    this machine) go on: several servers may share the store."""
    stale = runs.stale_runs(store)
    _interrupted(store, stale)
    return len(stale)


def reap_gone_runs(store: Store) -> int:
    """Runs marked running whose process on this machine has ended (a `flowbridge run` killed, say)
    are `interrupted`, with what they wrote counted; how many."""
    gone = runs.gone_runs(store)
    _interrupted(store, gone)
    return len(gone)


def mark_cut_off(store: Store, run: Run) -> None:
    """A run whose process died mid-way, known so by other means (its worker stopped beating)."""
    _interrupted(store, [run])


def _interrupted(store: Store, stale: list[Run]) -> None:
    with store.session() as session:
        for found in stale:
            run = session.get(Run, found.id)
            if run is None or run.status not in ("running", "queued"):
                continue
            run.status, run.finished_at = "interrupted", utcnow()
            run.error = "the process running it stopped before it finished; run the flow again to finish the job"
            session.add(run)
        session.commit()
    for run in stale:  # what its writes to APIs had done, record by record, counts
        write_outcomes.settle_run(store, run.id)
