"""A contacts API in the manner of HubSpot's CRM objects, for the request-template tests: a record
travels wrapped as `{"properties": {…}}` (`id` beside it), found by `GET /contacts?email=…`
(`{"results": […]}`), created by `POST /contacts`, read by `GET /contacts/{id}`, changed by `PATCH /contacts/{id}`. Each write's
body and headers are kept, for the test to see what was sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


@dataclass
class Contacts:
    held: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {"id", "properties"}
    sent: list[tuple[str, Any, dict[str, str]]] = field(default_factory=list)  # (method, body, headers)


def hubspot_api(contacts: Contacts) -> FastAPI:
    app = FastAPI()

    async def kept(request: Request) -> Any:
        body = await request.json()
        own = {k: v for k, v in request.headers.items() if k.startswith("x-")}
        contacts.sent.append((request.method, body, own))
        if set(body) != {"properties"} or not isinstance(body["properties"], dict):
            return None
        return body["properties"]

    def refused() -> Response:
        return JSONResponse({"message": 'Invalid input JSON: expected {"properties": {...}}'}, status_code=400)

    @app.get("/contacts")
    def find(email: str) -> dict:
        return {"results": [c for c in contacts.held.values() if c["properties"].get("email") == email]}

    @app.get("/contacts/{contact_id}")
    def one(contact_id: str) -> Response:
        if contact_id not in contacts.held:
            return JSONResponse({"message": "resource not found"}, status_code=404)
        return JSONResponse(contacts.held[contact_id])

    @app.post("/contacts")
    async def create(request: Request) -> Response:
        properties = await kept(request)
        if properties is None:
            return refused()
        contact_id = str(100 + len(contacts.held))
        contacts.held[contact_id] = {"id": contact_id, "properties": properties}
        return JSONResponse(contacts.held[contact_id], status_code=201)

    @app.patch("/contacts/{contact_id}")
    async def update(contact_id: str, request: Request) -> Response:
        properties = await kept(request)
        if properties is None:
            return refused()
        contacts.held[contact_id]["properties"].update(properties)
        return JSONResponse(contacts.held[contact_id])

    return app
