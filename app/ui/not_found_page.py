"""What an address the app does not serve shows: a page in the app's frame saying so, with the way
back (instead of NiceGUI's "HTTPException: 404: Not Found"); the API's addresses answer JSON."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from nicegui import Client, app, ui
from nicegui.page import page
from starlette.exceptions import HTTPException

from app.ui.frame import frame


def install() -> None:
    app.add_exception_handler(404, not_found)  # replaces NiceGUI's own for the same code


async def not_found(request: Request, exception: Exception) -> Response:
    endpoint = request.scope.get("endpoint")
    if (
        endpoint is not None
        and endpoint is not app
        and not request.scope.get("nicegui_page_path")
        and isinstance(exception, HTTPException)
    ):
        return await http_exception_handler(request, exception)  # an API endpoint's own 404: JSON
    if request.url.path.startswith(("/api/", "/hooks/")):
        return JSONResponse({"detail": f"nothing is served at {request.url.path}"}, status_code=404)
    with Client(page(""), request=request) as client:
        with frame("Not found", active=""):
            ui.label("There is no page here").classes("text-2xl font-semibold")
            ui.label(f"Nothing is served at {request.url.path[:200]}.").classes("fb-muted").mark("not-found")
            ui.link("Back to the flows", "/").classes("no-underline")
    return client.build_response(request, 404)
