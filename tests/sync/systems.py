"""The demo CRM and ERP on SQLite, PostgreSQL or MariaDB, registered in a store, for sync tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.sandbox.demo_databases import create_demo_databases
from app.services.flows import example_flow_files, import_flow_file
from app.services.runs import run_flow
from app.store import flows
from app.store.connections import set_connection
from tests.clock import later


def copy_sqlite_database(source: Path, url: str) -> None:
    """Every table of a SQLite file, with its rows, into an empty database at `url`.

    Text columns become VARCHAR(255) so MariaDB can index them; primary-key sequences are moved
    past the copied ids so the database keeps numbering new rows after them."""
    reader = sa.create_engine(f"sqlite:///{source}")
    metadata = sa.MetaData()
    metadata.reflect(reader)
    target = sa.create_engine(url)
    copied = sa.MetaData()
    for table in metadata.sorted_tables:
        columns = []
        for column in table.columns:
            kind = sa.String(255) if isinstance(column.type, (sa.Text, sa.String)) else column.type
            if isinstance(kind, sa.Float):
                kind = sa.Float(precision=53)
            columns.append(
                sa.Column(
                    column.name,
                    kind,
                    primary_key=column.primary_key,
                    nullable=column.nullable,
                    autoincrement=column.primary_key and isinstance(kind, sa.Integer),
                    server_default=column.server_default,
                )
            )
        new = sa.Table(table.name, copied, *columns)
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                new.append_constraint(sa.UniqueConstraint(*[c.name for c in constraint.columns]))
        for index in table.indexes:
            sa.Index(index.name, *[new.c[c.name] for c in index.columns], unique=index.unique)
    copied.create_all(target)
    with reader.connect() as source_conn, target.begin() as conn:
        for table in metadata.sorted_tables:
            rows = [dict(r) for r in source_conn.execute(table.select()).mappings()]
            if rows:
                conn.execute(copied.tables[table.name].insert(), rows)
        if target.dialect.name == "postgresql":
            for table in copied.sorted_tables:
                key = [c for c in table.primary_key.columns if isinstance(c.type, sa.Integer)]
                if len(key) == 1:
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key[0].name}'), "
                        f"COALESCE((SELECT MAX({key[0].name}) FROM {table.name}), 0) + 1, false)"
                    )
    reader.dispose()
    target.dispose()


@dataclass
class Systems:
    """The CRM and ERP of one test, with the store that runs flows against them."""

    store: Any
    crm_url: str
    erp_url: str
    env: str = "sandbox"
    _last_later: str | None = field(default=None, repr=False)

    def url(self, system: str) -> str:
        return self.crm_url if system == "crm" else self.erp_url

    def query(self, system: str, sql: str, **params: Any) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.url(system))
        try:
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]
        finally:
            engine.dispose()

    def execute(self, system: str, sql: str, **params: Any) -> None:
        engine = sa.create_engine(self.url(system))
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql), params)
        finally:
            engine.dispose()

    def later(self) -> str:
        """A time after the clock, after every account and customer stamp, and after the last one given.

        Each call is later than the one before, so a second edit is the newer one."""
        newest = [
            self.query("crm", "SELECT MAX(updated_at) AS t FROM accounts")[0]["t"],
            self.query("erp", "SELECT MAX(updated_at) AS t FROM customers")[0]["t"],
        ]
        self._last_later = later(*newest, self._last_later)
        return self._last_later

    def run(self, flow_id: str, **options: Any):
        document, version = flows.get_document(self.store, flow_id)
        return run_flow(self.store, document, version=version, env=self.env, **options)


def make_systems(store: Any, tmp_path: Path, kind: str, database_factory: Any, accounts: int = 600) -> Systems:
    crm_file, erp_file = tmp_path / "crm.db", tmp_path / "erp.db"
    create_demo_databases(crm_file, erp_file, accounts=accounts)
    if kind == "sqlite":
        crm_url, erp_url = f"sqlite:///{crm_file}", f"sqlite:///{erp_file}"
    else:
        crm_url, erp_url = database_factory(kind), database_factory(kind)
        copy_sqlite_database(crm_file, crm_url)
        copy_sqlite_database(erp_file, erp_url)
    set_connection(store, "crm", "sandbox", "sql", {"url": crm_url})
    set_connection(store, "erp", "sandbox", "sql", {"url": erp_url})
    for path in example_flow_files():
        import_flow_file(store, path)
    return Systems(store, crm_url, erp_url)
