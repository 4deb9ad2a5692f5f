"""REST routes for admins and the webhook endpoint; they call the same services as the CLI and UI.

Errors answer with a status and {"detail": sentence}: 404 unknown flow/run, 409 state conflicts
(a draft switched on, a switched-off flow's webhook), 401 a webhook without its secret, 413 a body
over the flow's limit. Who did something comes from the X-Flowbridge-User header ("api" if absent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from app.errors import FlowbridgeError, NotFound
from app.services import dead_letters, operations, overview, switches, webhooks
from app.store import runs
from app.store.database import Store


def build_router(store: Callable[[], Store], scheduler: Callable[[], Any] = lambda: None) -> APIRouter:
    router = APIRouter()

    def fail(error: FlowbridgeError) -> HTTPException:
        status = 404 if isinstance(error, NotFound) else 409
        return HTTPException(status, str(error))

    @router.get("/api/flows")
    def list_flows() -> list[dict[str, Any]]:
        return overview.flow_rows(store(), scheduler())

    @router.post("/api/flows/{flow_id}/on")
    def switch_on(flow_id: str, x_flowbridge_user: str = Header("api"), reason: str = "") -> dict[str, Any]:
        try:
            flow = switches.switch(store(), flow_id, True, who=x_flowbridge_user, reason=reason)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"flow_id": flow.id, "enabled": flow.enabled}

    @router.post("/api/flows/{flow_id}/off")
    def switch_off(flow_id: str, x_flowbridge_user: str = Header("api"), reason: str = "") -> dict[str, Any]:
        try:
            flow = switches.switch(store(), flow_id, False, who=x_flowbridge_user, reason=reason)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"flow_id": flow.id, "enabled": flow.enabled}

    @router.delete("/api/flows/{flow_id}")
    def delete(flow_id: str) -> dict[str, Any]:
        from app.store.flows import delete_flow

        try:
            delete_flow(store(), flow_id)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"deleted": flow_id}

    @router.get("/api/flows/{flow_id}/switches")
    def switch_history(flow_id: str) -> list[dict[str, Any]]:
        return [{"enabled": s.enabled, "who": s.who, "reason": s.reason, "at": s.at.isoformat()}
                for s in switches.history(store(), flow_id)]

    @router.post("/api/flows/{flow_id}/run", status_code=202)
    def run_now(flow_id: str, env: str = "sandbox", x_flowbridge_user: str = Header("api"),
                records: list[dict[str, Any]] | None = Body(None)) -> dict[str, Any]:
        try:
            run_id = operations.queue_flow_run(store(), flow_id, records, trigger="manual", env=env,
                                               who=x_flowbridge_user)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"run_id": run_id, "status": "queued"}

    @router.get("/api/runs")
    def list_runs(flow: str | None = None, status: str | None = None, env: str | None = None,
                  trigger: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        rows = runs.list_runs(store(), flow_id=flow, limit=limit, status=status, env=env, trigger=trigger)
        return [overview.run_row(r) for r in rows]

    @router.get("/api/runs/{run_id}")
    def show_run(run_id: str) -> dict[str, Any]:
        try:
            run = runs.get_run(store(), run_id)
        except NotFound as error:
            raise fail(error) from None
        letters = runs.dead_letters(store(), run_id=run_id, status=None, limit=200)
        return {**overview.run_row(run), "nodes": runs.run_ledger(store(), run_id), "events": run.events or [],
                "dead_letters": [overview.letter_row(d) for d in letters]}

    @router.get("/api/dead-letters")
    def list_letters(flow: str | None = None, status: str | None = "open", limit: int = 200) -> dict[str, Any]:
        letters = runs.dead_letters(store(), flow_id=flow, status=status, limit=limit)
        return {"reasons": dead_letters.reasons(store(), flow), "letters": [overview.letter_row(d) for d in letters]}

    @router.post("/api/dead-letters/{letter_id}/retry")
    def retry_letter(letter_id: int, x_flowbridge_user: str = Header("api"),
                     record: dict[str, Any] | None = Body(None)) -> dict[str, Any]:
        try:
            return {"runs": dead_letters.retry(store(), [letter_id], who=x_flowbridge_user, edited=record)}
        except FlowbridgeError as error:
            raise fail(error) from None

    @router.post("/api/dead-letters/retry")
    def retry_reason(flow: str, node: str, reason: str, x_flowbridge_user: str = Header("api")) -> dict[str, Any]:
        try:
            return {"runs": dead_letters.retry_reason(store(), flow, node, reason, who=x_flowbridge_user)}
        except FlowbridgeError as error:
            raise fail(error) from None

    @router.post("/api/dead-letters/{letter_id}/discard")
    def discard_letter(letter_id: int, x_flowbridge_user: str = Header("api")) -> dict[str, Any]:
        try:
            dead_letters.discard(store(), [letter_id], who=x_flowbridge_user)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"discarded": letter_id}

    @router.get("/api/alerts")
    def list_alerts() -> list[dict[str, Any]]:
        from app.services.alerts import open_alerts

        return [{"id": a.id, "flow_id": a.flow_id, "kind": a.kind, "message": a.message, "run_id": a.run_id,
                 "created_at": a.created_at.isoformat()} for a in open_alerts(store())]

    @router.post("/hooks/{flow_id}")
    async def hook(flow_id: str, request: Request) -> JSONResponse:
        """Start a run of the flow with the posted records: 202 and the run's id once they are stored."""
        try:
            config = webhooks.webhook_config(store(), flow_id)
            limit = webhooks.max_body_bytes(config)
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise webhooks.HookRefusal(413, f"the body is larger than this webhook's {limit // 1024} KB")
            body = bytearray()
            async for chunk in request.stream():  # never hold more than the limit in memory
                body += chunk
                if len(body) > limit:
                    raise webhooks.HookRefusal(413, f"the body is larger than this webhook's {limit // 1024} KB")
            webhooks.check_call(store(), flow_id, config, {k.lower(): v for k, v in request.headers.items()},
                                bytes(body))
            records = webhooks.records_from(bytes(body))
            run_id = operations.queue_flow_run(store(), flow_id, records, trigger="webhook", env="production")
        except webhooks.HookRefusal as refusal:
            return JSONResponse({"detail": refusal.message}, status_code=refusal.status)
        except FlowbridgeError as error:
            return JSONResponse({"detail": str(error)}, status_code=409)
        return JSONResponse({"run_id": run_id, "status": "queued", "records": len(records),
                             "accepted_at": dt.datetime.now(dt.timezone.utc).isoformat()}, status_code=202)

    return router
