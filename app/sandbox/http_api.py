"""The demo CRM and ERP as REST services: one FastAPI app per system, over its SQLite file.

Testers point flows at these to see how a flow behaves against a real HTTP API: JSON bodies,
pages with a `next` link (also in a Link header), bearer-token auth, `updated_since` filters,
create and update (POST, PUT and PATCH by id), and `POST /_reset`, which restores the seeded data.
`POST /_faults` makes the system slow, or answer 500 or 429 (with Retry-After) to a share of the
calls, or drop the connection half-way through a response, the same way for the same seed.

Start them with `flowbridge sandbox serve`, or in-process with app.sandbox.http_serve (tests, UI).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from app.sandbox.http_data import ApiError, SystemData

DEFAULT_TOKEN = "sandbox-token"
DEFAULT_CRM_PORT, DEFAULT_ERP_PORT = 8701, 8702
DEFAULT_PER_PAGE, MAX_PER_PAGE = 100, 500
TITLES = {"crm": "Flowbridge sandbox CRM", "erp": "Flowbridge sandbox ERP"}


# --- faults ----------------------------------------------------------------------------------------


@dataclass
class Faults:
    """What a system does wrong on purpose, decided call by call from a seeded random sequence."""

    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    drop_rate: float = 0.0
    retry_after: float = 1.0
    down_after: int = 0  # from this many calls on, every call is answered 500 (the system went down); 0: never
    seed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"calls": 0, "errors": 0, "rate_limited": 0, "dropped": 0})
    methods: dict[str, int] = field(default_factory=dict)  # calls by HTTP method (writes are POST, PUT, PATCH)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    SETTINGS = ("latency_ms", "error_rate", "rate_limit_rate", "drop_rate", "retry_after", "down_after", "seed")

    def configure(self, settings: dict[str, Any]) -> None:
        """Replace every setting (missing ones go back to none) and restart the seeded sequence."""
        unknown = sorted(set(settings) - set(self.SETTINGS))
        if unknown:
            raise ApiError(422, f"unknown fault setting(s) {', '.join(unknown)}; use {', '.join(self.SETTINGS)}")
        fresh, checked = Faults(), {}
        for name in self.SETTINGS:  # every value checked before any is taken: all or none
            value = settings.get(name, getattr(fresh, name))
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ApiError(422, f"fault setting '{name}' must be a number from 0")
            if name.endswith("_rate") and value > 1:
                raise ApiError(422, f"fault setting '{name}' is a share of calls, from 0 to 1")
            checked[name] = int(value) if name in ("latency_ms", "down_after", "seed") else float(value)
        for name, value in checked.items():
            setattr(self, name, value)
        self._random = random.Random(self.seed)
        self.counts = {k: 0 for k in self.counts}
        self.methods = {}

    def decide(self, method: str = "GET") -> str | None:
        """None (answer normally), 'error', 'rate_limit' or 'drop', for the next call."""
        self.counts["calls"] += 1
        self.methods[method] = self.methods.get(method, 0) + 1
        roll = self._random.random()
        if self.down_after and self.counts["calls"] > self.down_after:
            self.counts["errors"] += 1
            return "error"
        for kind, share in (("error", self.error_rate), ("rate_limit", self.rate_limit_rate), ("drop", self.drop_rate)):
            if roll < share:
                self.counts[{"error": "errors", "rate_limit": "rate_limited", "drop": "dropped"}[kind]] += 1
                return kind
            roll -= share
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in self.SETTINGS},
            "counts": dict(self.counts),
            "methods": dict(self.methods),
        }


class SandboxDrop(Exception):
    """Raised after half a response was sent: the server closes the connection (a dropped call)."""


class _FaultLayer:
    """ASGI middleware: latency, 500s, 429s and dropped connections on every call but /_ ones."""

    def __init__(self, app: Any, faults: Faults) -> None:
        self.app, self.faults = app, faults

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_"):
            await self.app(scope, receive, send)
            return
        # The event loop takes one call at a time: the faults come in the seed's order.
        decision = self.faults.decide(scope["method"])
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if decision == "error":
            answer = JSONResponse({"detail": "sandbox fault: internal server error"}, status_code=500)
            await answer(scope, receive, send)
        elif decision == "rate_limit":
            wait = self.faults.retry_after
            await JSONResponse(
                {"detail": "sandbox fault: too many requests"}, status_code=429, headers={"Retry-After": f"{wait:g}"}
            )(scope, receive, send)
        elif decision == "drop":
            await self._drop(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _drop(self, scope: dict, receive: Any, send: Any) -> None:
        """Do the work (a write is applied), then send the headers and half the body, and hang up."""
        messages: list[dict] = []

        async def keep(message: dict) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send(
            {
                "type": "http.response.start",
                "status": start["status"],
                "headers": [*headers, (b"content-length", str(max(len(body), 2)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise SandboxDrop("connection dropped on purpose (sandbox fault)")


class _QuietDrops(logging.Filter):
    """Keep uvicorn from logging a traceback for each connection the fault layer dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], SandboxDrop))


