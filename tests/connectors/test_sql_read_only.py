"""A read never writes, on SQLite, PostgreSQL and MariaDB: a second statement stacked into a read's
query or condition is refused (at validation and again by the connector), and whatever a single
statement tries to change is refused by the read-only transaction it runs in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.engine.validation import validate_document
from app.errors import ConnectorError
from tests.connectors.support import Database

STACKED = {
    "query": "SELECT id, name FROM victim) AS x; DROP TABLE victim; COMMIT; SELECT * FROM (SELECT 1 AS id",
    "query_after_commit": "SELECT id, name FROM victim) AS x; COMMIT; DROP TABLE victim; SELECT * FROM (SELECT 1 AS id",
    "where": "1 = 1; DELETE FROM victim; COMMIT",
    "where_in_a_text": "name = 'x\\'; DELETE FROM victim; --'",  # ends the text on one server, not another
}


@pytest.fixture
def victim(db: Database) -> Database:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE victim (id INTEGER PRIMARY KEY, name VARCHAR(40))")
        conn.exec_driver_sql("INSERT INTO victim (id, name) VALUES (1, 'kept'), (2, 'kept too')")
    return db


def victim_rows(db: Database) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, name FROM victim ORDER BY id")]


@pytest.mark.parametrize("attack", list(STACKED))
def test_a_stacked_statement_is_refused_and_the_table_keeps_its_rows(victim: Database, attack: str) -> None:
    options = (
        {"query": STACKED[attack]} if attack.startswith("query") else {"table": "victim", "where": STACKED[attack]}
    )
    with pytest.raises(ConnectorError, match="second statement"):
        list(victim.connector.read(**options))
    assert victim_rows(victim) == [(1, "kept"), (2, "kept too")]


@pytest.mark.parametrize("field", ["query", "where"])
def test_validation_names_the_place_of_a_second_statement(field: str) -> None:
    config = (
        {"connection": "crm", "query": "SELECT * FROM accounts; DROP TABLE accounts"}
        if field == "query"
        else {"connection": "crm", "table": "accounts", "where": "is_active = 1; DELETE FROM accounts"}
    )
    document = {
        "schema_version": 1,
        "id": "stacked",
        "name": "Stacked",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "accounts", "type": "read.sql", "config": config},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "o.csv"}},
        ],
        "edges": [{"from": "start", "to": "accounts"}, {"from": "accounts", "to": "out"}],
    }
    [problem] = validate_document(document)
    assert problem.node_id == "accounts" and problem.path.endswith(field)
    assert "second statement" in problem.message and "never writes" in problem.message


def test_a_trailing_semicolon_is_still_one_statement(victim: Database) -> None:
    [(records, _)] = list(victim.connector.read(query="SELECT id, name FROM victim ORDER BY id;"))
    assert [r["name"] for r in records] == ["kept", "kept too"]


def test_a_single_statement_that_writes_is_refused_by_the_read_only_transaction(victim: Database) -> None:
    """A function that deletes, called from a plain SELECT: only the transaction can stop it."""
    dialect = victim.engine.dialect.name
    with victim.engine.begin() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION wipe() RETURNS integer AS $$ DELETE FROM victim; SELECT 1 $$ LANGUAGE sql"
            )
        elif dialect in ("mysql", "mariadb"):
            conn.exec_driver_sql(
                "CREATE FUNCTION wipe() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM victim; RETURN 1; END"
            )
    if dialect == "sqlite":  # SQL alone cannot define a function there: the read itself says it is read-only
        [(records, _)] = list(victim.connector.read(query="SELECT query_only AS id FROM pragma_query_only"))
        assert records == [{"id": 1}]
    else:
        with pytest.raises(ConnectorError, match="(?i)read.only"):
            list(victim.connector.read(query="SELECT wipe() AS id"))
    assert victim_rows(victim) == [(1, "kept"), (2, "kept too")]


def test_a_read_leaves_its_connection_able_to_write_afterwards(victim: Database) -> None:
    """The read-only setting is the read's own: the connection a write takes next may write."""
    list(victim.connector.read(table="victim"))
    with victim.connector.engine.begin() as conn:
        conn.execute(sa.text("UPDATE victim SET name = 'written' WHERE id = 1"))
    assert victim_rows(victim)[0] == (1, "written")
