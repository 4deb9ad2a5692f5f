"""Tables and helpers for the connector tests: portable DDL, a connector, statement counts.

Every table is declared with SQLAlchemy so each database gets its own types (SERIAL, AUTO_INCREMENT,
DATETIME/TIMESTAMP, NUMERIC); only the revision triggers are written per dialect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import event

from app.connectors import ConnectionSpec
from app.connectors.sql.connector import SqlConnector

BASE = dt.datetime(2024, 3, 1, 9, 0, 0)

metadata = sa.MetaData()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("crm_id", sa.String(40), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("external_no", sa.Integer, unique=True),
    sa.Column("credit_limit", sa.Numeric(12, 2)),
    sa.Column("active", sa.Boolean),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("changed_at", sa.DateTime(timezone=True)),
    sa.Column("seq", sa.Integer),
    # Bumped by a trigger on every UPDATE, and never written by Flowbridge: proves "no write".
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_number", sa.String(40), nullable=False, unique=True),
    sa.Column("customer", sa.String(40)),
    sa.Column("total", sa.Numeric(12, 2)),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id"), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("sku", sa.String(40), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.UniqueConstraint("order_id", "line_no"),
)

_REVISION_TRIGGERS = {
    "sqlite": [
        """CREATE TRIGGER customers_revision AFTER UPDATE ON customers FOR EACH ROW
                  WHEN NEW.revision = OLD.revision
                  BEGIN UPDATE customers SET revision = OLD.revision + 1 WHERE id = NEW.id; END"""
    ],
    "postgresql": [
        """CREATE FUNCTION bump_revision() RETURNS trigger AS $$
                      BEGIN NEW.revision := OLD.revision + 1; RETURN NEW; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER customers_revision BEFORE UPDATE ON customers
                      FOR EACH ROW EXECUTE FUNCTION bump_revision()""",
    ],
    "mysql": [
        """CREATE TRIGGER customers_revision BEFORE UPDATE ON customers
                 FOR EACH ROW SET NEW.revision = OLD.revision + 1"""
    ],
}


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in _REVISION_TRIGGERS[engine.dialect.name]:
            conn.exec_driver_sql(statement)


def connector_for(url: str, name: str = "erp") -> SqlConnector:
    return SqlConnector(ConnectionSpec(name, "sandbox", "sql", {"url": url}))


@dataclass
class Database:
    """One empty test database with the tables above, a plain engine for setup, and a connector."""

    url: str
    engine: sa.Engine
    connector: SqlConnector

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table: sa.Table, rows: list[dict]) -> None:
        with self.engine.begin() as conn:
            conn.execute(table.insert(), rows)

    def rows(self, table: sa.Table, order_by: str = "id") -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c[order_by])).mappings()]

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@dataclass
class Statements:
    """The statements an engine sent, by their first word (BEGIN/SAVEPOINT/RELEASE left out)."""

    seen: list[tuple[str, bool]] = field(default_factory=list)

    def of(self, verb: str) -> int:
        return sum(1 for text, _ in self.seen if text == verb)

    @property
    def writes(self) -> int:
        return self.of("INSERT") + self.of("UPDATE") + self.of("DELETE")


@contextmanager
def counting(engine: sa.Engine) -> Iterator[Statements]:
    """Counts what `engine` executes inside the block."""
    seen = Statements()

    def listen(_conn, _cursor, statement, _parameters, _context, executemany) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            seen.seen.append((verb, executemany))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)
