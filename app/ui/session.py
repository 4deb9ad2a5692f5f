"""Who is using this browser and what their role lets them do, checked on the server.

With no user defined (a laptop demo) the web app is open and everyone acts as admin, named by the
name they last gave (see who.py). Once `flowbridge user add` has made a user, every page needs a
sign-in (name and API token, see sign_in_page.py) and every action is checked against the role with
the same rules as the REST API (app.services.access), in the services themselves; `permit(...)` and
`allowed(...)` only tell the page early, so hiding a button is a convenience, never the protection.
A sign-in is a cookie made anew at each sign-in (services/sign_ins.py).
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from nicegui import app, ui

from app.services import access, sign_ins
from app.ui import context

_OPEN_CACHE_SECONDS = 2.0
TICKET_SECONDS = 60.0
_tickets: dict[str, tuple[str, float]] = {}  # one-time sign-in ticket -> (sign-in token, made at)
_open_cache: tuple[float, int, bool] = (0.0, 0, True)  # (read at, store identity, open?)


def is_open() -> bool:
    """True while no user is defined: the app needs no sign-in (read at most every 2 s per store)."""
    global _open_cache
    store = context.store()
    read_at, store_id, answer = _open_cache
    if store_id == id(store) and time.monotonic() - read_at < _OPEN_CACHE_SECONDS:
        return answer
    answer = not access.has_users(store)
    _open_cache = (time.monotonic(), id(store), answer)
    return answer


def forget_open_state() -> None:
    """Read whether users exist again at the next call (after a user is added or removed)."""
    global _open_cache
    _open_cache = (0.0, 0, True)


def _storage() -> dict:
    try:
        return app.storage.user
    except RuntimeError:  # no browser request (a background task)
        return {}


def sign_in_token(request: Any = None) -> str | None:
    """The sign-in token this browser's cookie holds (see services/sign_ins.py), if any."""
    if request is None:
        try:
            request = ui.context.client.request
        except (RuntimeError, AttributeError):  # no page is being served (a background task)
            return None
    return request.cookies.get(sign_ins.COOKIE) if request is not None else None


def signed_in(token: str | None) -> access.Principal | None:
    """Who holds this sign-in token, with their role as it is now (read from the store every time:
    a changed role counts at once)."""
    return sign_ins.signed_in(context.store(), token) if token else None


def principal() -> access.Principal | None:
    """Who acts: the signed-in user; in open mode an admin with the remembered name; None when the
    app is closed and nobody is signed in."""
    if is_open():
        return access.Principal(str(_storage().get("author") or "web"), "admin")
    return signed_in(sign_in_token())


def actor_name() -> str:
    """The name recorded with an action (who switched, started, retried)."""
    who = principal()
    return who.name if who else "web"


def allowed(action: str, env: str | None = None) -> bool:
    """Whether the current user may do this; no side effects (for hiding or disabling a control)."""
    return why_not(action, env) is None


def why_not(action: str, env: str | None = None) -> str | None:
    """The refusal the server would give the current user for this action, or None when allowed."""
    who = principal()
    if who is None:
        return "Sign in first: this server has users"
    try:
        access.require(who, action, env)
    except access.Forbidden as refusal:
        return str(refusal)
    return None


def gate(element: Any, action: str, env: str | None = None) -> Any:
    """Disable a control the current user may not use, with a tooltip saying who may (the handler
    still asks the server, which refuses all the same)."""
    refusal = why_not(action, env)
    if refusal is not None:
        element.disable()
        element.classes("fb-gated")  # a disabled control keeps its tooltip (theme.css)
        element.tooltip(refusal)
    return element


def permit(action: str, env: str | None = None) -> bool:
    """Check on the server before acting; when refused, say why in a notification and return False."""
    refusal = why_not(action, env)
    if refusal is not None:
        signed_in_now = principal() is not None
        ui.notify(refusal, type="negative" if signed_in_now else "warning", multi_line=True)
    return refusal is None


def sign_in(name: str, token: str) -> tuple[access.Principal, str]:
    """Check a name and API token against the store; the principal and a one-time ticket for
    `/sign-in/complete`, which gives the browser its new sign-in cookie (a cookie can only be set by
    an HTTP answer, not from a page's event)."""
    principal, sign_in_token_ = sign_ins.sign_in(context.store(), name, token)
    now = time.monotonic()
    for stale in [t for t, (_, made) in _tickets.items() if now - made > TICKET_SECONDS]:
        del _tickets[stale]
    ticket = secrets.token_urlsafe(24)
    _tickets[ticket] = (sign_in_token_, now)
    return principal, ticket


def take_ticket(ticket: str) -> str | None:
    """The sign-in token a ticket stands for, once, within a minute of the sign-in."""
    found = _tickets.pop(ticket, None)
    if found is None or time.monotonic() - found[1] > TICKET_SECONDS:
        return None
    return found[0]


def sign_out() -> None:
    token = sign_in_token()
    sign_ins.sign_out(context.store(), token)


def safe_next(target: str) -> str:
    """`target` if it is a path on this server, else "/": never send a signed-in browser to another
    site. Browsers read a backslash as a slash and drop tabs and newlines, so `/\\evil`, `/\t/evil`
    and `//evil` all lead off-site: any of them is refused."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target
