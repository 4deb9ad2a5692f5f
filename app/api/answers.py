"""What every route shares: who is calling, the role check, and how a refusal is answered.

Every refusal is {"detail": sentence}: 404 unknown flow/run, 409 state conflicts (a draft switched
on, a switched-off flow's webhook), 401/403 a caller without a token or whose role does not allow
it (app/services/access.py; with no user defined the API is open and X-Flowbridge-User names the
caller), 400 a request no route takes, 413 a webhook body over its limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import Header, HTTPException, Query, Request
from fastapi import Path as FastPath

from app.composition import Flowbridge
from app.errors import FlowbridgeError, NotFound
from app.services import access

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


def root(request: Request) -> Flowbridge:
    """The process' composition root, put on the app by install_routes."""
    found: Flowbridge = request.app.state.flowbridge
    return found


def refusal(error: FlowbridgeError) -> HTTPException:
    """The HTTP answer for a service's refusal."""
    if isinstance(error, access.Unauthenticated):
        return HTTPException(401, str(error))
    if isinstance(error, access.Forbidden):
        return HTTPException(403, str(error))
    return HTTPException(404 if isinstance(error, NotFound) else 409, str(error))


def caller(
    request: Request, authorization: str | None = Header(None), x_flowbridge_user: str | None = Header(None)
) -> access.Principal:
    """The signed-in caller, from the request's API token (a FastAPI dependency)."""
    try:
        return access.authenticate(root(request).store, authorization, x_flowbridge_user)
    except FlowbridgeError as error:
        raise refusal(error) from None


def allowed(principal: access.Principal, action: str, env: str | None = None) -> None:
    """Refuse early, with the route's status, what the service would refuse anyway."""
    try:
        access.require(principal, action, env)
    except FlowbridgeError as error:
        raise refusal(error) from None
