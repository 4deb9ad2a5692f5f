"""SQL connector: SQLite, PostgreSQL and MySQL/MariaDB through SQLAlchemy Core.

Reads page through a table by key (keyset pagination, so a long sync never holds a read
transaction open against a database it also writes), or stream a query. Errors are sorted into
transient ones (worth a retry) and permanent ones, each with a message that names the connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from app.connectors import ConnectionSpec
from app.connectors.retry import with_retries
from app.errors import ConnectorError, TransientError

_TRANSIENT_HINTS = (
    "database is locked", "connection refused", "could not connect", "server closed the connection",
    "lost connection", "timeout", "timed out", "connection reset", "broken pipe", "can't connect",
    "terminating connection", "connection is closed", "connection was killed", "gone away",
    "the database system is starting up", "the database system is shutting down",
)


def make_engine(url: str) -> sa.Engine:
    """An engine with the settings every Flowbridge database needs (SQLite FKs and savepoints)."""
    try:
        engine = sa.create_engine(url, pool_pre_ping=True)
    except exc.ArgumentError as error:
        raise ConnectorError(f"'{sa_url_hidden(url)}' is not a database URL SQLAlchemy understands: {error}") from None
    except ModuleNotFoundError as error:
        raise ConnectorError(f"no database driver for '{sa_url_hidden(url)}': {error}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: sa.Engine) -> None:
    # pysqlite begins transactions lazily and breaks SAVEPOINT; take over BEGIN as SQLAlchemy's
    # documentation recommends, and enforce foreign keys as a real system would.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def sa_url_hidden(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it that could be a secret
        return "<unreadable URL>"


def classify(error: Exception, where: str) -> ConnectorError:
    """Turn a database error into the project's own: transient (retry) or permanent."""
    if isinstance(error, ConnectorError):
        return error
    message = str(getattr(error, "orig", None) or error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    lowered = message.lower()
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return TransientError(f"{where}: connection lost ({message})")
    if isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError)) and any(
        hint in lowered for hint in _TRANSIENT_HINTS
    ):
        return TransientError(f"{where}: {message}")
    if isinstance(error, exc.NoSuchTableError):
        return ConnectorError(f"{where}: table '{error}' does not exist")
    return ConnectorError(f"{where}: {message}")


