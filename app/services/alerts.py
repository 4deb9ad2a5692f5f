"""Alerts: a failed run, a flow switched off after repeated failures, a flow not synced for too long.

Each is stored (the UI shows open ones) and, when FLOWBRIDGE_ALERT_WEBHOOK names a URL, posted
there as JSON: a few bounded attempts with backoff, never blocking a run for long.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sqlmodel import select

from app.services import access
from app.store.database import Store
from app.store.models import Alert, utcnow

log = logging.getLogger(__name__)
WEBHOOK_ENV = "FLOWBRIDGE_ALERT_WEBHOOK"


def raise_alert(store: Store, flow_id: str, kind: str, message: str, run_id: str | None = None) -> Alert:
    alert = Alert(flow_id=flow_id, kind=kind, message=message, run_id=run_id)
    alert.delivered = _post(alert)
    with store.session() as session:
        session.add(alert)
        session.commit()
        session.refresh(alert)
    return alert


def _post(alert: Alert) -> bool:
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return False
    import httpx
    from tenacity import Retrying, stop_after_attempt, wait_exponential

    body: dict[str, Any] = {
        "flow_id": alert.flow_id,
        "kind": alert.kind,
        "message": alert.message,
        "run_id": alert.run_id,
        "at": alert.created_at.isoformat(),
    }
    try:
        for attempt in Retrying(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.2, max=2), reraise=True):
            with attempt:
                httpx.post(url, json=body, timeout=5).raise_for_status()
        return True
    except Exception as error:  # an unreachable alert hook must not fail the run that raised it
        log.warning("could not post alert to %s: %s", url, error)
        return False


def open_alerts(store: Store, limit: int = 100) -> list[Alert]:
    with store.session() as session:
        return list(
            session.exec(select(Alert).where(Alert.status == "open").order_by(Alert.id.desc()).limit(limit)).all()
        )


def acknowledge(store: Store, alert_id: int, *, who: access.Principal | None) -> None:
    """Silence an open alert, by `who` (admin or analyst: a viewer may not hide what went wrong)."""
    who = access.require(who, "acknowledge")
    with store.session() as session:
        alert = session.get(Alert, alert_id)
        if alert:
            alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", who.name, utcnow()
            session.add(alert)
            session.commit()
