"""Opening the store's database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from app.database_urls import with_driver
from app.errors import FlowbridgeError, NotFound, StoreUnreachable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration: revisions are numbered, and each file's name starts with its number.
HEAD_REVISION = max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
DEFAULT_URL = "sqlite:///flowbridge.db"


def store_url() -> str:
    """FLOWBRIDGE_DB_URL, else ./flowbridge.db."""
    return os.environ.get("FLOWBRIDGE_DB_URL") or DEFAULT_URL


T = TypeVar("T")


class Store:
    """The store's engine; open one per process (or per test) and pass it around."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or store_url()
        # Who in this process wants to hear that a flow of this store was switched (its scheduler):
        # kept with the store, so a switch in one store never reaches another store's scheduler.
        self.switch_listeners: list[Callable[[str], None]] = []
        try:
            _create_privately(self.url)
            # A server may drop an idle connection, so one is pinged before use; a SQLite file cannot
            # be dropped, and the ping would be one more statement per transaction (a write to an
            # API keeps two per record).
            url = with_driver(self.url)
            self.engine = sa.create_engine(url, pool_pre_ping=url.get_backend_name() != "sqlite")
        except (sa.exc.ArgumentError, ModuleNotFoundError) as error:
            raise FlowbridgeError(f"cannot open the store at {self.url!r}: {error}") from None
        if self.engine.dialect.name == "sqlite":
            _tune_sqlite(self.engine)
        if migrate:
            self.migrate()

    @property
    def home(self) -> Path:
        """Where the store keeps files of its own (the secret key): beside a SQLite file, else ./"""
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database and database != ":memory:":
            return Path(database).resolve().parent
        return Path.cwd()

    def migrate(self) -> None:
        if self._at_head():
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except sa.exc.OperationalError as error:
            raise StoreUnreachable(
                f"cannot open the store at {self.engine.url.render_as_string()}: {str(error.orig).strip()}"
            ) from None

    def _at_head(self) -> bool:
        """Whether the schema is at the newest migration already: one query, instead of loading
        Alembic and its scripts at every command (a quarter of a second)."""
        try:
            with self.engine.connect() as conn:
                current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        except sa.exc.DBAPIError:  # a new store: no version table yet
            return False
        return current == [HEAD_REVISION]

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def fetch(self, model: type[T], key: Any, missing: str) -> T:
        """The row of `model` with this primary key; NotFound(`missing`) when there is none."""
        with self.session() as session:
            row = session.get(model, key)
        if row is None:
            raise NotFound(missing)
        return row

    def delete(self, model: type[T], key: Any, missing: str) -> T:
        """Delete the row of `model` with this primary key and return it; NotFound(`missing`) when absent."""
        with self.session() as session:
            row = session.get(model, key)
            if row is None:
                raise NotFound(missing)
            session.delete(row)
            session.commit()
        return row

    def close(self) -> None:
        self.engine.dispose()


def _create_privately(url: str) -> None:
    """A new SQLite store file is made readable by its owner only: it holds dead letters (whole
    records, personal data) and sealed secrets. SQLite gives its -wal and -shm files the same mode."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # made by another process a moment ago
        pass


def _tune_sqlite(engine: sa.Engine) -> None:
    # WAL lets the UI read while a run writes; NORMAL sync survives a process crash, and a cursor
    # commit per batch would otherwise cost two fsyncs each.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
