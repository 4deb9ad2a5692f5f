"""Stopping a run someone started: the Stop button, `flowbridge run cancel` and the API.

A stop is a request kept with the run in the store, so it reaches the run wherever it goes: in a
child of the web server, in `flowbridge run` in a terminal, or on another machine. The run looks at
it at each batch boundary, once that batch is written and its cursor committed, and ends there as
`cancelled` (see the executor): nothing is lost, and the next run goes on from that cursor.
"""

from __future__ import annotations

from app.services import access
from app.store import runs
from app.store.database import Store
from app.store.models import Run


def stop_run(store: Store, who: access.Principal | None, run_id: str) -> Run:
    """Ask `run_id` to stop; the caller's role must allow running in the run's environment."""
    run = runs.get_run(store, run_id)
    principal = access.require(who, "run", run.env)
    return runs.request_stop(store, run_id, principal.name)
