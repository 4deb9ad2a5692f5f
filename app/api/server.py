"""Wiring the REST routes and the scheduler into the web app's server process."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from app.api.routes import build_router
from app.store.database import Store

log = logging.getLogger(__name__)
_scheduler: Any = None  # the FlowScheduler this process runs, once `serve` has started it


def install_routes(fastapi_app: Any, store: Callable[[], Store]) -> None:
    router = build_router(store, lambda: _scheduler)
    fastapi_app.include_router(router)
    document: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        """The REST API's OpenAPI document (the API's routes only, not the web pages')."""
        if not document:
            from fastapi.openapi.utils import get_openapi

            document.update(get_openapi(title="Flowbridge API", version="1", routes=router.routes))
        return document

    fastapi_app.add_api_route("/api/openapi.json", openapi, methods=["GET"], include_in_schema=False)
    # A JSON body nested thousands deep breaks the parser before any route sees it: a 400, not a 500.
    fastapi_app.add_exception_handler(RecursionError, _too_deep)


def _too_deep(request: Any, error: RecursionError) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"detail": "the body nests too deeply to be read"}, status_code=400)


def start_scheduler(store: Store) -> None:
    """Start the schedules (FLOWBRIDGE_SCHEDULER=0 leaves them off, e.g. for a second web server)."""
    global _scheduler
    if os.environ.get("FLOWBRIDGE_SCHEDULER", "1") == "0":
        return
    from app.scheduler import FlowScheduler

    grace = int(os.environ.get("FLOWBRIDGE_MISFIRE_GRACE_SECONDS", "3600"))
    _scheduler = FlowScheduler(store, grace_seconds=grace)
    _scheduler.start()
    log.info("scheduler started: %s", ", ".join(_scheduler.job_ids()) or "no scheduled flows on")


def stop_scheduler() -> None:
    global _scheduler
    from app.services.operations import drain_queues

    if _scheduler is not None:
        _scheduler.shutdown()
        _scheduler = None
    drain_queues()