# --- the apps --------------------------------------------------------------------------------------


def _positive(request: Request, name: str, default: int, highest: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, not {text!r}") from None
    if value < 1 or (highest is not None and value > highest):
        raise ApiError(400, f"{name} must be from 1" + (f" to {highest}" if highest else ""))
    return value


_RESERVED = {"page", "per_page", "sort", "updated_since", "expand"}


def create_app(system: str, data: SystemData, *, token: str = DEFAULT_TOKEN, faults: Faults | None = None) -> Any:
    """The REST API of one sandbox system ('crm' or 'erp') over `data`; an ASGI app."""
    faults = faults or Faults()
    api = FastAPI(title=TITLES[system], version="1", docs_url="/_docs", openapi_url="/_openapi.json", redoc_url=None)
    api.state.data, api.state.faults = data, faults

    def authorised(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or given.strip() != token:
            raise HTTPException(
                401,
                "missing or wrong bearer token (send Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @api.exception_handler(ApiError)
    async def _refused(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status)

    @api.get("/_health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "system": system}

    @api.post("/_reset", dependencies=[Depends(authorised)])
    def reset() -> dict[str, Any]:
        data.reset()
        return {"status": "reset", "system": system}

    @api.get("/_faults", dependencies=[Depends(authorised)])
    def get_faults() -> dict[str, Any]:
        return faults.as_dict()

    @api.post("/_faults", dependencies=[Depends(authorised)])
    async def set_faults(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ApiError(422, "the body must be a JSON object of fault settings")
        faults.configure(body)
        return faults.as_dict()

    @api.get("/", dependencies=[Depends(authorised)])
    def index() -> dict[str, Any]:
        return {
            "system": system,
            "resources": {
                name: {"fields": cols.names, "key": data.resources[name].key} for name, cols in data.columns.items()
            },
        }

    @api.get("/{name}", dependencies=[Depends(authorised)])
    def list_records(name: str, request: Request) -> JSONResponse:
        resource = data.resource(name)
        page = _positive(request, "page", 1)
        per_page = _positive(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        params = request.query_params
        filters = {k: v for k, v in params.items() if k not in _RESERVED}
        expand = [e.strip() for e in params.get("expand", "").split(",") if e.strip()]
        rows, total = data.list(
            resource,
            filters,
            page=page,
            per_page=per_page,
            sort=params.get("sort"),
            updated_since=params.get("updated_since"),
            expand=expand,
        )
        following = (
            str(request.url.include_query_params(page=page + 1, per_page=per_page)) if page * per_page < total else None
        )
        headers = (
            {"Link": f'<{following}>; rel="next"', "X-Total-Count": str(total)}
            if following
            else {"X-Total-Count": str(total)}
        )
        return JSONResponse(
            {"data": rows, "page": page, "per_page": per_page, "total": total, "next": following}, headers=headers
        )

    @api.get("/{name}/{item}", dependencies=[Depends(authorised)])
    def get_record(name: str, item: str, request: Request) -> dict[str, Any]:
        resource = data.resource(name)
        expand = [e.strip() for e in request.query_params.get("expand", "").split(",") if e.strip()]
        found = data.get(resource, data.item_id(resource, item), expand)
        if found is None:
            raise ApiError(404, f"there is no {name} {item}")
        return found

    @api.post("/{name}", dependencies=[Depends(authorised)], status_code=201)
    async def create_record(name: str, request: Request) -> JSONResponse:
        resource = data.resource(name)
        body = await _json_body(request)
        created, made = await asyncio.to_thread(data.create, resource, body, request.headers.get("idempotency-key"))
        headers = {"Location": str(request.url_for("get_record", name=name, item=str(created[resource.key])))}
        if not made:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(created, status_code=201 if made else 200, headers=headers)

    async def _put(name: str, item: str, request: Request, create: bool) -> JSONResponse:
        resource = data.resource(name)
        body = await _json_body(request)
        record, created = await asyncio.to_thread(data.put, resource, data.item_id(resource, item), body, create=create)
        return JSONResponse(record, status_code=201 if created else 200)

    @api.put("/{name}/{item}", dependencies=[Depends(authorised)])
    async def put_record(name: str, item: str, request: Request) -> JSONResponse:
        return await _put(name, item, request, create=True)

    @api.patch("/{name}/{item}", dependencies=[Depends(authorised)])
    async def patch_record(name: str, item: str, request: Request) -> JSONResponse:
        return await _put(name, item, request, create=False)

    return _FaultLayer(api, faults)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ApiError(400, f"the body is not JSON: {error}") from None
