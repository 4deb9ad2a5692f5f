"""Parents with child rows (orders and their lines) written as one unit, on all three databases."""

from __future__ import annotations

from decimal import Decimal

from app.connectors.sql_write import FAILED, INSERTED, UNCHANGED, UPDATED, ChildSpec, SqlTableWriter
from tests.connectors.support import Database, counting, order_lines, orders

# Lines are numbered 1, 2, ... within each order: line_no alone names a line only inside its order.
LINES = ChildSpec(field="lines", table="order_lines", key=("line_no",), link={"order_id": "id"})


def order(number: str, *quantities: int, **values) -> dict:
    return {
        "order_number": number,
        "customer": "C0001",
        "total": 10.0 * sum(quantities),
        "lines": [{"line_no": i, "sku": f"SKU-{number}-{i}", "quantity": q} for i, q in enumerate(quantities, 1)],
        **values,
    }


def writer(db: Database) -> SqlTableWriter:
    return SqlTableWriter(db.connector, "orders", ["order_number"], "upsert", children=[LINES])


def lines_of(db: Database) -> dict[str, list[tuple[int, int]]]:
    numbers = {r["id"]: r["order_number"] for r in db.rows(orders)}
    found: dict[str, list[tuple[int, int]]] = {}
    for line in db.rows(order_lines):
        found.setdefault(numbers[line["order_id"]], []).append((line["line_no"], line["quantity"]))
    return {k: sorted(v) for k, v in found.items()}


def test_orders_and_lines_are_written_once_and_then_left_alone(db: Database) -> None:
    batch = [order("SO-1", 1, 2), order("SO-2", 3, 4), order("SO-3", 5)]

    assert [r.outcome for r in writer(db).write(batch)] == [INSERTED] * 3
    assert lines_of(db) == {"SO-1": [(1, 1), (2, 2)], "SO-2": [(1, 3), (2, 4)], "SO-3": [(1, 5)]}

    with counting(db.connector.engine) as seen:
        again = writer(db).write([order("SO-1", 1, 2), order("SO-2", 3, 4), order("SO-3", 5)])
    assert [r.outcome for r in again] == [UNCHANGED] * 3
    assert seen.writes == 0

    preview = writer(db).write([order("SO-1", 1, 2), order("SO-2", 3, 5), order("SO-4", 1)], dry_run=True)
    assert [r.outcome for r in preview] == [UNCHANGED, UPDATED, INSERTED]
    assert lines_of(db)["SO-2"] == [(1, 3), (2, 4)]


def test_a_changed_line_updates_its_order_and_no_other(db: Database) -> None:
    writer(db).write([order("SO-1", 1, 2), order("SO-2", 3, 4)])

    results = writer(db).write([order("SO-1", 1, 2), order("SO-2", 3, 9, total=70.0)])

    assert [r.outcome for r in results] == [UNCHANGED, UPDATED]
    assert lines_of(db) == {"SO-1": [(1, 1), (2, 2)], "SO-2": [(1, 3), (2, 9)]}
    assert [r["total"] for r in db.rows(orders)] == [Decimal("30.00"), Decimal("70.00")]

    results = writer(db).write([order("SO-1", 1, 2, 6, total=30.0)])  # a new line, same total
    assert [r.outcome for r in results] == [UPDATED]
    assert lines_of(db)["SO-1"] == [(1, 1), (2, 2), (3, 6)]


def test_a_bad_line_keeps_out_its_whole_order_and_only_that_order(db: Database) -> None:
    bad = order("SO-2", 3, 4)
    bad["lines"][1]["sku"] = None  # NOT NULL

    results = writer(db).write([order("SO-1", 1, 2), bad, order("SO-3", 5)])

    assert [r.outcome for r in results] == [INSERTED, FAILED, INSERTED]
    assert results[1].reason.startswith("order_lines refused the record: ")
    assert [r["order_number"] for r in db.rows(orders)] == ["SO-1", "SO-3"]
    assert lines_of(db) == {"SO-1": [(1, 1), (2, 2)], "SO-3": [(1, 5)]}


def test_a_bad_line_on_an_existing_order_leaves_the_order_as_it_was(db: Database) -> None:
    writer(db).write([order("SO-1", 1, 2), order("SO-2", 3)])
    bad = order("SO-1", 7, 8, customer="C0002")
    bad["lines"].append({"line_no": 3, "sku": "SKU-X", "quantity": None})

    results = writer(db).write([bad, order("SO-2", 3, 3)])

    assert [r.outcome for r in results] == [FAILED, UPDATED]
    assert [r["customer"] for r in db.rows(orders)] == ["C0001", "C0001"]
    assert lines_of(db) == {"SO-1": [(1, 1), (2, 2)], "SO-2": [(1, 3), (2, 3)]}


def test_lines_that_are_not_a_list_of_records_fail_the_order(db: Database) -> None:
    results = writer(db).write([order("SO-1", 1), {**order("SO-2"), "lines": "two boxes"}])

    assert [r.outcome for r in results] == [INSERTED, FAILED]
    assert results[1].reason == "field 'lines' must be a list of records"
    assert [r["order_number"] for r in db.rows(orders)] == ["SO-1"]
