"""/api/flows: the flows' overview, switching on and off, deleting, and running one now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from app.api.answers import allowed, caller, refusal, root
from app.composition import Flowbridge
from app.errors import FlowbridgeError
from app.services import access, flows, operations, overview, switches

router = APIRouter()


@router.get("/api/flows")
def list_flows(who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)) -> list[dict[str, Any]]:
    return overview.flow_rows(app.store, app.scheduler, app.node_types)


def _switch(app: Flowbridge, flow_id: str, enabled: bool, reason: str, who: access.Principal) -> dict[str, Any]:
    allowed(who, "switch")
    try:
        flow = switches.switch(app.store, flow_id, enabled, who=who, reason=reason, types=app.node_types)
    except FlowbridgeError as error:
        raise refusal(error) from None
    return {"flow_id": flow.id, "enabled": flow.enabled}


@router.post("/api/flows/{flow_id}/on")
def switch_on(
    flow_id: str, reason: str = "", who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)
) -> dict[str, Any]:
    return _switch(app, flow_id, True, reason, who)


@router.post("/api/flows/{flow_id}/off")
def switch_off(
    flow_id: str, reason: str = "", who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)
) -> dict[str, Any]:
    return _switch(app, flow_id, False, reason, who)


@router.delete("/api/flows/{flow_id}")
def delete(flow_id: str, who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)) -> dict[str, Any]:
    try:
        flows.delete_flow(app.store, flow_id, who=who)
    except FlowbridgeError as error:
        raise refusal(error) from None
    return {"deleted": flow_id}


@router.get("/api/flows/{flow_id}/switches")
def switch_history(
    flow_id: str, who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)
) -> list[dict[str, Any]]:
    return [
        {"enabled": s.enabled, "who": s.who, "reason": s.reason, "at": s.at.isoformat()}
        for s in switches.history(app.store, flow_id)
    ]


@router.post("/api/flows/{flow_id}/run", status_code=202)
def run_now(
    flow_id: str,
    env: str = "sandbox",
    records: list[dict[str, Any]] | None = Body(None),
    who: access.Principal = Depends(caller),
    app: Flowbridge = Depends(root),
) -> dict[str, Any]:
    allowed(who, "run", env)
    try:
        run_id = operations.queue_flow_run(
            app.store,
            flow_id,
            records,
            queues=app.queues,
            trigger="manual",
            env=env,
            who=who,
            types=app.node_types,
        )
    except FlowbridgeError as error:
        raise refusal(error) from None
    return {"run_id": run_id, "status": "queued"}
