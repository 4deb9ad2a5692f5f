"""SQL connector: SQLite, PostgreSQL and MySQL/MariaDB through SQLAlchemy Core.

Reads page through a table by key (keyset pagination, so a long sync never holds a read
transaction open against a database it also writes), or stream a query. Every read runs in a
read-only transaction (PostgreSQL and MySQL/MariaDB `READ ONLY`, SQLite `PRAGMA query_only`), and an
analyst's query or condition holding a second statement is refused before it is sent: a read never
writes. Errors are sorted into transient ones (worth a retry) and permanent ones, each with a
message that names the connection.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from app.connectors import ConnectionSpec
from app.connectors.retry import with_retries
from app.connectors.statements import second_statement_at
from app.database_urls import with_driver
from app.errors import ConnectorError, TransientError

# Faults worth a retry, by the code the driver gives: PostgreSQL SQLSTATEs (whole class 08 too),
# MySQL/MariaDB error numbers, SQLite result codes. An error with a code not listed is permanent.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300", "53400"}
_TRANSIENT_MYSQL_ERRORS = {
    1040,
    1053,
    1077,
    1078,
    1079,
    1080,
    1152,
    1153,
    1154,
    1155,
    1156,
    1157,
    1158,
    1159,
    1160,
    1161,
    1205,
    1213,
    1927,
    2002,
    2003,
    2005,
    2006,
    2012,
    2013,
    2026,
    2055,
    4031,
}
_TRANSIENT_SQLITE_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED")
# Faults with no code (the driver could not reach the server): known by their words.
_TRANSIENT_HINTS = (
    "database is locked",
    "connection refused",
    "could not connect",
    "server closed the connection",
    "lost connection",
    "timeout",
    "timed out",
    "connection reset",
    "broken pipe",
    "can't connect",
    "terminating connection",
    "connection is closed",
    "connection was killed",
    "gone away",
    "the database system is starting up",
    "the database system is shutting down",
)


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


def sa_url_hidden(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it that could be a secret
        return "<unreadable URL>"


def classify(error: Exception, where: str) -> ConnectorError:
    """Turn a database error into the project's own: transient (retry) or permanent."""
    if isinstance(error, ConnectorError):
        return error
    message = driver_message(error)
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return TransientError(f"{where}: connection lost ({message})")
    if isinstance(error, exc.NoSuchTableError):
        return ConnectorError(f"{where}: table '{error}' does not exist")
    if is_transient(error):
        return TransientError(f"{where}: {message}")
    return ConnectorError(f"{where}: {message}")


def is_transient(error: Exception) -> bool:
    """Worth a retry: the driver's error code says so, or, lacking one, its words say so."""
    if isinstance(error, TransientError):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    original = getattr(error, "orig", None) or error
    sqlstate = getattr(original, "pgcode", None)
    if sqlstate:
        return sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES
    sqlite_name = getattr(original, "sqlite_errorname", None)
    if sqlite_name:
        return sqlite_name.startswith(_TRANSIENT_SQLITE_ERRORS)
    mysql_code = _mysql_code(original)
    if mysql_code is not None:
        return mysql_code in _TRANSIENT_MYSQL_ERRORS
    if not isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError)):
        return False
    return any(hint in driver_message(error).lower() for hint in _TRANSIENT_HINTS)


def _mysql_code(original: Any) -> int | None:
    args = getattr(original, "args", ())
    if type(original).__module__.startswith(("pymysql", "MySQLdb", "mysql")) and args and isinstance(args[0], int):
        return args[0]
    return None


def driver_message(error: Exception, whole: bool = False) -> str:
    """What the database driver said (its first line, or all of it on one line), without
    SQLAlchemy's wrapping (which adds the statement and its parameters)."""
    original = getattr(error, "orig", None) or error
    if _mysql_code(original) is not None and len(original.args) > 1:
        text = f"{original.args[1]} (error {original.args[0]})"
    else:
        text = str(original)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return type(original).__name__
    return " ".join(lines) if whole else lines[0]


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def plain_records(names: list[str], rows: list[Any]) -> list[dict[str, Any]]:
    """Row tuples as records; values are converted only in the rows that need it (most don't)."""
    records = []
    for row in rows:
        if _PLAIN_TYPES.issuperset(map(type, row)):
            records.append(dict(zip(names, row)))
        else:
            records.append({name: plain_value(value) for name, value in zip(names, row)})
    return records


