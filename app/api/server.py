"""Wiring the REST routes into the web app's server process."""

from __future__ import annotations

from typing import Any

from app.api.routes import build_router
from app.composition import Flowbridge


def install_routes(fastapi_app: Any, root: Flowbridge) -> None:
    """Add the REST API and the webhooks to `fastapi_app`, working on `root`'s store and scheduler."""
    fastapi_app.state.flowbridge = root  # what every route's `root` dependency finds
    router = build_router()
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
