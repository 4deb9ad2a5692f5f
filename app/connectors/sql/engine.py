"""An SQLAlchemy engine with the settings every Flowbridge database needs, and URLs safe to show."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from app.database_urls import with_driver
from app.errors import ConnectorError

CONNECT_TIMEOUT = 10  # seconds; a server that does not answer is a transient fault, not a hang
WRITING = "flowbridge_writing"  # execution option: this connection is about to write (SQLite: BEGIN IMMEDIATE)


def make_engine(url: str) -> sa.Engine:
    """An engine with the settings every Flowbridge database needs.

    SQLite: foreign keys on, real savepoints, a busy timeout. PostgreSQL: a connect timeout.
    MySQL/MariaDB: strict mode for the session, so a bad value is refused rather than silently
    truncated or replaced by a default (which a non-strict server does in multi-row INSERTs).
    """
    try:
        parsed = with_driver(url)
        connect_args: dict[str, Any] = {}
        if (
            parsed.get_backend_name() == "postgresql"
            and parsed.get_driver_name() in ("psycopg2", "psycopg")
            and "connect_timeout" not in parsed.query
        ):
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except exc.ArgumentError as error:
        raise ConnectorError(
            f"'{sa_url_hidden(url)}' is not a database URL SQLAlchemy understands: {_without(str(error), url)}"
        ) from None
    except ModuleNotFoundError as error:
        raise ConnectorError(f"no database driver for '{sa_url_hidden(url)}': {error}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name in ("mysql", "mariadb"):
        _configure_mysql(engine)
    return engine


def sa_url_hidden(url: str) -> str:
    """The URL with its password hidden, as it may be shown in a message."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it that could be a secret
        return "<unreadable URL>"


def _without(text: str, url: str) -> str:
    """`text` with any copy of the URL or its password taken out."""
    text = text.replace(url, sa_url_hidden(url))
    try:
        password = sa.make_url(url).password
    except Exception:
        password = None
    return text.replace(password, "***") if password else text


def _configure_sqlite(engine: sa.Engine) -> None:
    # pysqlite begins transactions lazily and breaks SAVEPOINT; take over BEGIN as SQLAlchemy's
    # documentation recommends, and enforce foreign keys as a real system would. A writer begins
    # IMMEDIATE, taking the write lock up front (waiting for it), so two writers queue instead of
    # deadlocking when one has read first. A `timeout` in the URL replaces the default busy wait.
    busy_ms = None if "timeout" in engine.url.query else 5000

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if busy_ms is not None:
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITING) else "BEGIN")


def _configure_mysql(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')")
        cursor.close()
