"""SqlTableWriter on SQLite, PostgreSQL and MariaDB: upsert by key, outcomes, refusals one by one."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from app.connectors.sql_write import FAILED, INSERTED, UNCHANGED, UPDATED, SqlTableWriter
from app.errors import TransientError
from tests.connectors.support import Database, connector_for, counting, customers


def record(n: int, **values) -> dict:
    """A customer as a read node hands it on: numbers, text, and datetimes as ISO text."""
    return {
        "crm_id": f"C{n:04d}",
        "name": f"Customer {n}",
        "external_no": n,
        "credit_limit": 1000.5 + n,
        "active": n % 2 == 0,
        "updated_at": f"2024-03-01 09:{n % 60:02d}:00",
        **values,
    }


def outcomes(results) -> list[str]:
    return [r.outcome for r in results]


def writer(db: Database, key: str = "crm_id", mode: str = "upsert", **options) -> SqlTableWriter:
    return SqlTableWriter(db.connector, "customers", [key], mode, **options)


def test_upsert_inserts_then_leaves_alone_then_updates_only_what_changed(db: Database) -> None:
    target = writer(db)
    batch = [record(n) for n in range(1, 51)]

    assert outcomes(target.write(batch)) == [INSERTED] * 50
    assert db.count(customers) == 50

    with counting(db.connector.engine) as seen:
        assert outcomes(target.write([dict(r) for r in batch])) == [UNCHANGED] * 50
    assert seen.writes == 0
    assert {r["revision"] for r in db.rows(customers)} == {0}  # no UPDATE touched any row

    changed = [dict(r) for r in batch]
    changed[3]["name"] = "Renamed"
    changed[7]["credit_limit"] = 7.25
    changed[9]["updated_at"] = "2024-04-01T10:00:00"
    results = target.write(changed)

    assert [i for i, r in enumerate(results) if r.outcome == UPDATED] == [3, 7, 9]
    assert outcomes(results).count(UNCHANGED) == 47
    assert results[3].before == {"name": "Customer 4"} and results[3].after == {"name": "Renamed"}
    assert results[7].before == {"credit_limit": 1008.5} and results[7].after == {"credit_limit": 7.25}
    assert results[9].after == {"updated_at": "2024-04-01 10:00:00"}
    assert results[3].key == {"crm_id": "C0004"}
    rows = {r["crm_id"]: r for r in db.rows(customers)}
    assert [r["crm_id"] for r in rows.values() if r["revision"]] == ["C0004", "C0008", "C0010"]
    assert rows["C0010"]["updated_at"] == dt.datetime(2024, 4, 1, 10, 0)
    assert float(rows["C0008"]["credit_limit"]) == 7.25


def test_a_batch_costs_one_select_and_one_statement_per_kind_of_write(db: Database) -> None:
    target = writer(db)
    target.write([record(n) for n in range(1, 201)])
    batch = [record(n, name=f"New name {n}") for n in range(101, 301)]  # 100 updates, 100 inserts

    with counting(db.connector.engine) as seen:
        results = target.write(batch)

    assert outcomes(results) == [UPDATED] * 100 + [INSERTED] * 100
    assert (seen.of("SELECT"), seen.of("INSERT"), seen.of("UPDATE")) == (1, 1, 1)


def test_keys_given_as_text_or_number_find_the_same_row(db: Database) -> None:
    by_number = writer(db, key="external_no")
    assert outcomes(by_number.write([record(42)])) == [INSERTED]
    assert outcomes(by_number.write([record(42, external_no="42")])) == [UNCHANGED]
    assert outcomes(by_number.write([record(42, external_no=" 42 ", name="Changed")])) == [UPDATED]

    by_text = writer(db)  # crm_id is text; a number finds the row whose text it is
    assert outcomes(by_text.write([record(7, crm_id=1007)])) == [INSERTED]
    assert outcomes(by_text.write([record(7, crm_id="1007")])) == [UNCHANGED]
    assert outcomes(by_text.write([record(7, crm_id=1007, name="Changed")])) == [UPDATED]

    assert db.count(customers) == 2
    assert {r["name"] for r in db.rows(customers)} == {"Changed"}


def test_the_same_key_twice_in_one_batch_makes_one_row(db: Database) -> None:
    results = writer(db).write([record(1), record(1, name="Second"), record(1, name="Second"), record(2)])

    assert outcomes(results) == [INSERTED, UPDATED, UNCHANGED, INSERTED]
    assert [(r["crm_id"], r["name"]) for r in db.rows(customers)] == [("C0001", "Second"), ("C0002", "Customer 2")]

    # the first is refused, so the second has no row to update: it fails too, never "updated"
    results = writer(db).write([record(3, name=None), record(3, name="Third"), record(4)])
    assert outcomes(results) == [FAILED, FAILED, INSERTED]
    assert results[1].reason == "no row in customers with crm_id='C0003' to update"
    assert db.count(customers) == 3


def test_insert_mode_fails_the_duplicate_with_the_databases_reason(db: Database) -> None:
    writer(db).write([record(2)])

    results = writer(db, mode="insert").write([record(1), record(2), record(3)])

    assert outcomes(results) == [INSERTED, FAILED, INSERTED]
    assert results[1].reason.startswith("customers refused the record: ")
    assert any(word in results[1].reason.lower() for word in ("unique", "duplicate"))
    assert db.count(customers) == 3


def test_update_mode_fails_a_record_with_no_row(db: Database) -> None:
    writer(db).write([record(1)])

    results = writer(db, mode="update").write([record(1, name="Changed"), record(2)])

    assert outcomes(results) == [UPDATED, FAILED]
    assert results[1].reason == "no row in customers with crm_id='C0002' to update"
    assert db.count(customers) == 1


def test_one_record_breaking_not_null_fails_alone_and_the_rest_are_written(db: Database) -> None:
    batch = [record(n) for n in range(1, 101)]
    batch[10]["name"] = None
    del batch[60]["name"]  # missing altogether: the column has no default either

    results = writer(db).write(batch)

    failed = [i for i, r in enumerate(results) if r.outcome == FAILED]
    assert failed == [10, 60]
    for index in failed:
        assert results[index].reason.startswith("customers refused the record: ")
        assert "name" in results[index].reason
    assert db.count(customers) == 98
    assert outcomes(results).count(INSERTED) == 98


def test_an_unknown_column_fails_that_record(db: Database) -> None:
    results = writer(db).write([record(1), record(2, email="x@y.z"), record(3)])

    assert outcomes(results) == [INSERTED, FAILED, INSERTED]
    assert results[1].reason == "table customers has no column(s) email"


def test_a_value_the_column_cannot_hold_fails_that_record_not_the_batch(db: Database) -> None:
    batch = [record(n) for n in range(1, 6)]
    batch[1]["external_no"] = "forty-two"
    batch[2]["updated_at"] = "next tuesday"
    batch[3]["active"] = "perhaps"

    results = writer(db).write(batch)

    assert outcomes(results) == [INSERTED, FAILED, FAILED, FAILED, INSERTED]
    assert "external_no" in results[1].reason and "forty-two" in results[1].reason
    assert "updated_at" in results[2].reason
    assert "active" in results[3].reason
    assert db.count(customers) == 2

    if db.dialect != "sqlite":  # SQLite keeps text of any length whatever the declared size
        results = writer(db).write([record(6), record(7, name="x" * 101)])
        assert outcomes(results) == [INSERTED, FAILED]
        assert results[1].reason.startswith("customers refused the record: ")


def test_values_from_text_sources_are_written_with_the_columns_types(db: Database) -> None:
    """A CSV row carries everything as text: numbers, flags and dates still land typed."""
    row = {
        "crm_id": "C0001",
        "name": "From CSV",
        "external_no": "17",
        "credit_limit": "12.30",
        "active": "true",
        "updated_at": "2024-05-06T07:08:09",
    }

    assert outcomes(writer(db).write([row])) == [INSERTED]
    assert outcomes(writer(db).write([dict(row)])) == [UNCHANGED]

    stored = db.rows(customers)[0]
    assert stored["external_no"] == 17 and stored["active"] in (True, 1)
    assert float(stored["credit_limit"]) == 12.3
    assert stored["updated_at"] == dt.datetime(2024, 5, 6, 7, 8, 9)


def test_only_the_chosen_columns_are_written_and_the_key_still_finds_the_row(db: Database) -> None:
    writer(db).write([record(1)])

    results = writer(db, columns=["name"]).write([record(1, name="Renamed", credit_limit=1.0)])

    assert outcomes(results) == [UPDATED]
    assert results[0].after == {"name": "Renamed"}
    assert float(db.rows(customers)[0]["credit_limit"]) == 1001.5


def test_dry_run_reports_without_writing(db: Database) -> None:
    writer(db).write([record(1)])

    results = writer(db).write([record(1, name="Renamed"), record(2)], dry_run=True)

    assert outcomes(results) == [UPDATED, INSERTED]
    assert [r["name"] for r in db.rows(customers)] == ["Customer 1"]


def _locked_url(db: Database) -> str:
    """The test database's URL, set to give up on a lock quickly."""
    if db.dialect == "sqlite":
        return db.url + "?timeout=0.05"
    if db.dialect == "postgresql":
        return db.url + "?options=-c%20lock_timeout%3D200"
    return db.url + "?init_command=SET%20innodb_lock_wait_timeout%3D1"


