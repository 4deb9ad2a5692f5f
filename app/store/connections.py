"""Connections by logical name and environment; settings sealed with the store's secret key."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select

from app.connectors import CONNECTION_TYPES, ConnectionSpec
from app.connectors.sql.engine import sa_url_hidden
from app.environments import ENVIRONMENTS
from app.errors import FlowbridgeError, NotFound
from app.store.database import Store
from app.store.models import Connection, utcnow
from app.store.secrets import Secrets


def set_connection(store: Store, name: str, env: str, type_: str, settings: dict[str, Any]) -> None:
    if env not in ENVIRONMENTS:
        raise FlowbridgeError(f"unknown environment '{env}'; use one of {', '.join(ENVIRONMENTS)}")
    if type_ not in CONNECTION_TYPES:
        raise FlowbridgeError(f"unknown connection type '{type_}'; use one of {', '.join(CONNECTION_TYPES)}")
    sealed = Secrets(store.home).seal(settings)
    with store.session() as session:
        row = session.get(Connection, (name, env))
        if row is None:
            row = Connection(name=name, env=env, type=type_, secret_settings=sealed)
        else:
            row.type, row.secret_settings, row.updated_at = type_, sealed, utcnow()
        session.add(row)
        session.commit()


def connection_spec(store: Store, name: str, env: str) -> ConnectionSpec:
    with store.session() as session:
        row = session.get(Connection, (name, env))
    if row is None:
        raise NotFound(
            f"there is no connection '{name}' in environment '{env}'; add it with "
            f"`flowbridge connection set {name} --env {env} --type {'|'.join(CONNECTION_TYPES)} ...`"
        )
    settings = Secrets(store.home).open(row.secret_settings, f"connection '{name}' ({env})")
    return ConnectionSpec(
        name, env, row.type, settings, keep=lambda changes: update_settings(store, name, env, changes)
    )


def update_settings(store: Store, name: str, env: str, changes: dict[str, Any]) -> None:
    """Change some of a connection's settings, sealed again, in one transaction (a rotated token)."""
    sealer = Secrets(store.home)
    with store.session() as session:
        row = session.get(Connection, (name, env))
        if row is None:
            raise NotFound(f"there is no connection '{name}' in environment '{env}' any more")
        settings = {**sealer.open(row.secret_settings, f"connection '{name}' ({env})"), **changes}
        row.secret_settings, row.updated_at = sealer.seal(settings), utcnow()
        session.add(row)
        session.commit()


def list_connections(store: Store) -> list[dict[str, Any]]:
    """Connections with their settings made safe to show: passwords hidden."""
    with store.session() as session:
        rows = session.exec(select(Connection).order_by(Connection.name, Connection.env)).all()
    secrets = Secrets(store.home)
    listed = []
    for row in rows:
        auth = None
        try:
            settings = secrets.open(row.secret_settings, row.name)
            auth = settings.get("auth")  # how it signs in (no secret): the Connections page's Authorize
            if row.type == "sql":
                target = sa_url_hidden(settings["url"])
            elif row.type in ("http", "jsonrpc", "odata"):  # the base URL, without any user:password in it
                target = re.sub(r"//[^/@]*@", "//", settings.get("base_url") or settings.get("url") or "")
            else:
                target = settings.get("path", "")
        except FlowbridgeError as error:
            target = f"<{error}>"
        listed.append(
            {
                "name": row.name,
                "env": row.env,
                "type": row.type,
                "target": target,
                "auth": auth,
                "updated_at": row.updated_at.isoformat(),
            }
        )
    return listed


def connection_names(store: Store) -> list[str]:
    with store.session() as session:
        return sorted(set(session.exec(select(Connection.name)).all()))
