"""Who is using this browser and what their role lets them do, checked on the server.

With no user defined (a laptop demo) the web app is open and everyone acts as admin, named by the
name they last gave (see who.py). Once `flowbridge user add` has made a user, every page needs a
sign-in (name and API token, see sign_in_page.py) and every action is checked against the role with
the same rules as the REST API (app.services.access): a handler calls `permit(...)` before it acts,
so hiding a button is a convenience, never the protection.
"""

from __future__ import annotations

import time

from nicegui import app, ui
from sqlmodel import func, select

from app.services import access
from app.store.models import User
from app.ui import context

SIGNED_IN = "signed_in"  # app.storage.user key: the name the browser signed in as
_OPEN_CACHE_SECONDS = 2.0
_open_cache: tuple[float, int, bool] = (0.0, 0, True)  # (read at, store identity, open?)


def is_open() -> bool:
    """True while no user is defined: the app needs no sign-in (read at most every 2 s per store)."""
    global _open_cache
    store = context.store()
    read_at, store_id, answer = _open_cache
    if store_id == id(store) and time.monotonic() - read_at < _OPEN_CACHE_SECONDS:
        return answer
    with store.session() as session:
        answer = session.exec(select(func.count()).select_from(User)).one() == 0
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


def signed_in_user() -> User | None:
    """The user this browser signed in as, read again from the store (a changed role counts at once)."""
    name = _storage().get(SIGNED_IN)
    if not name:
        return None
    with context.store().session() as session:
        return session.get(User, name)


def principal() -> access.Principal | None:
    """Who acts: the signed-in user; in open mode an admin with the remembered name; None when the
    app is closed and nobody is signed in."""
    if is_open():
        return access.Principal(str(_storage().get("author") or "web"), "admin")
    user = signed_in_user()
    return access.Principal(user.name, user.role) if user else None


def actor_name() -> str:
    """The name recorded with an action (who switched, started, retried)."""
    who = principal()
    return who.name if who else "web"


def allowed(action: str, env: str | None = None) -> bool:
    """Whether the current user may do this; no side effects (for hiding or disabling a control)."""
    who = principal()
    if who is None:
        return False
    try:
        access.require(who, action, env)
    except access.Forbidden:
        return False
    return True


def permit(action: str, env: str | None = None) -> bool:
    """Check on the server before acting; when refused, say why in a notification and return False."""
    who = principal()
    if who is None:
        ui.notify("Sign in first: this server has users", type="warning")
        return False
    try:
        access.require(who, action, env)
    except access.Forbidden as refusal:
        ui.notify(str(refusal), type="negative", multi_line=True)
        return False
    return True


def sign_in(name: str, token: str) -> access.Principal:
    """Check a name and API token against the store and remember the user in this browser."""
    principal = access.authenticate(context.store(), f"Bearer {token.strip()}")
    if principal.name != name.strip():
        raise access.Unauthenticated("that token belongs to another user")
    app.storage.user[SIGNED_IN] = principal.name
    return principal


def sign_out() -> None:
    _storage().pop(SIGNED_IN, None)