def test_a_lock_timeout_is_transient_not_a_failed_record(db: Database) -> None:
    writer(db).write([record(1)])
    impatient = connector_for(_locked_url(db))
    blocker = db.engine.connect()
    try:
        if db.dialect == "sqlite":
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.begin()
        blocker.execute(sa.update(customers).values(name="Held").where(customers.c.crm_id == "C0001"))
        with pytest.raises(TransientError, match="connection 'erp' \\(sandbox\\)"):
            SqlTableWriter(impatient, "customers", ["crm_id"]).write([record(1, name="Changed"), record(2)])
    finally:
        blocker.rollback()
        blocker.close()
        impatient.close()
    assert [r["name"] for r in db.rows(customers)] == ["Customer 1"]


def test_two_writers_at_once_each_write_their_records(db: Database) -> None:
    """Two runs writing the same table at the same time: nothing lost, nothing failed."""
    errors: list[BaseException] = []
    results: dict[int, list] = {}

    def run(part: int) -> None:
        try:
            own = connector_for(db.url)
            results[part] = SqlTableWriter(own, "customers", ["crm_id"]).write(
                [record(n) for n in range(part * 100 + 1, part * 100 + 101)]
            )
            own.close()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(part,)) for part in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    assert all(outcomes(r) == [INSERTED] * 100 for r in results.values())
    assert db.count(customers) == 200


