"""A user's consent for a connection (`flowbridge connection authorize NAME`): the OAuth2
authorization-code grant with PKCE, through a redirect to a one-shot listener on 127.0.0.1.

The command prints the provider's consent address; the user opens it in a browser and allows;
the provider sends the browser back to http://127.0.0.1:PORT/callback with a code, which is
exchanged for a refresh token, kept sealed with the connection's other settings. Runs then get
their access tokens from it (connectors/oauth2.py) and keep each rotated one.
"""

from __future__ import annotations

import http.server
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.connectors import oauth2
from app.errors import FlowbridgeError
from app.services import access
from app.store import connections as connection_store
from app.store.database import Store

DEFAULT_PORT = 8765  # the redirect address registered with the provider: http://127.0.0.1:8765/callback


def authorize(
    store: Store,
    name: str,
    env: str,
    *,
    who: access.Principal | None,
    show: Callable[[str], None],
    port: int = DEFAULT_PORT,
    timeout: float = 300,
) -> None:
    """Ask the provider for a user's consent and keep the refresh token (an admin's act)."""
    access.require(who, "connections")
    spec, where = _authorizable(store, name, env)
    answer: dict[str, str] = {}
    arrived = threading.Event()

    class Callback(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            if urllib.parse.urlsplit(self.path).path != "/callback":
                self.send_error(404)
                return
            answer.update(query)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Flowbridge has the answer; you may close this tab.")
            arrived.set()

        def log_message(self, *args: object) -> None:
            """No request log: the terminal shows the command's own words."""

    try:
        listener = http.server.HTTPServer(("127.0.0.1", port), Callback)
    except OSError as error:
        raise FlowbridgeError(
            f"cannot listen on 127.0.0.1:{port} for the provider's answer: {error.strerror}"
        ) from None
    redirect_uri = f"http://127.0.0.1:{listener.server_port}/callback"
    serving = threading.Thread(target=listener.serve_forever, daemon=True)
    try:
        client, address, state, verifier = oauth2.consent_request(spec.settings, where, redirect_uri)
        serving.start()
        show(address)
        if not arrived.wait(timeout):
            raise FlowbridgeError(f"no answer from the provider within {timeout:g} s; run the command again")
    finally:
        if serving.is_alive():
            listener.shutdown()
        listener.server_close()
    if answer.get("state") != state:
        raise FlowbridgeError(f"{where}: the provider's answer does not carry this request's state; refused")
    refresh = oauth2.exchange_code(client, spec.settings, where, _code(answer, where), verifier)
    connection_store.update_settings(store, name, env, {"refresh_token": refresh})


def _authorizable(store: Store, name: str, env: str) -> tuple[Any, str]:
    spec = connection_store.connection_spec(store, name, env)
    where = f"connection '{name}' ({env})"
    if spec.type != "http" or spec.settings.get("auth") != oauth2.AUTHORIZATION_CODE:
        raise FlowbridgeError(f"{where} does not use auth {oauth2.AUTHORIZATION_CODE}; nothing to authorize")
    return spec, where


def _code(answer: dict[str, str], where: str) -> str:
    """The authorization code of the provider's answer; its refusal, in words, otherwise."""
    if "error" in answer:
        raise FlowbridgeError(
            f"{where}: consent was not given ({answer['error']}: {answer.get('error_description', '')})"
        )
    if not answer.get("code"):
        raise FlowbridgeError(f"{where}: the provider's answer has no code")
    return answer["code"]


# --- the same consent from the web app's Connections page -------------------------------------------
# The provider sends the admin's browser back to this server's /connections/authorized; the request
# waits here, by its state (a secret only that browser was given), for ten minutes at most.

CONSENT_SECONDS = 600


@dataclass
class _Asked:
    name: str
    env: str
    client: Any
    verifier: str
    at: float


_asked: dict[str, _Asked] = {}
_asked_lock = threading.Lock()


def begin_consent(store: Store, name: str, env: str, *, who: access.Principal | None, redirect_uri: str) -> str:
    """Where the admin gives consent for the connection; the answer comes to `redirect_uri`."""
    access.require(who, "connections")
    spec, where = _authorizable(store, name, env)
    client, address, state, verifier = oauth2.consent_request(spec.settings, where, redirect_uri)
    now = time.monotonic()
    with _asked_lock:
        for old in [s for s, asked in _asked.items() if now - asked.at > CONSENT_SECONDS]:
            _asked.pop(old).client.close()
        _asked[state] = _Asked(name, env, client, verifier, now)
    return address


def finish_consent(store: Store, answer: dict[str, str]) -> str:
    """Exchange the provider's answer for a refresh token, kept sealed; what happened, in words."""
    with _asked_lock:
        asked = _asked.pop(str(answer.get("state") or ""), None)
    if asked is None or time.monotonic() - asked.at > CONSENT_SECONDS:
        raise FlowbridgeError(
            "this answer matches no consent asked by this server in the last ten minutes; press Authorize again"
        )
    spec, where = _authorizable(store, asked.name, asked.env)
    try:
        code = _code(answer, where)
    except FlowbridgeError:
        asked.client.close()
        raise
    refresh = oauth2.exchange_code(asked.client, spec.settings, where, code, asked.verifier)
    connection_store.update_settings(store, asked.name, asked.env, {"refresh_token": refresh})
    return f"{where} is authorized; its refresh token is kept sealed"
