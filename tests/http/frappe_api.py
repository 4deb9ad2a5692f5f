"""A small API in the manner of ERPNext (Frappe), for the session-login tests: `POST
/api/method/login` with usr and pwd sets an `sid` cookie; `/api/resource/Customer` lists (with
Frappe's JSON `filters`), creates and updates customers for a live session and answers a Guest 403
PermissionError otherwise (or, with `ended_with_200`, a 200 whose `error` says "Session Expired").
And a token API: `POST /auth/login` answers `{"data": {"token": …}}`,
to be sent as a bearer token. Knobs a test turns: sessions that end after some calls, a login
answer without its cookie or token."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

USER, PASSWORD = "Administrator", "s3cret pass"


@dataclass
class FrappeSite:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name (CUST-0001)
    sessions: dict[str, int] = field(default_factory=dict)  # live sid -> calls made with it
    end_sessions_after: int | None = None  # calls a session may make before the site forgets it
    logins: int = 0
    login_bodies: list[Any] = field(default_factory=list)
    login_sets_cookie: bool = True
    ended_with_200: bool = False  # an ended session answered as Odoo's web client is: 200 and an error
    writes: int = 0


def frappe_api(site: FrappeSite) -> FastAPI:
    app = FastAPI()

    def _not_permitted() -> JSONResponse:
        if site.ended_with_200:
            return JSONResponse(
                {"error": {"code": 100, "message": "Session Expired", "data": {"name": "SessionExpired"}}}
            )
        return JSONResponse({"exc_type": "PermissionError", "message": "Not permitted"}, status_code=403)

    def live(request: Request) -> bool:
        sid = request.cookies.get("sid") or ""
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        session = sid if sid in site.sessions else bearer if bearer in site.sessions else None
        if session is None:
            return False
        site.sessions[session] += 1
        if site.end_sessions_after is not None and site.sessions[session] > site.end_sessions_after:
            del site.sessions[session]  # expired: the caller is a Guest again
            return False
        return True

    def opened(body: dict[str, Any]) -> str | None:
        site.logins += 1
        site.login_bodies.append(body)
        if body.get("usr", body.get("username")) != USER or body.get("pwd", body.get("password")) != PASSWORD:
            return None
        session = secrets.token_hex(8)
        site.sessions[session] = 0
        return session

    @app.post("/api/method/login")
    async def login(request: Request) -> Response:
        session = opened(await request.json())
        if session is None:
            return JSONResponse(
                {"exc_type": "AuthenticationError", "message": "Invalid login credentials"}, status_code=401
            )
        answer = JSONResponse({"message": "Logged In", "home_page": "/app", "full_name": "Administrator"})
        if site.login_sets_cookie:
            answer.set_cookie("sid", session, httponly=True)
        answer.set_cookie("system_user", "yes")
        return answer

    @app.post("/auth/login")
    async def token_login(request: Request) -> Response:
        session = opened(await request.json())
        if session is None:
            return JSONResponse({"error": "wrong username or password"}, status_code=401)
        return JSONResponse({"data": {"token": session} if site.login_sets_cookie else {}})

    @app.get("/api/resource/Customer")
    def customers(request: Request) -> Response:
        if not live(request):
            return _not_permitted()
        wanted = [c for c in site.customers.values()]
        for name, _, value in json.loads(request.query_params.get("filters") or "[]"):
            wanted = [c for c in wanted if str(c.get(name)) == str(value)]
        return JSONResponse({"data": wanted})

    @app.post("/api/resource/Customer")
    async def create(request: Request) -> Response:
        if not live(request):
            return _not_permitted()
        body = await request.json()
        name = f"CUST-{len(site.customers) + 1:04d}"
        site.customers[name] = {**body, "name": name}
        site.writes += 1
        return JSONResponse({"data": site.customers[name]})

    @app.put("/api/resource/Customer/{name}")
    async def update(name: str, request: Request) -> Response:
        if not live(request):
            return _not_permitted()
        if name not in site.customers:
            return JSONResponse({"exc_type": "DoesNotExistError", "message": f"Customer {name} not found"}, 404)
        site.customers[name].update(await request.json())
        site.writes += 1
        return JSONResponse({"data": site.customers[name]})

    return app