def test_a_lenient_mariadb_server_still_refuses_a_bad_record(mariadb_url: str) -> None:
    """With sql_mode '' MariaDB stores '' for a NULL in a NOT NULL column of a multi-row INSERT
    and 0 for 'abc' in a number column; Flowbridge's sessions are strict, so the record fails."""
    engine = sa.create_engine(mariadb_url)
    customers.create(engine)
    lenient = connector_for(mariadb_url + "?init_command=SET%20sql_mode%3D%27%27")
    try:
        results = SqlTableWriter(lenient, "customers", ["crm_id"]).write(
            [record(1), record(2, name=None), record(3, name="y" * 150)]
        )
        assert outcomes(results) == [INSERTED, FAILED, FAILED]
        with engine.connect() as conn:
            assert conn.execute(sa.select(customers.c.crm_id)).scalars().all() == ["C0001"]
    finally:
        lenient.close()
        engine.dispose()


def test_a_key_matching_two_rows_fails_that_record_saying_so_and_the_others_are_written(db: Database) -> None:
    target = writer(db)
    target.write([record(1, name="Twin"), record(2, name="Twin"), record(3, name="Alone")])
    by_name = writer(db, key="name")
    results = by_name.write([{"name": "Twin", "credit_limit": 5}, {"name": "Alone", "credit_limit": 7}])
    assert outcomes(results) == [FAILED, UPDATED]
    assert results[0].reason.startswith("key name=Twin matches 2 rows in customers")
    assert sorted(float(r["credit_limit"]) for r in db.rows(customers) if r["name"] == "Twin") == [1001.5, 1002.5]
