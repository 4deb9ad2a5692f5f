"""Whether this server can do its job, for a process supervisor (`/healthz`, `/readyz`).

Alive is answering at all. Ready is more: the store answers a query, and when this server keeps the
schedules, its scheduler is running. A supervisor restarts a server that is not alive and sends no
traffic to one that is not ready; each reason is a sentence, so the operator reads what is wrong.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.composition import Flowbridge


def not_ready(root: Flowbridge) -> list[str]:
    """What keeps this server from being ready; empty when it is."""
    reasons = []
    try:
        with root.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as error:
        first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        reasons.append(f"the store does not answer: {first}")
    if root.settings.schedules and (root.scheduler is None or not root.scheduler.running):
        reasons.append("the schedules are not running in this server (FLOWBRIDGE_SCHEDULER=0 leaves them out)")
    return reasons
