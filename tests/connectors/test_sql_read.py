"""SqlConnector.read and lookup on SQLite, PostgreSQL and MariaDB: pages, cursors, queries, lookups."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.connectors.sql.read import decode_position, encode_position
from app.errors import ConnectorError, TransientError
from tests.connectors.support import BASE, Database, connector_for, create_tables, customers, orders

UTC = dt.UTC


def customer(n: int, **values) -> dict:
    at = BASE + dt.timedelta(minutes=n)
    return {
        "crm_id": f"C{n:05d}",
        "name": f"Customer {n}",
        "external_no": n,
        "credit_limit": Decimal("1000.50") + n,
        "active": n % 2 == 0,
        "updated_at": at,
        "changed_at": at.replace(tzinfo=UTC),
        "seq": n,
        **values,
    }


def read_all(db: Database, **options) -> list[tuple[list[dict], object]]:
    return list(db.connector.read(**options))


def stored(db: Database, expression: str, where: str = "1 = 1") -> object:
    """A value of the customers table exactly as the database driver returns it."""
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT {expression} FROM customers WHERE {where}").scalar()


def ids(batches: list[tuple[list[dict], object]], field: str = "id") -> list:
    return [r[field] for records, _ in batches for r in records]


def test_keyset_pages_cover_every_row_once_as_plain_json_records(db: Database) -> None:
    db.insert(customers, [customer(n) for n in range(1, 2346)])

    batches = read_all(db, table="customers", batch_size=500)

    assert [len(records) for records, _ in batches] == [500, 500, 500, 500, 345]
    assert [position for _, position in batches] == [None] * 5  # no cursor, no position
    assert ids(batches) == sorted(set(ids(batches)))
    assert len(ids(batches)) == 2345
    first = batches[0][0][0]
    json.dumps(first)  # nothing that JSON cannot carry
    assert first["credit_limit"] == 1001.5 and isinstance(first["credit_limit"], (int, float))
    assert dt.datetime.fromisoformat(first["updated_at"]) == BASE + dt.timedelta(minutes=1)
    assert first["active"] in (False, 0)


@pytest.mark.parametrize("rows", [12, 10])  # 10 = exactly two batches of 5
def test_first_read_by_cursor_returns_everything_and_only_the_last_batch_has_a_position(
    db: Database, rows: int
) -> None:
    db.insert(customers, [customer(n) for n in range(1, rows + 1)])

    batches = read_all(db, table="customers", cursor="updated_at", batch_size=5)

    assert sorted(ids(batches)) == list(range(1, rows + 1))
    positions = [position for _, position in batches]
    assert all(p is None for p in positions[:-1])
    assert decode_position(json.loads(json.dumps(positions[-1]))) == stored(db, "max(updated_at)")
    if db.dialect != "sqlite":  # SQLite has no date type: the position is the stored text
        assert stored(db, "max(updated_at)") == BASE + dt.timedelta(minutes=rows)


def _tied_rows() -> list[dict]:
    """Seven rows a minute apart, five sharing one instant (ids 8-12), then two more."""
    rows = [customer(n) for n in range(1, 8)]
    tie = BASE + dt.timedelta(minutes=8)
    rows += [customer(n, updated_at=tie, changed_at=tie.replace(tzinfo=UTC), seq=8) for n in range(8, 13)]
    rows += [customer(n, seq=n) for n in (13, 14)]
    return rows


@pytest.mark.parametrize("cursor", ["updated_at", "changed_at", "seq"])
def test_incremental_read_rereads_ties_and_never_loses_them(db: Database, cursor: str) -> None:
    db.insert(customers, _tied_rows())
    seventh = stored(db, cursor, "id = 7")

    batches = read_all(db, table="customers", cursor=cursor, position=encode_position(seventh), batch_size=3)

    # cursor >= position, in cursor order, every batch with the last cursor value it holds
    assert ids(batches) == [7, 8, 9, 10, 11, 12, 13, 14]
    assert all(position is not None for _, position in batches)
    # a crash after the first batch: resume from its position, JSON round-tripped like the store does
    resumed_from = json.loads(json.dumps(batches[0][1]))
    resumed = read_all(db, table="customers", cursor=cursor, position=resumed_from, batch_size=3)
    assert ids(resumed) == [8, 9, 10, 11, 12, 13, 14]  # ties 8 and 9 read again, 10-12 not lost


@pytest.mark.parametrize("cursor", ["updated_at", "seq"])
def test_next_run_reads_what_changed_since_the_first(db: Database, cursor: str) -> None:
    db.insert(customers, [customer(n) for n in range(1, 8)])
    first = read_all(db, table="customers", cursor=cursor, batch_size=3)
    position = json.loads(json.dumps(first[-1][1]))

    db.insert(customers, [customer(20), customer(21)])
    second = read_all(db, table="customers", cursor=cursor, position=position, batch_size=3)

    assert ids(second) == [7, 8, 9]  # the row at the position again, then the new ones
    assert decode_position(json.loads(json.dumps(second[-1][1]))) == stored(db, f"max({cursor})")


def test_datetime_positions_survive_json_on_postgresql(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    create_tables(engine)
    with engine.begin() as conn:
        conn.execute(customers.insert(), [customer(n) for n in range(1, 4)])
    connector = connector_for(postgres_url)
    try:
        for cursor in ("updated_at", "changed_at"):
            batches = list(connector.read(table="customers", cursor=cursor))
            stored = json.loads(json.dumps(batches[-1][1]))
            latest = BASE + dt.timedelta(minutes=3)
            assert decode_position(stored) == (latest if cursor == "updated_at" else latest.replace(tzinfo=UTC))
            again = list(connector.read(table="customers", cursor=cursor, position=stored))
            assert ids(again) == [3]
    finally:
        connector.close()
        engine.dispose()


JOIN = (
    "SELECT o.id AS order_id, o.order_number, c.name AS customer_name, c.updated_at "
    "FROM orders o JOIN customers c ON c.crm_id = o.customer"
)


def _orders(db: Database, n: int) -> None:
    db.insert(customers, [customer(i) for i in range(1, 4)])
    db.insert(
        orders,
        [
            {"order_number": f"SO-{i:03d}", "customer": f"C{i % 3 + 1:05d}", "total": Decimal("9.90")}
            for i in range(1, n + 1)
        ],
    )


def test_read_query_with_join_pages_by_key(db: Database) -> None:
    _orders(db, 11)

    batches = read_all(db, query=JOIN + ";", key=["order_id"], batch_size=4)

    assert [len(records) for records, _ in batches] == [4, 4, 3]
    assert ids(batches, "order_id") == list(range(1, 12))
    assert batches[0][0][0]["customer_name"] == "Customer 2"


def test_read_query_with_cursor_and_key_is_incremental(db: Database) -> None:
    _orders(db, 9)

    first = read_all(db, query=JOIN, cursor="updated_at", key=["order_id"], batch_size=4)
    assert sorted(ids(first, "order_id")) == list(range(1, 10))
    again = read_all(
        db,
        query=JOIN,
        cursor="updated_at",
        key=["order_id"],
        position=json.loads(json.dumps(first[-1][1])),
        batch_size=4,
    )
    assert ids(again, "order_id") == [2, 5, 8]  # the orders of the customer changed last


def test_a_query_without_key_is_streamed_whole_and_cannot_have_a_cursor(db: Database) -> None:
    _orders(db, 7)
    batches = read_all(db, query=JOIN, batch_size=3)
    assert sorted(ids(batches, "order_id")) == list(range(1, 8))
    assert all(position is None for _, position in batches)

    with pytest.raises(ConnectorError, match="reading by cursor 'updated_at' needs a key to order ties"):
        read_all(db, query=JOIN, cursor="updated_at")


def test_a_where_condition_limits_the_read_and_an_empty_read_has_no_position(db: Database) -> None:
    assert read_all(db, table="customers", cursor="updated_at") == []
    db.insert(customers, [customer(n) for n in range(1, 11)])

    assert ids(read_all(db, table="customers", where="seq > 6", batch_size=3)) == [7, 8, 9, 10]
    assert read_all(db, table="customers", cursor="updated_at", where="seq > 60") == []


def test_a_query_naming_a_missing_table_or_column_is_a_permanent_error(db: Database) -> None:
    with pytest.raises(ConnectorError, match="nowhere") as missing:
        read_all(db, query="SELECT * FROM nowhere", key=["id"])
    assert not isinstance(missing.value, TransientError)
    # a column whose name looks like a transient fault is still a permanent mistake
    with pytest.raises(ConnectorError, match="timed_out") as column:
        read_all(db, query="SELECT timed_out FROM customers", key=["id"])
    assert not isinstance(column.value, TransientError)
    assert "connection 'erp' (sandbox)" in str(column.value)


def test_lookup_by_one_column_over_many_keys(db: Database) -> None:
    db.insert(customers, [customer(n) for n in range(1, 1201)])
    wanted = [(f"C{n:05d}",) for n in range(1, 1101)] + [("C99999",)]

    rows = db.connector.lookup("customers", ["crm_id"], wanted, ["crm_id", "name"])

    assert sorted(r["crm_id"] for r in rows) == [f"C{n:05d}" for n in range(1, 1101)]
    assert set(rows[0]) == {"crm_id", "name"}


def test_lookup_by_two_columns_over_many_keys(db: Database) -> None:
    db.insert(customers, [customer(n) for n in range(1, 701)])
    wanted = [(f"C{n:05d}", f"Customer {n}") for n in range(1, 651)] + [("C00001", "Somebody else")]

    rows = db.connector.lookup("customers", ["crm_id", "name"], wanted)

    assert sorted(r["external_no"] for r in rows) == list(range(1, 651))
    json.dumps(rows)


def test_lookup_takes_keys_as_the_columns_types_and_names_an_unknown_column(db: Database) -> None:
    db.insert(customers, [customer(n, crm_id=str(1000 + n)) for n in range(1, 4)])

    assert [r["id"] for r in db.connector.lookup("customers", ["external_no"], [("2",), ("two",)])] == [2]
    assert [r["id"] for r in db.connector.lookup("customers", ["crm_id"], [(1003,)])] == [3]
    with pytest.raises(ConnectorError, match="table 'customers' has no column 'email'"):
        db.connector.lookup("customers", ["email"], [("a@b.c",)])


def test_sqlite_dates_stored_by_another_program_page_without_repeats(tmp_path) -> None:
    """SQLite keeps dates as text in whatever form the writer chose (here with a 'T'): paging must
    compare that text as stored, or a page can start over and never end."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL)")
        conn.exec_driver_sql(
            "INSERT INTO accounts VALUES "
            + ", ".join(f"({n}, '2024-03-01T09:{min(n, 8):02d}:00')" for n in range(1, 15))
        )
    engine.dispose()
    connector = connector_for(url)
    try:
        first = list(connector.read(table="accounts", cursor="updated_at", batch_size=4))
        assert ids(first) == list(range(1, 15))
        assert first[-1][1] == "2024-03-01T09:08:00"
        pages = connector.read(table="accounts", cursor="updated_at", position="2024-03-01T09:07:00", batch_size=3)
        again = [next(pages) for _ in range(3)]  # bounded: a page that starts over would repeat forever
        assert ids(again) == list(range(7, 15)) and next(pages, None) is None
        assert again[0][0][0]["updated_at"] == "2024-03-01 09:07:00"  # records carry one ISO form
    finally:
        connector.close()


def test_a_key_with_empty_values_is_refused_rather_than_skipping_rows(db: Database) -> None:
    db.insert(customers, [customer(n, external_no=None if n % 4 == 0 else n) for n in range(1, 13)])

    with pytest.raises(ConnectorError, match="no value in key field 'external_no'"):
        read_all(db, query="SELECT crm_id, external_no FROM customers", key=["external_no"], batch_size=5)
