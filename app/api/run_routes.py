"""/api/runs and /api/alerts: what ran and how it went, and replaying a run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from app.api.answers import LIMIT, allowed, caller, refusal, root
from app.composition import Flowbridge
from app.errors import FlowbridgeError
from app.services import access, alerts, overview, replay, run_reads, run_stops

router = APIRouter()


@router.get("/api/runs")
def list_runs(
    flow: str | None = None,
    status: str | None = None,
    env: str | None = None,
    trigger: str | None = None,
    limit: int = LIMIT,
    who: access.Principal = Depends(caller),
    app: Flowbridge = Depends(root),
) -> list[dict[str, Any]]:
    found = run_reads.find_runs(app.store, flow_id=flow, limit=limit, status=status, env=env, trigger=trigger)
    return [overview.run_row(r) for r in found]


@router.get("/api/runs/{run_id}")
def show_run(run_id: str, who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)) -> dict[str, Any]:
    try:
        page = run_reads.run_page(app.store, run_id)
    except FlowbridgeError as error:
        raise refusal(error) from None
    return {
        **overview.run_row(page.run),
        "nodes": page.ledger,
        "events": page.run.events or [],
        "dead_letters": [overview.letter_row(d) for d in page.letters],
    }


@router.post("/api/runs/{run_id}/stop")
def stop_run(run_id: str, who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)) -> dict[str, Any]:
    """Ask a running run to stop at its next batch boundary (a queued one is cancelled at once)."""
    try:
        return overview.run_row(run_stops.stop_run(app.store, who, run_id))
    except FlowbridgeError as error:
        raise refusal(error) from None


@router.post("/api/runs/{run_id}/replay")
def replay_run(
    run_id: str,
    env: str = "sandbox",
    flow_version: str | None = Query(
        None, pattern=r"^(current|[0-9]{1,9})$", description="'current', or a version number"
    ),
    who: access.Principal = Depends(caller),
    app: Flowbridge = Depends(root),
) -> dict[str, Any]:
    allowed(who, "replay")
    try:
        return replay.replay(app.store, run_id, env=env, flow_version=flow_version, who=who, types=app.node_types)
    except FlowbridgeError as error:
        raise refusal(error) from None


@router.get("/api/alerts")
def list_alerts(who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "flow_id": a.flow_id,
            "kind": a.kind,
            "message": a.message,
            "run_id": a.run_id,
            "created_at": a.created_at.isoformat(),
        }
        for a in alerts.open_alerts(app.store)
    ]
