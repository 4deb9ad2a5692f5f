"""Connections as a user manages them: saving one (an admin's act: it holds secrets) and listing
them with their secrets hidden. The store seals the settings with its key (store/connections.py)."""

from __future__ import annotations

from typing import Any

from app.connectors import CONNECTION_TYPES
from app.connectors.settings_schemas import AUTH_FIELDS, SETTINGS_SCHEMAS, secret_settings, settings_problems
from app.connectors.sql.engine import sa_url_hidden
from app.errors import FlowbridgeError
from app.services import access
from app.store import connections as connection_store
from app.store.database import Store


def save_connection(
    store: Store, name: str, env: str, type_: str, settings: dict[str, Any], *, who: access.Principal | None
) -> None:
    """Add or change connection `name` in `env`; refused for every role but admin."""
    access.require(who, "connections")
    problems = settings_problems(type_, settings)
    if problems:
        raise FlowbridgeError(f"connection '{name}' ({env}): " + "; ".join(problems))
    connection_store.set_connection(store, name, env, type_, settings)


def connections(store: Store) -> list[dict[str, Any]]:
    """Every connection: name, environment, type and its target with any password hidden."""
    return connection_store.list_connections(store)


def connection_types() -> tuple[str, ...]:
    return CONNECTION_TYPES


def settings_schema(type_: str) -> dict[str, Any]:
    """The JSON Schema of a type's settings, which the Connections page draws its form from."""
    return SETTINGS_SCHEMAS[type_]


def auth_fields(auth: str | None) -> tuple[set[str], set[str]]:
    """(the settings `auth` uses, every auth-only setting): a form shows the first, hides the rest."""
    every = {name for names in AUTH_FIELDS.values() for name in names}
    return set(AUTH_FIELDS.get(auth or "none", [])), every


SQL_HIDDEN_PASSWORD = "***"  # how a SQL address is shown with its password hidden (SQLAlchemy's mark)


def connection_form(store: Store, name: str, env: str, *, who: access.Principal | None) -> dict[str, Any]:
    """What the Connections page shows to edit a connection: its type, its settings without their
    secrets (a SQL address with its password hidden), and which secrets are set. Secrets never
    leave the server: they are write-only."""
    access.require(who, "connections")
    spec = connection_store.connection_spec(store, name, env)
    secret = secret_settings(spec.type)
    shown = {k: v for k, v in spec.settings.items() if k not in secret}
    if spec.type == "sql" and "url" in shown:
        shown["url"] = sa_url_hidden(str(shown["url"]))
    return {"type": spec.type, "settings": shown, "secrets_set": sorted(k for k in spec.settings if k in secret)}


def save_connection_form(
    store: Store, name: str, env: str, type_: str, entered: dict[str, Any], *, who: access.Principal | None
) -> None:
    """Save what the Connections page's form holds: a secret left empty keeps the one stored (the
    form never had it), as does a SQL address whose password is still the hidden mark."""
    access.require(who, "connections")
    kept: dict[str, Any] = {}
    try:
        stored = connection_store.connection_spec(store, name, env)
    except FlowbridgeError:
        stored = None
    if stored is not None and stored.type == type_:
        kept = {k: v for k, v in stored.settings.items() if k in secret_settings(type_)}
    settings = {**kept, **{k: v for k, v in entered.items() if v not in (None, "")}}
    if type_ == "sql" and stored is not None and stored.type == "sql":
        settings["url"] = _with_stored_password(str(settings.get("url") or ""), str(stored.settings.get("url") or ""))
    save_connection(store, name, env, type_, settings, who=who)


def _with_stored_password(entered: str, stored: str) -> str:
    import sqlalchemy as sa

    try:
        url, before = sa.make_url(entered), sa.make_url(stored)
    except sa.exc.ArgumentError:
        return entered  # refused by the check with the address named
    if url.password == SQL_HIDDEN_PASSWORD:
        url = url.set(password=before.password)
    return url.render_as_string(hide_password=False)


def try_connection(store: Store, name: str, env: str, *, who: access.Principal | None) -> str:
    """Reach the system as a run would and say what was found ("connected: 5 tables: accounts, …");
    a system that cannot be reached, or refuses the credentials, raises its error naming the connection."""
    from app.connectors.rest import Refused

    access.require(who, "connections")
    spec = connection_store.connection_spec(store, name, env)
    connector: Any = spec.open()
    try:
        if spec.type == "file":
            files = [p for p in connector.folder.iterdir() if p.is_file()] if connector.folder.is_dir() else []
            return f"connected: {len(files):,} files in {connector.folder}"
        if spec.type != "http":
            found = list(connector.tables())
            listed = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
            kind = "models" if spec.type == "jsonrpc" else "entity sets" if spec.type == "odata" else "tables"
            return f"connected: {len(found):,} {kind}" + (f": {listed}" if found else "")
        try:
            response = connector.send("GET", "", missing_ok=True)
        except Refused as refused:
            if refused.status in (401, 403):
                raise
            return f"connected: the API answered HTTP {refused.status} at its base address"
        return (
            f"connected: the API answered HTTP {404 if response is None else response.status_code} at its base address"
        )
    finally:
        connector.close()