def plain_value(value: Any) -> Any:
    """A value as records carry it (JSON-friendly): Decimal to float, dates to ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # MySQL TIME read through a query
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


LOOKUP_CHUNK = 500  # keys per IN (...): well inside every database's limit on bound parameters


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
                self._tables[name] = sa.Table(
                    table_name, sa.MetaData(), schema=schema or None, autoload_with=self.engine
                )
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

    def column(self, table: str, name: str, what: str = "field") -> sa.Column:
        """A column of a table; a name the table lacks is a clear, permanent error."""
        reflected = self.table(table)
        if name not in reflected.c:
            raise ConnectorError(f"{self.where}: table '{table}' has no column '{name}' (named as {what})")
        return reflected.c[name]

    # --- reading --------------------------------------------------------------------------------

    def read(
        self,
        *,
        table: str | None = None,
        query: str | None = None,
        cursor: str | None = None,
        key: list[str] | None = None,
        where: str | None = None,
        position: Any = None,
        batch_size: int = 1000,
    ) -> Iterator[tuple[list[dict[str, Any]], Any]]:
        """Batches of records, each with the cursor position that is safe to commit after it.

        With a cursor and a committed position, records are read in cursor order from that
        position (inclusive, so ties on the cursor value are read again rather than lost) and
        every batch carries its last cursor value. Without one, records are read in key order and
        only the last batch carries a position: the largest cursor value seen when the read began.

        Pages are found by comparing the database's own stored values (read back raw, never
        re-formatted by SQLAlchemy), so the comparison always agrees with the database's ORDER BY
        and a page never starts before the previous one ended.
        """
        for name, text in (("query", query), ("where", where)):
            if text and second_statement_at(text) is not None:
                raise ConnectorError(
                    f"{self.where}: the read's {name} holds a second statement (a ';' before its "
                    "end); a read runs one SELECT and never writes"
                )
        source, keys, columns = self._source(table, query, key)
        if where and where.strip().rstrip(";").strip():
            source = source.where(sa.text(f"({where.strip().rstrip(';')})"))
        if not keys:
            if cursor:
                raise ConnectorError(
                    f"{self.where}: reading by cursor '{cursor}' needs a key to order ties; set the node's key"
                )
            yield from self._stream(source, batch_size)
            return
        incremental = cursor is not None and position is not None
        signpost = self._max(source, columns(cursor, "cursor")) if cursor and not incremental else None
        names = ([cursor] if incremental else []) + keys
        order = [_raw(columns(n, "cursor" if n == cursor else "key")) for n in names]
        labels = [f"fb_order_{i}" for i in range(len(order))]
        base = source.add_columns(*(o.label(label) for o, label in zip(order, labels)))
        if incremental:
            base = base.where(order[0] >= self._position_value(decode_position(position), table, cursor))
        self._check_keys_present(base, {k: columns(k, "key") for k in keys})
        last: tuple | None = None
        while True:
            # (a, b) > (x, y) says where the page starts; a >= x is implied, and lets MySQL/MariaDB
            # start its index range there instead of scanning from the beginning for every page.
            page = base if last is None else base.where(order[0] >= last[0], sa.tuple_(*order) > sa.tuple_(*last))
            names_read, rows = self._fetch(page.order_by(*order).limit(batch_size + 1), as_rows=True)
            done = len(rows) <= batch_size
            rows = rows[:batch_size]
            if not rows:
                return
            last = tuple(rows[-1][-len(labels) :])
            records = plain_records(names_read[: -len(labels)], rows)  # the order labels are last: left out
            if incremental:
                yield records, encode_position(last[0])
            else:
                yield records, encode_position(signpost) if done and cursor else None
            if done:
                return

    def _source(self, table: str | None, query: str | None, key: list[str] | None) -> tuple[sa.Select, list[str], Any]:
        """The select to page through, its key, and how to name one of its columns."""
        if table:
            reflected = self.table(table)
            keys = key or [c.name for c in reflected.primary_key.columns]
            return sa.select(reflected), keys, lambda name, what: self.column(table, name, what)
        if not query:
            raise ConnectorError(f"{self.where}: a read needs a table or a query")
        query = query.strip().rstrip(";").strip()
        source = sa.select(sa.text("*")).select_from(sa.text(f"({query}) AS fb_source"))
        return source, key or [], lambda name, what: sa.column(name)

    def _check_keys_present(self, source: sa.Select, keys: dict[str, Any]) -> None:
        """A row whose key is NULL compares as unknown, so paging would skip it: refuse to start.

        Costs one query, unless the table declares its key columns NOT NULL."""
        maybe_empty = [name for name, column in keys.items() if getattr(column, "nullable", True)]
        if not maybe_empty:
            return
        condition = sa.or_(*(_raw(keys[name]).is_(None) for name in maybe_empty))
        empty = self._fetch(source.with_only_columns(*(_raw(keys[n]) for n in maybe_empty)).where(condition).limit(1))
        if empty:
            field = next(name for name, value in zip(maybe_empty, empty[0].values()) if value is None)
            raise ConnectorError(
                f"{self.where}: some rows have no value in key field '{field}', so they cannot "
                "be read page by page; choose a key that is never empty"
            )

    def _position_value(self, value: Any, table: str | None, cursor: str) -> Any:
        """A committed position as the cursor column compares it (text stays text on SQLite)."""
        if table is None or isinstance(value, str):
            return value
        try:
            return coerce(self.column(table, cursor, "cursor"), value)
        except ValueError as error:
            raise ConnectorError(
                f"{self.where}: the stored position {value!r} does not fit cursor '{cursor}' "
                f"({error}); read everything again to reset it"
            ) from None

    def _max(self, source: sa.Select, column: Any) -> Any:
        return self._fetch(source.with_only_columns(sa.func.max(_raw(column))), scalar=True)

    def _fetch(self, statement: sa.Executable, scalar: bool = False, as_rows: bool = False) -> Any:
        """One query in its own short connection use; retried, since reading twice is harmless.

        Rows come as mappings, or with `as_rows` as (column names, row tuples): the fast form."""

        def attempt() -> Any:
            try:
                with self.reading() as conn:
                    result = conn.execute(statement)
                    if scalar:
                        return result.scalar()
                    return (list(result.keys()), result.all()) if as_rows else list(result.mappings())
            except Exception as error:
                raise classify(error, self.where) from None

        return with_retries(attempt)

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection whose transaction cannot write: what a read runs in."""
        with self.engine.connect() as conn:
            dialect = conn.dialect.name
            if dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")  # the first statement of the transaction
            elif dialect in ("mysql", "mariadb"):
                conn.exec_driver_sql("START TRANSACTION READ ONLY")
            elif dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")  # per connection: switched off again below
            try:
                yield conn
            finally:
                if dialect == "sqlite":
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA query_only = OFF")
                    conn.rollback()

    def _stream(self, statement: sa.Executable, batch_size: int) -> Iterator[tuple[list[dict], Any]]:
        try:
            with self.reading() as conn:
                result = conn.execution_options(yield_per=batch_size).execute(statement)
                names = list(result.keys())
                for part in result.partitions():
                    yield plain_records(names, part), None
        except ConnectorError:
            raise
        except Exception as error:
            raise classify(error, self.where) from None

    @staticmethod
    def _plain(row: Any, skip: list[str] = ()) -> dict[str, Any]:
        return {k: plain_value(v) for k, v in row.items() if k not in skip}

    def lookup(self, table: str, match: list[str], keys: list[tuple], columns: list[str] | None = None) -> list[dict]:
        """Rows of `table` whose `match` columns equal one of `keys` (one query per 500 keys).

        Keys are taken as the columns' types ('42' finds 42 in an integer column, 42 finds '42' in
        a text one); a key that cannot be of that type (a word for an integer column) finds nothing.
        """
        return [self._plain(r) for r in self.rows_matching(table, match, keys, columns)]

    def rows_matching(
        self,
        table: str,
        match: list[str],
        keys: list[tuple],
        columns: list[str] | None = None,
        conn: sa.Connection | None = None,
    ) -> list[Any]:
        """Like lookup, with the values as the driver returns them (for comparing before a write)."""
        reflected = self.table(table)
        match_columns = [self.column(table, m, "match") for m in match]
        wanted = [self.column(table, c, "column") for c in columns] if columns else list(reflected.c)
        accepts = [accepted_types(c) or () for c in match_columns]
        typed: dict[tuple, None] = {}  # first-seen order, no repeats
        for key in keys:
            try:
                typed[tuple(v if type(v) in ok else coerce(c, v) for c, ok, v in zip(match_columns, accepts, key))] = (
                    None
                )
            except ValueError:
                continue  # no row can hold it
        typed_keys = list(typed)
        rows: list[Any] = []
        for start in range(0, len(typed_keys), LOOKUP_CHUNK):
            chunk = typed_keys[start : start + LOOKUP_CHUNK]
            condition = (
                match_columns[0].in_([k[0] for k in chunk]) if len(match) == 1 else sa.tuple_(*match_columns).in_(chunk)
            )
            statement = sa.select(*wanted).where(condition)
            if conn is not None:
                rows += list(conn.execute(statement).mappings())
            else:
                rows += self._fetch(statement)
        return rows

    def set_where(self, table: str, column: str, ids: list[Any], values: dict[str, Any], dry_run: bool = False) -> int:
        """Set `values` on the rows whose `column` is in `ids` and that don't hold them yet; how many.

        For deactivating rows whose source is gone: a row already deactivated is not counted again."""
        reflected = self.table(table)
        target = self.column(table, column, "id")
        columns = {name: self.column(table, name, "column") for name in values}
        typed_ids = []
        for value in ids:
            try:
                typed_ids.append(coerce(target, value))
            except ValueError:
                continue
        typed_values = {name: coerce(columns[name], v) for name, v in values.items()}
        differs = sa.or_(*(sa.or_(columns[n] != v, columns[n].is_(None)) for n, v in typed_values.items()))
        changed = 0
        for start in range(0, len(typed_ids), LOOKUP_CHUNK):
            chunk = typed_ids[start : start + LOOKUP_CHUNK]
            if dry_run:
                changed += self._fetch(
                    sa.select(sa.func.count()).select_from(reflected).where(target.in_(chunk), differs), scalar=True
                )
                continue
            try:
                with self.engine.begin() as conn:
                    changed += conn.execute(
                        sa.update(reflected).where(target.in_(chunk), differs).values(typed_values)
                    ).rowcount
            except Exception as error:
                raise classify(error, self.where) from None
        return changed

    def match_rows(
        self, table: str, columns: list[str], how: str, keys: list[tuple], fetch: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Rows whose `columns`, compared trimmed and lower-cased (how='text' or 'email') or exactly,
        equal one of `keys` (already normalised the same way); for finding a record's existing row."""
        reflected = self.table(table)
        compared = [self.column(table, c, "match") for c in columns]
        if how != "exact":
            compared = [sa.func.lower(sa.func.trim(c)) for c in compared]
        wanted = [self.column(table, c, "column") for c in dict.fromkeys(fetch)] if fetch else list(reflected.c)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            condition = (
                compared[0].in_([k[0] for k in chunk]) if len(compared) == 1 else sa.tuple_(*compared).in_(chunk)
            )
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


def _raw(column: Any) -> Any:
    """The column compared and fetched exactly as stored, without SQLAlchemy's type processing."""
    return sa.type_coerce(column, sa.types.NullType())


_NUMERIC = (sa.Numeric, sa.Float)  # SQLAlchemy 2.1 no longer makes Float a kind of Numeric
_TYPED = (sa.Boolean, sa.Integer, *_NUMERIC, sa.DateTime, sa.Date, sa.Time)
_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


def accepted_types(column: sa.Column) -> frozenset[type] | None:
    """Python types a column takes as they are; None when any value goes to the database as is."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return frozenset({bool})
    if isinstance(kind, sa.Integer):
        return frozenset({int})
    if isinstance(kind, (sa.Numeric, sa.Float)):
        return frozenset({int, float, Decimal})
    if isinstance(kind, sa.DateTime):
        return frozenset({dt.datetime})
    if isinstance(kind, sa.Date):
        return frozenset({dt.date})
    if isinstance(kind, sa.String):
        return frozenset({str})
    return None


def coerce(column: sa.Column, value: Any) -> Any:
    """`value` as `column`'s type wants it: '42' for an INTEGER is 42, '2024-03-01T09:00' for a
    DATETIME is a datetime, 42 for a VARCHAR is '42'. Raises ValueError with a sentence when the
    value cannot be of that type. Types Flowbridge does not know are left to the database."""
    if value is None:
        return None
    kind = column.type
    if isinstance(value, str) and not value.strip() and isinstance(kind, _TYPED):
        return None  # an empty cell (CSV) in a number, date or flag column holds no value
    if isinstance(kind, sa.Boolean):
        return _flag(value)
    if isinstance(kind, sa.Integer):
        if (
            getattr(kind, "display_width", None) == 1
            and isinstance(value, str)
            and value.strip().lower() in _TRUE | _FALSE
        ):
            return int(_flag(value))  # MySQL's BOOLEAN is TINYINT(1)
        return _whole_number(value)
    if isinstance(kind, _NUMERIC):
        number = _number(value)
        return float(number) if isinstance(kind, sa.Float) and isinstance(number, Decimal) else number
    if isinstance(kind, sa.DateTime):
        return _datetime(value)
    if isinstance(kind, sa.Date):
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return _parse(dt.date, value, "a date")
        except ValueError:
            return _parse(dt.datetime, value, "a date (ISO 8601, e.g. 2024-03-01)").date()
    if isinstance(kind, sa.Time):
        return value if isinstance(value, (dt.time, dt.timedelta)) else _parse(dt.time, value, "a time of day")
    if isinstance(kind, sa.String) and not isinstance(value, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return value  # refused by the caller, with its reason
        text = value if isinstance(value, Decimal) else plain_value(value)
        return str(int(text)) if isinstance(text, float) and text.is_integer() else str(text)
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not true or false")


def _whole_number(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = _number(value)
        whole = number == int(number)
    except (ValueError, OverflowError):
        whole = False
    if not whole:
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _number(value: Any) -> int | float | Decimal:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            pass
        else:
            if number.is_finite():
                return number
    raise ValueError(f"{value!r} is not a number")


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return _parse(dt.datetime, value, "a date and time (ISO 8601, e.g. 2024-03-01 09:30:00)")


def _parse(kind: type, value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return kind.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not {what}")
