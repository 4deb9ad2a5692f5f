"""REST routes for admins and the webhook endpoint; they call the same services as the CLI and UI.

Errors answer with a status and {"detail": sentence}: 404 unknown flow/run, 409 state conflicts
(a draft switched on, a switched-off flow's webhook), 401 a webhook without its secret, 413 a body
over the flow's limit, 401/403 a caller without a token or whose role does not allow it (see
app/services/access.py; with no user defined the API is open, and X-Flowbridge-User names the caller).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse

from app.errors import FlowbridgeError, NotFound
from app.services import access, dead_letters, flows, operations, overview, replay, switches, webhooks
from app.store import runs
from app.store.database import Store

_REFUSAL = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
        }
    }
}
# What any route may answer besides its success, as every refusal is written: {"detail": sentence}.
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request is not one this route takes", **_REFUSAL},
    401: {"description": "No valid API token (or webhook secret or signature)", **_REFUSAL},
    403: {"description": "The caller's role does not allow this", **_REFUSAL},
    404: {"description": "No such flow, run or dead letter", **_REFUSAL},
    409: {"description": "Not in this state (a draft switched on, a flow that is off, a replayed call)", **_REFUSAL},
    413: {"description": "The body is larger than the webhook takes", **_REFUSAL},
}
LIMIT = Query(100, ge=1, le=1000, description="How many, newest first (1 to 1,000)")
LETTER_ID = FastPath(..., ge=1, le=2**63 - 1, description="The dead letter's number")
LETTER_LIMIT = Query(200, ge=1, le=1000, description="How many, newest first (1 to 1,000)")


def build_router(store: Callable[[], Store], scheduler: Callable[[], Any] = lambda: None) -> APIRouter:
    router = APIRouter(responses=REFUSALS)

    def fail(error: FlowbridgeError) -> HTTPException:
        if isinstance(error, access.Unauthenticated):
            return HTTPException(401, str(error))
        if isinstance(error, access.Forbidden):
            return HTTPException(403, str(error))
        status = 404 if isinstance(error, NotFound) else 409
        return HTTPException(status, str(error))

    def caller(
        authorization: str | None = Header(None), x_flowbridge_user: str | None = Header(None)
    ) -> access.Principal:
        try:
            return access.authenticate(store(), authorization, x_flowbridge_user)
        except FlowbridgeError as error:
            raise fail(error) from None

    def allowed(principal: access.Principal, action: str, env: str | None = None) -> None:
        try:
            access.require(principal, action, env)
        except FlowbridgeError as error:
            raise fail(error) from None

    @router.get("/api/flows")
    def list_flows(who: access.Principal = Depends(caller)) -> list[dict[str, Any]]:
        return overview.flow_rows(store(), scheduler())

    def set_switch(flow_id: str, enabled: bool, reason: str, who: access.Principal) -> dict[str, Any]:
        allowed(who, "switch")
        try:
            flow = switches.switch(store(), flow_id, enabled, who=who, reason=reason)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"flow_id": flow.id, "enabled": flow.enabled}

    @router.post("/api/flows/{flow_id}/on")
    def switch_on(flow_id: str, reason: str = "", who: access.Principal = Depends(caller)) -> dict[str, Any]:
        return set_switch(flow_id, True, reason, who)

    @router.post("/api/flows/{flow_id}/off")
    def switch_off(flow_id: str, reason: str = "", who: access.Principal = Depends(caller)) -> dict[str, Any]:
        return set_switch(flow_id, False, reason, who)

    @router.delete("/api/flows/{flow_id}")
    def delete(flow_id: str, who: access.Principal = Depends(caller)) -> dict[str, Any]:
        try:
            flows.delete_flow(store(), flow_id, who=who)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"deleted": flow_id}

    @router.get("/api/flows/{flow_id}/switches")
    def switch_history(flow_id: str, who: access.Principal = Depends(caller)) -> list[dict[str, Any]]:
        return [
            {"enabled": s.enabled, "who": s.who, "reason": s.reason, "at": s.at.isoformat()}
            for s in switches.history(store(), flow_id)
        ]

    @router.post("/api/flows/{flow_id}/run", status_code=202)
    def run_now(
        flow_id: str,
        env: str = "sandbox",
        records: list[dict[str, Any]] | None = Body(None),
        who: access.Principal = Depends(caller),
    ) -> dict[str, Any]:
        allowed(who, "run", env)
        try:
            run_id = operations.queue_flow_run(store(), flow_id, records, trigger="manual", env=env, who=who)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"run_id": run_id, "status": "queued"}

    @router.get("/api/runs")
    def list_runs(
        flow: str | None = None,
        status: str | None = None,
        env: str | None = None,
        trigger: str | None = None,
        limit: int = LIMIT,
        who: access.Principal = Depends(caller),
    ) -> list[dict[str, Any]]:
        rows = runs.list_runs(store(), flow_id=flow, limit=limit, status=status, env=env, trigger=trigger)
        return [overview.run_row(r) for r in rows]

    @router.get("/api/runs/{run_id}")
    def show_run(run_id: str, who: access.Principal = Depends(caller)) -> dict[str, Any]:
        try:
            run = runs.get_run(store(), run_id)
        except NotFound as error:
            raise fail(error) from None
        letters = runs.dead_letters(store(), run_id=run_id, status=None, limit=200)
        return {
            **overview.run_row(run),
            "nodes": runs.run_ledger(store(), run_id),
            "events": run.events or [],
            "dead_letters": [overview.letter_row(d) for d in letters],
        }

    @router.post("/api/runs/{run_id}/replay")
    def replay_run(
        run_id: str,
        env: str = "sandbox",
        flow_version: str | None = Query(
            None, pattern=r"^(current|[0-9]{1,9})$", description="'current', or a version number"
        ),
        who: access.Principal = Depends(caller),
    ) -> dict[str, Any]:
        allowed(who, "replay")
        try:
            return replay.replay(store(), run_id, env=env, flow_version=flow_version, who=who)
        except FlowbridgeError as error:
            raise fail(error) from None

    @router.get("/api/dead-letters")
    def list_letters(
        flow: str | None = None,
        status: str | None = "open",
        limit: int = LETTER_LIMIT,
        who: access.Principal = Depends(caller),
    ) -> dict[str, Any]:
        letters = runs.dead_letters(store(), flow_id=flow, status=status, limit=limit)
        return {"reasons": dead_letters.reasons(store(), flow), "letters": [overview.letter_row(d) for d in letters]}

    @router.post("/api/dead-letters/{letter_id}/retry")
    def retry_letter(
        letter_id: int = LETTER_ID, record: dict[str, Any] | None = Body(None), who: access.Principal = Depends(caller)
    ) -> dict[str, Any]:
        allowed(who, "dead_letters")
        try:
            letter = dead_letters.get_letter(store(), letter_id)
            allowed(who, "run", letter.env)  # a retry is a run there
            if (
                record is not None
                and set(record) == {"record"}
                and isinstance(record["record"], dict)
                and "record" not in letter.record
            ):
                raise HTTPException(
                    400,
                    "the body is the record itself (its fields, as the letter holds them), "
                    'not {"record": {...}}; send what GET /api/dead-letters shows as the '
                    "letter's record, edited",
                )
            return {"runs": dead_letters.retry(store(), [letter_id], who=who, edited=record)}
        except FlowbridgeError as error:
            raise fail(error) from None

    @router.post("/api/dead-letters/retry")
    def retry_reason(flow: str, node: str, reason: str, who: access.Principal = Depends(caller)) -> dict[str, Any]:
        allowed(who, "dead_letters")
        try:
            for env in dead_letters.reason_envs(store(), flow, node, reason):  # a retry is a run there
                allowed(who, "run", env)
            return {"runs": dead_letters.retry_reason(store(), flow, node, reason, who=who)}
        except FlowbridgeError as error:
            raise fail(error) from None

    @router.post("/api/dead-letters/{letter_id}/discard")
    def discard_letter(letter_id: int = LETTER_ID, who: access.Principal = Depends(caller)) -> dict[str, Any]:
        allowed(who, "dead_letters")
        try:
            dead_letters.discard(store(), [letter_id], who=who)
        except FlowbridgeError as error:
            raise fail(error) from None
        return {"discarded": letter_id}

    @router.get("/api/alerts")
    def list_alerts(who: access.Principal = Depends(caller)) -> list[dict[str, Any]]:
        from app.services.alerts import open_alerts

        return [
            {
                "id": a.id,
                "flow_id": a.flow_id,
                "kind": a.kind,
                "message": a.message,
                "run_id": a.run_id,
                "created_at": a.created_at.isoformat(),
            }
            for a in open_alerts(store())
        ]

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
            webhooks.check_call(
                store(), flow_id, config, {k.lower(): v for k, v in request.headers.items()}, bytes(body)
            )
            records = webhooks.records_from(bytes(body))
            run_id = operations.queue_flow_run(
                store(), flow_id, records, trigger="webhook", env="production", who=access.WEBHOOK
            )
        except webhooks.HookRefusal as refusal:
            return JSONResponse({"detail": refusal.message}, status_code=refusal.status)
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

    return router
