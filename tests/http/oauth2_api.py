"""An API behind OAuth2 client credentials, for the tests: a token endpoint (RFC 6749 §4.4, the
client authenticated by HTTP Basic or in the form, as RFC 6749 §2.3.1 allows both) and an orders
API that takes only its bearer tokens. Knobs a test turns: how long tokens say they last, after how
many API calls a token is revoked, how many token requests fail with 503 first, or answer slowly.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

CLIENT_ID, CLIENT_SECRET = "flowbridge", "s3cret-client"


@dataclass
class TokenServer:
    expires_in: int = 3600
    revoke_after: int | None = None  # API calls a token may make before the API answers 401 to it
    unavailable: int = 0  # token requests answered 503 before the endpoint works
    slow: int = 0  # token requests answered only after `slow_seconds`, before the endpoint is quick
    slow_seconds: float = 0.0
    token_requests: int = 0
    issued: dict[str, int] = field(default_factory=dict)  # token -> API calls made with it
    api_authorizations: list[str] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by number
    refresh_tokens: set[str] = field(default_factory=set)  # the ones it still takes
    rotate: bool = True  # each refresh gives a new refresh token, and the old one is spent

    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> its PKCE challenge

    def authorize(self) -> str:
        """A refresh token, as a user's consent at the authorization endpoint would give one."""
        value = secrets.token_urlsafe(16)
        self.refresh_tokens.add(value)
        return value


def _client_of(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.startswith("Basic "):
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return urllib.parse.unquote(user), urllib.parse.unquote(password)
    return form.get("client_id", ""), form.get("client_secret", "")


def oauth2_api(server: TokenServer) -> FastAPI:
    api = FastAPI()

    @api.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        server.token_requests += 1
        if server.slow > 0:
            server.slow -= 1
            await asyncio.sleep(server.slow_seconds)
        if server.unavailable > 0:
            server.unavailable -= 1
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
        if form.get("grant_type") not in ("client_credentials", "refresh_token", "authorization_code"):
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if _client_of(request, form) != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "client authentication failed"}, status_code=401
            )
        answer: dict[str, Any] = {"token_type": "Bearer", "expires_in": server.expires_in}
        if form["grant_type"] == "authorization_code":
            challenge = server.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            proof = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
            if challenge is None or proof != challenge:
                return JSONResponse({"error": "invalid_grant", "error_description": "bad code"}, status_code=400)
            answer["refresh_token"] = server.authorize()
        if form["grant_type"] == "refresh_token":
            if form.get("refresh_token") not in server.refresh_tokens:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "the refresh token is revoked"}, status_code=400
                )
            if server.rotate:
                server.refresh_tokens.discard(form["refresh_token"])
                answer["refresh_token"] = server.authorize()
        value = secrets.token_urlsafe(16)
        server.issued[value] = 0
        return JSONResponse({**answer, "access_token": value})

    @api.get("/oauth/authorize")
    async def consent(request: Request) -> Any:
        """A user who allows at once: back to the client's redirect with a code and its state."""
        from fastapi.responses import RedirectResponse

        asked = request.query_params
        if asked.get("client_id") != CLIENT_ID or asked.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(12)
        server.codes[code] = asked["code_challenge"]
        query = urllib.parse.urlencode({"code": code, "state": asked.get("state", "")})
        return RedirectResponse(f"{asked['redirect_uri']}?{query}", status_code=302)

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        server.api_authorizations.append(header)
        value = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or value not in server.issued:
            return False
        if server.revoke_after is not None and server.issued[value] >= server.revoke_after:
            return False
        server.issued[value] += 1
        return True

    def unauthorized() -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )

    @api.get("/orders")
    async def find(request: Request, number: str = "") -> Any:
        if not authorized(request):
            return unauthorized()
        return [order for order in server.orders.values() if order["number"] == number]

    @api.post("/orders")
    async def create(request: Request) -> Any:
        if not authorized(request):  # checked before anything is kept: a refused call wrote nothing
            return unauthorized()
        order = await request.json()
        if order["number"] in server.orders:
            return JSONResponse({"error": f"order {order['number']} exists already"}, status_code=409)
        stored = {**order, "id": len(server.orders) + 1}
        server.orders[order["number"]] = stored
        return JSONResponse(stored, status_code=201)

    return api
