"""A tester's runs on the run page: a stored dry run shows what it would have changed, field by field;
a replay links to its side-by-side comparison with the run it replayed."""

from __future__ import annotations

import sqlite3

from nicegui import ui
from nicegui.testing.user import User

from app.services import replay
from app.services.access import admin
from app.services.runs import run_flow
from app.store import flows as flow_store
from app.store.database import Store
from tests.clock import later

FLOW = "crm_accounts_to_erp_customers"


async def test_a_stored_dry_run_shows_what_it_would_have_changed(user: User, store: Store, demo: dict) -> None:
    document, version = flow_store.get_document(store, FLOW)
    run_flow(store, document, version=version, env="sandbox")
    with sqlite3.connect(demo["sandbox"]["crm"]) as crm:
        crm.execute("UPDATE accounts SET city = 'Fort Worth', updated_at = ? WHERE id = 1", (later(),))
    dry = run_flow(store, document, version=version, env="sandbox", dry_run=True)
    await user.open(f"/runs/{dry.run_id}")
    await user.should_see("What it would have changed")
    await user.should_see("A dry run in sandbox: nothing was written")
    await user.should_see("Would update (1)")
    [table] = [t for t in user.find(ui.table).elements if "fb-would-update" in t.classes]
    assert [(r["field"], r["after"]) for r in table.rows] == [("city", "Fort Worth")]


async def test_a_real_run_has_no_would_change_section_and_a_replay_links_to_its_comparison(
    user: User, store: Store, demo: dict
) -> None:
    document, version = flow_store.get_document(store, "erp_stock_to_crm_products")
    original = run_flow(store, document, version=version, env="production")
    await user.open(f"/runs/{original.run_id}")
    await user.should_see("Ledger")
    await user.should_not_see("What it would have changed")
    report = replay.replay(store, original.run_id, who=admin("test"))
    replayed = report["replay"]["run_id"]
    await user.open(f"/runs/{replayed}")
    await user.should_see(f"A replay in the sandbox of run {original.run_id}:")
    links = [link.props.get("href") for link in user.find(ui.link).elements]
    assert f"/runs/{original.run_id}/compare/{replayed}" in links
