"""The whole-flow dry run in the editor: what it would insert and update, field by field, and that it
writes nothing — checked against the demo's real databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nicegui import ui
from nicegui.testing.user import User

from app.services import access, designer
from app.services.runs import dry_run_changes, run_flow
from app.store import flows as flow_store
from app.store import runs as run_store
from app.store.database import Store
from app.ui import session
from app.ui.canvas.flow_canvas import FlowCanvas
from app.ui.changes_view import PAGE_SIZE
from tests.clock import later

FLOW = "crm_accounts_to_erp_customers"


def _table(user: User, css: str) -> ui.table:
    found = [t for t in user.find(ui.table).elements if css in t.classes]
    assert len(found) == 1, f"expected one table .{css}, found {len(found)}"
    return found[0]


def _rows(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


def _erp_customers(demo: dict) -> list[tuple]:
    return _rows(demo["sandbox"]["erp"], "SELECT * FROM customers ORDER BY customer_number")


async def _dry_run_in_the_sandbox(user: User) -> None:
    user.find(marker="dry-run-sandbox").click()
    await user.should_see("Dry run in the sandbox — nothing was written", retries=100)  # it runs in a thread


async def test_a_dry_run_lists_the_inserts_the_real_run_then_makes_and_writes_nothing(
    user: User, store: Store, demo: dict
) -> None:
    customers_before = _erp_customers(demo)
    await user.open(f"/flows/{FLOW}")
    await user.should_see("version 1")
    await _dry_run_in_the_sandbox(user)
    await user.should_see("Ran version 1, as saved. Read crm, erp (sandbox)")

    assert _erp_customers(demo) == customers_before, "a dry run changed the ERP"
    dry = run_store.list_runs(store, FLOW)[0]
    assert dry.dry_run and dry.env == "sandbox"
    assert run_store.get_cursor(store, FLOW, "accounts", "sandbox") is None, "a dry run moved the read cursor"
    assert run_store.count_dead_letters(store, dry.id) == 0

    would_insert = dry.totals["inserted"]
    assert would_insert > PAGE_SIZE
    await user.should_see(f"Would insert ({would_insert})")
    await user.should_see(f"Would update ({dry.totals['updated']})")
    await user.should_see(f"Would fail ({dry.totals['failed']})")
    inserts = _table(user, "fb-would-insert")
    assert len(inserts.rows) == PAGE_SIZE  # one page at a time, not the whole report
    existing = {
        row[0] for row in _rows(demo["sandbox"]["erp"], "SELECT crm_id FROM customers WHERE crm_id IS NOT NULL")
    }
    assert all(row["crm_id"] not in existing for row in inserts.rows)
    await user.should_see(f"1–{PAGE_SIZE} of {would_insert}")
    user.find(marker="page-next-inserted").click()
    await user.should_see(f"{PAGE_SIZE + 1}–{2 * PAGE_SIZE} of {would_insert}")
    assert _table(user, "fb-would-insert").rows[0]["crm_id"] not in {row["crm_id"] for row in inserts.rows}
    failures = _table(user, "fb-would-fail")
    assert failures.rows and all(row["reason"] for row in failures.rows)

    # Searching narrows every tab: one account's name leaves exactly that insert.
    name = inserts.rows[0]["name"]
    user.find(marker="search-customers").type(name)
    await user.should_see(f"Would insert (1 of {would_insert})")
    assert [row["name"] for row in _table(user, "fb-would-insert").rows] == [name]

    # What the dry run said is what the real run does.
    document, version = flow_store.get_document(store, FLOW)
    real = run_flow(store, document, version=version, env="sandbox")
    assert real.totals["inserted"] == would_insert
    assert len(_erp_customers(demo)) == len(customers_before) + would_insert


async def test_after_a_real_run_one_changed_account_is_the_only_update_with_before_and_after(
    user: User, store: Store, demo: dict
) -> None:
    document, version = flow_store.get_document(store, FLOW)
    run_flow(store, document, version=version, env="sandbox")
    [(number, city)] = _rows(demo["sandbox"]["erp"], "SELECT customer_number, city FROM customers WHERE crm_id = 1")
    with sqlite3.connect(demo["sandbox"]["crm"]) as crm:
        crm.execute("UPDATE accounts SET city = 'Fort Worth', updated_at = ? WHERE id = 1", (later(),))
    customers_before = _erp_customers(demo)

    await user.open(f"/flows/{FLOW}")
    await _dry_run_in_the_sandbox(user)
    await user.should_see("Would update (1)")
    await user.should_see("Would insert (0)")
    rows = _table(user, "fb-would-update").rows
    assert [(r["record"], r["field"], r["before"], r["after"], r["changed"]) for r in rows] == [
        (f"customer_number {number}", "city", city, "Fort Worth", True)
    ]
    assert _erp_customers(demo) == customers_before, "a dry run changed the ERP"


async def test_a_drawing_with_problems_is_not_dry_run_and_says_why(user: User, store: Store) -> None:
    await user.open(f"/flows/{FLOW}")
    await user.should_see("version 1")
    document, _ = flow_store.get_document(store, FLOW)
    last = document["edges"][-1]  # the write node loses its input
    user.find(FlowCanvas).trigger(
        "remove", {"nodes": [], "edges": [f"{last['from']}.{last.get('port') or ''}>{last['to']}"]}
    )
    problems = len(designer.check_document({**document, "edges": document["edges"][:-1]}).problems)
    assert problems
    await user.should_see(f"{problems} problem", retries=50)  # validation runs in the background
    user.find(marker="dry-run-sandbox").click()
    await user.should_see(f"No dry run: the unsaved drawing (based on version 1) has {problems} problem", retries=100)
    assert run_store.list_runs(store, FLOW) == []
    await user.should_not_see("Would insert")


def test_a_stored_dry_run_keeps_what_it_would_change_but_no_input(store: Store, demo: dict) -> None:
    document, version = flow_store.get_document(store, FLOW)
    result = run_flow(store, document, version=version, env="sandbox", dry_run=True)
    kept = dry_run_changes(store, result.run_id)["customers"]
    by_outcome = {
        kind: [c for c in kept if c["outcome"] == kind] for kind in ("inserted", "updated", "unchanged", "failed")
    }
    assert {kind: len(found) for kind, found in by_outcome.items()} == {
        kind: result.totals[kind] for kind in by_outcome
    }
    assert all(c["before"] and c["after"] and c["before"] != c["after"] for c in by_outcome["updated"])
    assert all(c["reason"] and c["record"] for c in by_outcome["failed"])
    # Nothing to replay: a replay compares with what a run wrote, and a dry run wrote nothing.
    assert run_store.kept_records(store, result.run_id, "input") == {}
    assert run_store.kept_records(store, result.run_id, "written") == {}


async def test_a_tester_dry_runs_in_the_sandbox_under_her_name_but_not_against_production(
    user: User, store: Store
) -> None:
    token = access.add_user(store, "tess", "tester")
    session.forget_open_state()
    try:
        await user.open(f"/sign-in?next=/flows/{FLOW}")  # signed in, the editor opens
        user.find(marker="sign-in-name").type("tess")
        user.find(marker="sign-in-token").type(token)
        user.find(marker="sign-in-submit").click()
        await user.should_see("version 1", retries=50)
        user.find(marker="dry-run-production").click()
        await user.should_see("tess (tester) may not run in production")
        assert run_store.list_runs(store, FLOW) == []
        await _dry_run_in_the_sandbox(user)
        [dry] = run_store.list_runs(store, FLOW)
        assert (dry.env, dry.dry_run, dry.started_by) == ("sandbox", True, "tess")
        [save] = user.find(marker="save").elements
        assert not save.enabled  # a tester may not edit: Save is offered disabled, saying who may
        user.find(marker="save").click()
        await user.should_see("tess (tester) may not edit")
        await user.should_not_see("What changed?")
    finally:
        session.forget_open_state()


async def test_the_unsaved_drawing_dry_runs_against_production_and_says_both(
    user: User, store: Store, demo: dict
) -> None:
    production_before = _rows(demo["production"]["erp"], "SELECT * FROM customers ORDER BY customer_number")
    await user.open(f"/flows/{FLOW}")
    await user.should_see("version 1")
    user.find(FlowCanvas).trigger("moved", [{"id": "accounts", "x": 333, "y": 444}])
    await user.should_see("unsaved changes")
    user.find(marker="dry-run-production").click()
    await user.should_see("Dry run in production — nothing was written", retries=100)
    await user.should_see("Ran the unsaved drawing (based on version 1). Read crm, erp (production)")
    [dry] = run_store.list_runs(store, FLOW)
    assert (dry.env, dry.dry_run, dry.flow_version) == ("production", True, None)
    assert _rows(demo["production"]["erp"], "SELECT * FROM customers ORDER BY customer_number") == production_before
