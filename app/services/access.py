"""Who may do what: roles, checked on the server for every API call (the CLI is the machine's admin).

admin: everything (switch flows, run in production, connections, users); analyst: edit flows, run
and replay in the sandbox; tester: run and replay in the sandbox; viewer: read only. With no user
defined yet, the API is open and everyone is treated as admin (a laptop demo); the first
`flowbridge user add` closes it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import func, select

from app.errors import FlowbridgeError
from app.store.database import Store
from app.store.models import User

ROLES = ("admin", "analyst", "tester", "viewer")
# What each action needs; runs and replays also depend on the environment (see `require`).
ALLOWED = {
    "read": set(ROLES),
    "switch": {"admin"},
    "edit": {"admin", "analyst"},
    "dead_letters": {"admin", "analyst"},
    "run:sandbox": {"admin", "analyst", "tester"},
    "run:production": {"admin"},
    "replay": {"admin", "analyst", "tester"},
    "acknowledge": {"admin", "analyst"},
}
# What a refusal says the caller may not do, where the action's name is not a verb already:
# "vic (viewer) may not retry or discard dead letters".
DOING = {
    "dead_letters": "retry or discard dead letters",
    "acknowledge": "acknowledge alerts",
    "connections": "manage connections",
}


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


# Who acts when nobody signed in does: the automatic switch-off after failed runs.
SYSTEM = Principal("flowbridge", "admin")
# A webhook call: it proved itself with the flow's own secret (services/webhooks.py), for that flow.
WEBHOOK = Principal("webhook", "admin")


def admin(name: str) -> Principal:
    """An admin named `name`: who acts where the caller is trusted already (the demo, a test, a script)."""
    return Principal(name, "admin")


def machine_admin() -> Principal:
    """The command line's caller: whoever can open the store on this machine is its admin, by their
    login name."""
    import getpass

    try:
        return Principal(getpass.getuser(), "admin")
    except Exception:  # no user name in this environment (a container): still record something
        return Principal("cli", "admin")


class Forbidden(FlowbridgeError):
    """The caller's role does not allow this."""


class Unauthenticated(FlowbridgeError):
    """No valid API token."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(store: Store, name: str, role: str) -> str:
    """Create or reset a user; returns their new API token (shown once, stored only hashed)."""
    if role not in ROLES:
        raise FlowbridgeError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    with store.session() as session:
        user = session.get(User, name) or User(name=name, role=role, token_hash="")
        user.role, user.token_hash = role, _hash(token)
        session.add(user)
        session.commit()
    return token


def list_users(store: Store) -> list[User]:
    with store.session() as session:
        return list(session.exec(select(User).order_by(User.name)).all())


def remove_user(store: Store, name: str) -> None:
    store.delete(User, name, f"no user named '{name}'")


def has_users(store: Store) -> bool:
    """Whether any user is defined: until the first one, the API and the web app are open."""
    with store.session() as session:
        return session.exec(select(func.count()).select_from(User)).one() > 0


def authenticate(store: Store, authorization: str | None, claimed_name: str | None = None) -> Principal:
    """The caller of an API request, from its `Authorization: Bearer <token>` header."""
    if not has_users(store):
        return Principal(claimed_name or "api", "admin")
    with store.session() as session:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("this server needs an API token: Authorization: Bearer <token>")
        user = session.exec(select(User).where(User.token_hash == _hash(authorization[7:].strip()))).first()
    if user is None:
        raise Unauthenticated("the API token is not known")
    return Principal(user.name, user.role)


def require(principal: Principal | None, action: str, env: str | None = None) -> Principal:
    """The principal, if their role allows `action` (in `env`, for runs); Forbidden or
    Unauthenticated (nobody signed in) otherwise. Every service that acts calls this first."""
    if principal is None:
        raise Unauthenticated("sign in first: this server has users")
    key = f"{action}:{env}" if action == "run" else action
    allowed = ALLOWED.get(key, {"admin"})
    if principal.role not in allowed:
        where = f" in {env}" if env else ""
        doing = DOING.get(action, action.replace("_", " "))
        raise Forbidden(
            f"{principal.name} ({principal.role}) may not {doing}{where}; that needs {' or '.join(sorted(allowed))}"
        )
    return principal
