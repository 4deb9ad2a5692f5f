"""/hooks/{flow_id}: a webhook call starts a run of its flow with the posted records. The call
proves itself with the flow's own secret (services/webhooks.py), not a user's token."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from app.api.answers import root
from app.composition import Flowbridge
from app.errors import FlowbridgeError
from app.services import access, operations, webhooks

router = APIRouter()


def _too_large(limit: int) -> webhooks.HookRefusal:
    return webhooks.HookRefusal(413, f"the body is larger than this webhook's {limit // 1024} KB")


@router.post("/hooks/{flow_id}")
async def hook(flow_id: str, request: Request, app: Flowbridge = Depends(root)) -> JSONResponse:
    """Start a run of the flow with the posted records: 202 and the run's id once they are stored."""
    store = app.store
    try:
        config = webhooks.webhook_config(store, flow_id, app.node_types)
        limit = webhooks.max_body_bytes(config)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        body = bytearray()
        async for chunk in request.stream():  # never hold more than the limit in memory
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
        webhooks.check_call(store, flow_id, config, {k.lower(): v for k, v in request.headers.items()}, bytes(body))
        records = webhooks.records_from(bytes(body))
        run_id = operations.queue_flow_run(
            store,
            flow_id,
            records,
            queues=app.queues,
            trigger="webhook",
            env="production",
            who=access.WEBHOOK,
            types=app.node_types,
        )
    except webhooks.HookRefusal as refused:
        return JSONResponse({"detail": refused.message}, status_code=refused.status)
    except FlowbridgeError as error:
        return JSONResponse({"detail": str(error)}, status_code=409)
    return JSONResponse(
        {
            "run_id": run_id,
            "status": "queued",
            "records": len(records),
            "accepted_at": dt.datetime.now(dt.UTC).isoformat(),
        },
        status_code=202,
    )
