"""Browser sign-ins: made anew at every sign-in, kept in the store, ended at sign-out.

A sign-in is a random token: the browser's cookie holds it, the store only its hash, with the user
and an expiry. Nothing the browser had before signing in (a session cookie someone planted, say)
is ever promoted to a signed-in one, and every server of one store knows every sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from app.clock import as_utc
from app.services import access
from app.store.database import Store
from app.store.models import SignIn, User, utcnow
from app.store.secrets import cookie_secret

COOKIE = "flowbridge_sign_in"
LIFETIME = dt.timedelta(hours=12)


def cookie_key(store: Store) -> str:
    """The key the web app signs its cookies with (the same for every server of one store when
    FLOWBRIDGE_SECRET_KEY is set)."""
    return cookie_secret(store.home)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(store: Store, name: str, api_token: str) -> tuple[access.Principal, str]:
    """Check a name and API token; the principal and a new sign-in token for the browser's cookie.
    Unauthenticated when they do not match a user."""
    principal = access.authenticate(store, f"Bearer {api_token.strip()}")
    if principal.name != name.strip():
        raise access.Unauthenticated("that token belongs to another user")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with store.session() as session:
        session.execute(sa.delete(SignIn).where(SignIn.expires_at < now))  # the ended ones go
        session.add(
            SignIn(token_hash=_hash(token), user_name=principal.name, created_at=now, expires_at=now + LIFETIME)
        )
        session.commit()
    return principal, token


def signed_in(store: Store, token: str | None) -> access.Principal | None:
    """Who this sign-in token belongs to, with their role as it is now; None when unknown or ended."""
    if not token:
        return None
    with store.session() as session:
        row = session.get(SignIn, _hash(token))
        if row is None or as_utc(row.expires_at) < utcnow():
            return None
        user = session.get(User, row.user_name)
    return access.Principal(user.name, user.role) if user else None


def sign_out(store: Store, token: str | None) -> None:
    if token:
        with store.session() as session:
            session.execute(sa.delete(SignIn).where(SignIn.token_hash == _hash(token)))
            session.commit()
