"""The `db` fixture: an empty database on each of SQLite, PostgreSQL and MariaDB, with the tables
of tests/connectors/support.py created in it and a connector to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.connectors.support import Database, connector_for, create_tables


@pytest.fixture
def db(any_database_url: str) -> Iterator[Database]:
    engine = sa.create_engine(any_database_url)
    create_tables(engine)
    connector = connector_for(any_database_url)
    yield Database(any_database_url, engine, connector)
    connector.close()
    engine.dispose()
