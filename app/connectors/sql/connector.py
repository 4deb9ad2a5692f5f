"""SqlConnector: one SQL connection for the length of a run, its engine, reflected tables and queries.

Reading pages (app.connectors.sql.read) and finding rows by key (app.connectors.sql.lookups) are
their own modules; they are methods here too, so a node asks the connection it was given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from app.connectors import ConnectionSpec
from app.connectors.retry import with_retries
from app.connectors.sql import lookups
from app.connectors.sql.engine import make_engine
from app.connectors.sql.errors import classify
from app.connectors.sql.read import read_batches
from app.errors import ConnectorError


class SqlConnector:
    """One SQL connection for the length of a run: an engine, reflected tables, reads and lookups."""

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        url = spec.settings.get("url")
        if not url:
            raise ConnectorError(f"connection '{spec.name}' ({spec.env}) has no URL")
        self.url: str = url
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

    # --- tables and columns -----------------------------------------------------------------------

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

    def required_columns(self, table: str) -> list[str]:
        """Columns an insert must fill: NOT NULL with no default, other than an integer primary key
        the database numbers itself."""
        return [
            c.name
            for c in self.table(table).columns
            if not c.nullable
            and c.default is None
            and c.server_default is None
            and not (c.primary_key and isinstance(c.type, sa.Integer))
        ]

    def tables(self) -> list[str]:
        try:
            return sorted(sa.inspect(self.engine).get_table_names())
        except Exception as error:
            raise classify(error, self.where) from None

    def column(self, table: str, name: str, what: str = "field") -> sa.Column[Any]:
        """A column of a table; a name the table lacks is a clear, permanent error."""
        reflected = self.table(table)
        if name not in reflected.c:
            raise ConnectorError(f"{self.where}: table '{table}' has no column '{name}' (named as {what})")
        return reflected.c[name]

    # --- running queries --------------------------------------------------------------------------

    def fetch(self, statement: sa.Executable, scalar: bool = False, as_rows: bool = False) -> Any:
        """One query in its own short connection use; retried, since reading twice is harmless.

        Rows come as mappings, or with `as_rows` as (column names, row tuples): the fast form.
        The connector's only retry: a caller retrying more (a write's batch) wraps it, and the
        shared policy then runs this once inside (see app.connectors.retry)."""

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

    # --- reading and lookups (their own modules) --------------------------------------------------

    read = read_batches
    lookup = lookups.lookup
    rows_matching = lookups.rows_matching
    match_rows = lookups.match_rows
    set_where = lookups.set_where

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
