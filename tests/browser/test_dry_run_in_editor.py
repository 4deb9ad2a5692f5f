"""An analyst dry-runs the demo accounts flow from the editor: one new CRM account would be inserted,
one edited account would be updated (city, before → after), and nothing reaches the ERP."""

from __future__ import annotations

import sqlite3
from typing import Any

from app.services.runs import run_flow
from app.store import flows as flow_store
from app.store import runs as run_store
from tests.browser.support import Page
from tests.clock import later

SHOTS = "dry-run"  # screenshots: artifacts/browser/dry-run-NN-step.png
FLOW = "crm_accounts_to_erp_customers"
NEW_ACCOUNT = "Dryrun Harbor Supplies"


def _prepare(served: dict[str, Any]) -> tuple[int, str, str]:
    """The flow has run once; then one linked account moves city and one account is new in the CRM."""
    store = served["store"]
    document, version = flow_store.get_document(store, FLOW)
    run_flow(store, document, version=version, env="sandbox", started_by="setup")
    with sqlite3.connect(served["demo"] / "erp_sandbox.db") as erp:
        crm_id, city = erp.execute(
            "SELECT crm_id, city FROM customers WHERE crm_id IS NOT NULL AND city IS NOT NULL ORDER BY crm_id LIMIT 1"
        ).fetchone()
    moved_to = "Dryrun Falls" if city != "Dryrun Falls" else "Dryrun Springs"
    with sqlite3.connect(served["demo"] / "crm_sandbox.db") as crm:
        (newest,) = crm.execute("SELECT MAX(updated_at) FROM accounts").fetchone()
        edited = later(newest)  # past every read cursor: the next run reads these accounts
        crm.execute("UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?", (moved_to, edited, crm_id))
        crm.execute(
            "INSERT INTO accounts (name, email, phone, street, city, state, postcode, country, industry, "
            "credit_status, is_active, created_at, updated_at) SELECT ?, 'ap@dryrunharbor.example', phone, "
            "street, city, state, postcode, country, industry, 'approved', 1, ?, ? FROM accounts WHERE id = ?",
            (NEW_ACCOUNT, edited, edited, crm_id),
        )
    return crm_id, city, moved_to


def _erp(served: dict[str, Any]) -> list[tuple]:
    with sqlite3.connect(served["demo"] / "erp_sandbox.db") as erp:
        return erp.execute("SELECT * FROM customers ORDER BY customer_number").fetchall()


def test_a_dry_run_shows_the_insert_and_the_update_and_writes_nothing(page: Page, served: dict[str, Any]) -> None:
    crm_id, city, moved_to = _prepare(served)
    erp_before = _erp(served)

    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.node_count() == 6, "the accounts flow, drawn")
    page.click(".fb-dry-run")
    page.wait(lambda: page.find(".fb-dry-run-sandbox").is_displayed(), "the dry run menu")
    page.shot("menu")
    page.feedback(
        lambda: page.click(".fb-dry-run-sandbox"), "document.querySelector('.fb-busy')", "the dry run's spinner"
    )
    page.wait(lambda: page.find(".fb-dry-run-result").is_displayed(), "the dry run's result", timeout=60)
    assert page.text(".fb-dry-run-title") == "Dry run in the sandbox — nothing was written"
    assert page.text(".fb-dry-run-what").startswith("Ran version ")
    assert "(sandbox); wrote nothing" in page.text(".fb-dry-run-what")
    assert "1 would update" in page.text(".fb-dry-run-totals")
    page.wait(lambda: not page.all(".fb-busy"), "the spinner to go")
    page.shot("result")

    # The new account is among the inserts: search for it.
    page.type_into(".fb-change-search input", "Dryrun Harbor")
    page.wait(lambda: "(1 of " in page.text(".fb-tab-inserted"), "the insert tab to count the match")
    rows = page.all(".fb-would-insert tbody tr")
    assert len(rows) == 1 and NEW_ACCOUNT in rows[0].text
    page.shot("insert-found")

    # The moved account is the one update: its city, before → after, highlighted.
    page.type_into(".fb-change-search input", "")
    page.click(".fb-tab-updated")
    page.wait(lambda: page.find(".fb-would-update").is_displayed(), "the updates")
    # The tab slides in: its cells have text once the slide is over.
    page.wait(lambda: page.find(".fb-would-update .fb-changed-after").text, "the update's values drawn")
    before = page.find(".fb-would-update .fb-changed-before")
    after = page.find(".fb-would-update .fb-changed-after")
    assert (before.text, after.text) == (city, moved_to)
    row = page.find(".fb-would-update tbody tr").text
    assert "city" in row and "customer_number" in row
    page.shot("update")

    # Closed: the canvas keeps the dry run's counts; the ERP has not changed.
    page.click(".fb-dry-run-close")
    page.wait(lambda: "1 updated" in page.find('.vue-flow__node[data-id="customers"]').text, "the counts on the canvas")
    page.shot("counts")
    assert _erp(served) == erp_before, "a dry run wrote to the ERP"

    # The dry run is kept: its run's page shows the same update again.
    dry = next(r for r in run_store.list_runs(served["store"], flow_id=FLOW, limit=20) if r.dry_run)  # the newest
    page.open(f"/runs/{dry.id}")
    page.wait(lambda: page.all(".fb-run-would-change"), "what the dry run would have changed")
    page.click(".fb-run-would-change .fb-tab-updated")
    page.wait(lambda: page.find(".fb-run-would-change .fb-would-update").is_displayed(), "the updates")
    assert page.text(".fb-run-would-change .fb-changed-after") == moved_to
    page.d.execute_script("document.querySelector('.fb-run-would-change').scrollIntoView()")
    page.shot("stored-dry-run")
