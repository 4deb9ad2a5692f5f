"""/metrics for Prometheus, /healthz and /readyz for a process supervisor."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from app.api.answers import caller, root
from app.composition import Flowbridge
from app.services import access, metrics, readiness

router = APIRouter()


@router.get("/metrics", response_class=Response)
def scrape(who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)) -> Response:
    """Runs, records, durations, queue, dead letters and schedule lag, read from the store (an API
    token when the server has users: Prometheus' `authorization` scrape setting)."""
    return Response(metrics.exposition(app.store), media_type=metrics.CONTENT_TYPE)


@router.get("/healthz")
def alive() -> dict[str, str]:
    """The server answers."""
    return {"status": "alive"}


@router.get("/readyz")
def ready(app: Flowbridge = Depends(root)) -> JSONResponse:
    """The server can do its job: 200, or 503 with each reason it cannot."""
    reasons = readiness.not_ready(app)
    if reasons:
        return JSONResponse({"status": "not ready", "reasons": reasons}, status_code=503)
    return JSONResponse({"status": "ready"})