def plain_value(value: Any) -> Any:
    """A value as records carry it (JSON-friendly): Decimal to float, dates to ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


class SqlConnector:
    """One SQL connection for the length of a run: an engine, reflected tables, reads and lookups."""

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        url = spec.settings.get("url")
        if not url:
            raise ConnectorError(f"connection '{spec.name}' ({spec.env}) has no URL")
        self.url = url
        self._engine: sa.Engine | None = None
        self._tables: dict[str, sa.Table] = {}

    @property
    def where(self) -> str:
        return f"connection '{self.spec.name}' ({self.spec.env})"

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def table(self, name: str) -> sa.Table:
        """The table, reflected once per run; a missing table is a clear, permanent error."""
        if name not in self._tables:
            schema, _, table_name = name.rpartition(".")
            try:
                self._tables[name] = sa.Table(table_name, sa.MetaData(), schema=schema or None,
                                              autoload_with=self.engine)
            except exc.NoSuchTableError:
                raise ConnectorError(f"{self.where}: table '{name}' does not exist") from None
            except Exception as error:
                raise classify(error, self.where) from None
        return self._tables[name]

    def columns(self, table: str) -> list[str]:
        return [c.name for c in self.table(table).columns]

    def tables(self) -> list[str]:
        try:
            return sorted(sa.inspect(self.engine).get_table_names())
        except Exception as error:
            raise classify(error, self.where) from None

    # --- reading --------------------------------------------------------------------------------

    def read(self, *, table: str | None = None, query: str | None = None, cursor: str | None = None,
             key: list[str] | None = None, where: str | None = None, position: Any = None,
             batch_size: int = 1000) -> Iterator[tuple[list[dict[str, Any]], Any]]:
        """Batches of records, each with the cursor position that is safe to commit after it.

        With a cursor and a committed position, records are read in cursor order from that
        position (inclusive, so ties on the cursor value are read again rather than lost) and
        every batch carries its last cursor value. Without one, records are read in key order and
        only the last batch carries a position: the largest cursor value seen when the read began.
        """
        source, keys = self._source(table, query, key)
        if where:
            source = source.where(sa.text(where))
        if not keys:
            if cursor:
                raise ConnectorError(f"{self.where}: reading by cursor '{cursor}' needs a key to order ties; "
                                     "set the node's key")
            yield from self._stream(source, batch_size)
            return
        cursor_col = sa.column(cursor) if cursor else None
        incremental = cursor is not None and position is not None
        signpost = None if incremental or cursor is None else self._max(source, cursor_col)
        order = ([cursor_col] if incremental else []) + [sa.column(k) for k in keys]
        base = source.where(cursor_col >= decode_position(position)) if incremental else source
        last: tuple | None = None
        while True:
            page = base if last is None else base.where(sa.tuple_(*order) > sa.tuple_(*last))
            rows = self._fetch(page.order_by(*order).limit(batch_size))
            if not rows:
                if not incremental and signpost is not None and last is None:
                    yield [], encode_position(signpost)
                return
            names = ([cursor] if incremental else []) + keys
            last = tuple(rows[-1][n] for n in names)
            done = len(rows) < batch_size
            if incremental:
                yield [self._plain(r) for r in rows], encode_position(rows[-1][cursor])
            else:
                yield [self._plain(r) for r in rows], encode_position(signpost) if done and cursor else None
            if done:
                return

    def _source(self, table: str | None, query: str | None, key: list[str] | None) -> tuple[sa.Select, list[str]]:
        if table:
            reflected = self.table(table)
            keys = key or [c.name for c in reflected.primary_key.columns]
            return sa.select(reflected), keys
        if not query:
            raise ConnectorError(f"{self.where}: a read needs a table or a query")
        return sa.select(sa.text("*")).select_from(sa.text(f"({query}) AS fb_source")), key or []

    def _max(self, source: sa.Select, column: sa.ColumnClause) -> Any:
        return self._fetch(sa.select(sa.func.max(column)).select_from(source.subquery()), scalar=True)

    def _fetch(self, statement: sa.Executable, scalar: bool = False) -> Any:
        """One query in its own short connection use; retried, since reading twice is harmless."""
        def attempt() -> Any:
            try:
                with self.engine.connect() as conn:
                    result = conn.execute(statement)
                    return result.scalar() if scalar else list(result.mappings())
            except Exception as error:
                raise classify(error, self.where) from None

        return with_retries(attempt)

    def _stream(self, statement: sa.Executable, batch_size: int) -> Iterator[tuple[list[dict], Any]]:
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(yield_per=batch_size).execute(statement)
                for part in result.mappings().partitions():
                    yield [self._plain(r) for r in part], None
        except ConnectorError:
            raise
        except Exception as error:
            raise classify(error, self.where) from None

    @staticmethod
    def _plain(row: Any) -> dict[str, Any]:
        return {k: plain_value(v) for k, v in row.items()}

    def lookup(self, table: str, match: list[str], keys: list[tuple], columns: list[str] | None = None) -> list[dict]:
        """Rows of `table` whose `match` columns equal one of `keys` (one query per 500 keys)."""
        reflected = self.table(table)
        wanted = [reflected.c[c] for c in columns] if columns else list(reflected.c)
        rows: list[dict] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            condition = (reflected.c[match[0]].in_([k[0] for k in chunk]) if len(match) == 1
                         else sa.tuple_(*(reflected.c[m] for m in match)).in_(chunk))
            rows += [self._plain(r) for r in self._fetch(sa.select(*wanted).where(condition))]
        return rows

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def encode_position(value: Any) -> Any:
    """A cursor value as JSON (datetimes tagged so they compare as datetimes when read back)."""
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, Decimal):
        return float(value)
    return value


def decode_position(value: Any) -> Any:
    if isinstance(value, dict) and "datetime" in value:
        return dt.datetime.fromisoformat(value["datetime"])
    return value
