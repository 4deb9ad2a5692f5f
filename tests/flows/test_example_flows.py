"""The four example flows, end to end against the demo databases; the target rows are checked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.services.runs import run_flow
from app.store import flows, runs
from tests.clock import later

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def rows(path: Path, query: str, *params) -> list[sqlite3.Row]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return db.execute(query, params).fetchall()


def run(store, flow_id: str, **options):
    document, version = flows.get_document(store, flow_id)
    return run_flow(store, document, version=version, **options)


def us_states() -> dict[str, str]:
    document = json.loads((FLOWS / "crm_accounts_to_erp_customers.json").read_text())
    return {k.strip().casefold(): v for k, v in document["value_maps"]["us_states"].items()}


def flagged_duplicates(store, run_id: str) -> set[int]:
    return {d.record["crm_id"] for d in runs.dead_letters(store, run_id=run_id) if d.reason.startswith("duplicate")}


def test_every_approved_account_becomes_a_customer_with_clean_fields(store, demo):
    result = run(store, "crm_accounts_to_erp_customers")
    assert result.error is None
    duplicates = flagged_duplicates(store, result.run_id)
    # The demo's dirty duplicates (same e-mail but for case and spaces) are flagged, not copied.
    assert result.status == "partial" and result.totals["failed"] == len(duplicates) > 0

    crm, erp = demo["sandbox"]["crm"], demo["sandbox"]["erp"]
    approved = rows(crm, "SELECT * FROM accounts WHERE credit_status = 'approved'")
    customers = {r["crm_id"]: r for r in rows(erp, "SELECT * FROM customers WHERE crm_id IS NOT NULL")}
    states = us_states()
    assert len(approved) > 300
    for account in approved:
        if account["id"] in duplicates:
            assert account["id"] not in customers
            continue
        customer = customers[account["id"]]
        assert customer["name"] == account["name"].strip()
        assert customer["state"] == states[account["state"].strip().casefold()]
        if account["email"] and account["email"].strip():
            assert customer["email"] == account["email"].strip().lower()
        else:
            assert customer["email"] is None
    # The dirty spellings really were there, and all came out as one.
    spellings = {r["state"] for r in rows(crm, "SELECT state FROM accounts WHERE credit_status = 'approved'")}
    assert {"CA", "ca", "California", " California "} & spellings
    assert {c["state"] for c in customers.values()} <= set(states.values())


def test_pending_and_rejected_accounts_never_reach_the_erp(store, demo):
    run(store, "crm_accounts_to_erp_customers")
    crm, erp = demo["sandbox"]["crm"], demo["sandbox"]["erp"]
    others = {r["id"] for r in rows(crm, "SELECT id FROM accounts WHERE credit_status != 'approved'")}
    in_erp = {r["crm_id"] for r in rows(erp, "SELECT crm_id FROM customers WHERE crm_id IS NOT NULL")}
    assert others and not others & in_erp


def test_the_ledger_accounts_for_every_account_read(store, demo):
    result = run(store, "crm_accounts_to_erp_customers")
    totals = result.totals
    assert totals["read"] == 600
    assert totals["read"] == (
        totals["filtered"] + totals["inserted"] + totals["updated"] + totals["unchanged"] + totals["failed"]
    )
    nodes = result.ledger.summary()
    assert nodes["approved"]["in"] == 600
    assert nodes["approved"]["out"]["match"] + nodes["approved"]["out"]["reject"] == 600
    stored = runs.run_ledger(store, result.run_id)
    assert list(stored) == ["start", "accounts", "changed", "approved", "to_customer", "customers"]
    assert stored["customers"]["inserted"] == totals["inserted"]


def test_running_a_flow_twice_inserts_nothing_the_second_time(store, demo):
    first = run(store, "crm_accounts_to_erp_customers", full_resync=True)
    erp = demo["sandbox"]["erp"]
    count = rows(erp, "SELECT COUNT(*) AS n FROM customers")[0]["n"]
    second = run(store, "crm_accounts_to_erp_customers", full_resync=True)
    assert first.totals["inserted"] > 0
    assert second.totals["inserted"] == 0 and second.totals["updated"] == 0
    assert second.totals["unchanged"] == first.totals["inserted"] + first.totals["updated"] + first.totals["unchanged"]
    assert second.totals["failed"] == first.totals["failed"]  # the same duplicates, flagged again
    assert rows(erp, "SELECT COUNT(*) AS n FROM customers")[0]["n"] == count


def test_the_cursor_makes_the_next_run_read_only_what_changed(store, demo):
    run(store, "crm_accounts_to_erp_customers")
    crm = demo["sandbox"]["crm"]
    synced = [
        r["crm_id"] for r in rows(demo["sandbox"]["erp"], "SELECT crm_id FROM customers WHERE crm_id IS NOT NULL")
    ]
    with sqlite3.connect(crm) as db:
        newest = db.execute("SELECT MAX(updated_at) FROM accounts").fetchone()[0]
        chosen = [
            r[0]
            for r in db.execute(
                f"SELECT id FROM accounts WHERE updated_at < ? AND id IN ({','.join(map(str, synced))}) LIMIT 3",
                (newest,),
            )
        ]
        db.execute(
            f"UPDATE accounts SET name = name || ' Holdings', updated_at = ? "
            f"WHERE id IN ({','.join(map(str, chosen))})",
            (later(newest),),
        )
        ties = db.execute("SELECT COUNT(*) FROM accounts WHERE updated_at = ?", (newest,)).fetchone()[0]
    again = run(store, "crm_accounts_to_erp_customers")
    # Records at the committed position are read again (a tie on the cursor is never lost) and
    # come out unchanged; only the three changed accounts are written.
    assert again.totals["read"] == 3 + ties
    assert again.totals["updated"] == 3
    assert again.totals["inserted"] == 0
    names = rows(demo["sandbox"]["erp"], "SELECT name FROM customers WHERE name LIKE '% Holdings'")
    assert len(names) == 3


def test_a_bad_record_goes_to_dead_letters_and_the_rest_are_written(store, demo):
    crm, erp = demo["sandbox"]["crm"], demo["sandbox"]["erp"]
    with sqlite3.connect(crm) as db:
        bad_id = db.execute("SELECT id FROM accounts WHERE credit_status = 'approved' LIMIT 1").fetchone()[0]
        db.execute("UPDATE accounts SET name = '   ' WHERE id = ?", (bad_id,))
    result = run(store, "crm_accounts_to_erp_customers")
    assert result.status == "partial"
    letters = [d for d in runs.dead_letters(store, run_id=result.run_id) if not d.reason.startswith("duplicate")]
    assert result.totals["failed"] == 1 + len(flagged_duplicates(store, result.run_id))
    assert [(d.node_id, d.record["id"]) for d in letters] == [("to_customer", bad_id)]
    assert "name" in letters[0].reason and "empty" in letters[0].reason
    written = {r["crm_id"] for r in rows(erp, "SELECT crm_id FROM customers WHERE crm_id IS NOT NULL")}
    approved = {r["id"] for r in rows(crm, "SELECT id FROM accounts WHERE credit_status = 'approved'")}
    duplicates = flagged_duplicates(store, result.run_id)
    assert written == approved - {bad_id} - duplicates or written == approved - duplicates
    assert bad_id not in written or rows(erp, "SELECT name FROM customers WHERE crm_id = ?", bad_id)[0]["name"].strip()


def test_won_deals_become_orders_with_every_line_intact(store, demo):
    accounts = run(store, "crm_accounts_to_erp_customers")
    duplicates = flagged_duplicates(store, accounts.run_id)
    result = run(store, "crm_won_deals_to_erp_orders")
    assert result.error is None
    # Deals of accounts flagged as duplicates wait in dead letters: their customer is not in the ERP.
    letters = runs.dead_letters(store, run_id=result.run_id)
    assert {d.record["account_id"] for d in letters} <= duplicates
    assert all(
        d.node_id == "to_order"
        and "required field(s) customer_number empty" in d.reason
        and "xref('crm', 'account', record.account_id, 'erp')" in d.reason
        for d in letters
    )
    crm, erp = demo["sandbox"]["crm"], demo["sandbox"]["erp"]
    deals = [
        d
        for d in rows(
            crm,
            "SELECT o.* FROM opportunities o JOIN accounts a ON a.id = o.account_id "
            "WHERE o.stage = 'won' AND o.amount >= 1000 AND a.credit_status = 'approved'",
        )
        if d["account_id"] not in duplicates
    ]
    assert deals
    orders = {
        r["crm_opportunity_id"]: r for r in rows(erp, "SELECT * FROM sales_orders WHERE crm_opportunity_id IS NOT NULL")
    }
    assert set(orders) == {d["id"] for d in deals}
    for deal in deals:
        order = orders[deal["id"]]
        customer = rows(erp, "SELECT customer_number FROM customers WHERE crm_id = ?", deal["account_id"])[0]
        assert order["customer_number"] == customer["customer_number"]  # the ERP's number, not the CRM id
        lines = rows(crm, "SELECT * FROM opportunity_lines WHERE opportunity_id = ? ORDER BY line_no", deal["id"])
        written = rows(
            erp, "SELECT * FROM sales_order_lines WHERE order_number = ? ORDER BY line_no", order["order_number"]
        )
        assert [
            (line["id"], line["sku"], line["quantity"], line["unit_price"], line["discount_pct"], line["tax_pct"])
            for line in lines
        ] == [
            (w["crm_line_id"], w["sku"], w["quantity"], w["unit_price"], w["discount_pct"], w["tax_pct"])
            for w in written
        ]
        for line, out in zip(lines, written):
            assert out["line_total"] == pytest.approx(
                line["quantity"] * line["unit_price"] * (1 - line["discount_pct"] / 100), abs=0.01
            )
        assert order["net_total"] == pytest.approx(deal["amount"], abs=0.05)
        assert order["gross_total"] == pytest.approx(order["net_total"] + order["tax_total"], abs=0.01)
    lost = {r["id"] for r in rows(crm, "SELECT id FROM opportunities WHERE stage != 'won'")}
    assert not lost & set(orders)


def test_a_deal_whose_customer_is_not_in_the_erp_waits_in_dead_letters(store, demo):
    result = run(store, "crm_won_deals_to_erp_orders")  # the customers flow has not linked anyone yet
    letters = runs.dead_letters(store, run_id=result.run_id)
    assert result.status == "partial" and letters
    assert all(d.node_id == "to_order" and "customer_number empty" in d.reason for d in letters)
    assert result.totals["inserted"] == 0
    assert len(letters) == result.ledger.nodes["won"].out["match"]
    # Once the customers are linked, the same deals go through: nothing was lost.
    accounts = run(store, "crm_accounts_to_erp_customers")
    again = run(store, "crm_won_deals_to_erp_orders", full_resync=True)
    duplicates = flagged_duplicates(store, accounts.run_id)
    assert again.totals["inserted"] == len(letters) - sum(
        1 for d in runs.dead_letters(store, run_id=again.run_id) if d.record["account_id"] in duplicates
    )


def test_a_line_with_a_product_the_erp_does_not_know_holds_back_its_whole_order(store, demo):
    run(store, "crm_accounts_to_erp_customers")
    crm, erp = demo["sandbox"]["crm"], demo["sandbox"]["erp"]
    deal = rows(
        crm,
        "SELECT o.id FROM opportunities o JOIN accounts a ON a.id = o.account_id "
        "WHERE o.stage = 'won' AND o.amount >= 1000 AND a.credit_status = 'approved' "
        "AND (SELECT COUNT(*) FROM opportunity_lines WHERE opportunity_id = o.id) > 1 LIMIT 1",
    )[0]["id"]
    with sqlite3.connect(crm) as db:
        db.execute(
            "UPDATE opportunity_lines SET sku = 'SKU-NOPE' WHERE id = "
            "(SELECT MIN(id) FROM opportunity_lines WHERE opportunity_id = ?)",
            (deal,),
        )
    result = run(store, "crm_won_deals_to_erp_orders")
    letter = next(d for d in runs.dead_letters(store, run_id=result.run_id) if d.record["id"] == deal)
    assert letter.node_id == "enrich" and "no row in erp.products with sku='SKU-NOPE'" in letter.reason
    assert not rows(erp, "SELECT 1 FROM sales_orders WHERE crm_opportunity_id = ?", deal)
    assert result.totals["inserted"] > 50  # the other orders went through


def test_invoices_and_their_payment_status_appear_on_the_crm_account(store, demo):
    result = run(store, "erp_invoices_to_crm")
    assert result.status == "succeeded", result.error
    crm, erp = demo["sandbox"]["crm"], demo["sandbox"]["erp"]
    expected = rows(
        erp,
        "SELECT i.invoice_number, c.crm_id, i.total, COALESCE(SUM(p.amount), 0) AS paid "
        "FROM invoices i JOIN customers c ON c.customer_number = i.customer_number "
        "LEFT JOIN payments p ON p.invoice_number = i.invoice_number "
        "WHERE c.crm_id IS NOT NULL GROUP BY i.invoice_number",
    )
    got = {r["invoice_number"]: r for r in rows(crm, "SELECT * FROM invoices")}
    assert len(got) == len(expected) > 0
    statuses = set()
    for invoice in expected:
        crm_invoice = got[invoice["invoice_number"]]
        assert crm_invoice["account_id"] == invoice["crm_id"]
        assert crm_invoice["amount_paid"] == pytest.approx(invoice["paid"], abs=0.005)
        if invoice["paid"] >= invoice["total"]:
            assert crm_invoice["payment_status"] == "paid"
        elif invoice["paid"] > 0:
            assert crm_invoice["payment_status"] == "partly paid"
        else:
            assert crm_invoice["payment_status"] in ("unpaid", "overdue")
        statuses.add(crm_invoice["payment_status"])
    assert {"paid", "partly paid"} <= statuses and statuses & {"unpaid", "overdue"}


def test_only_active_products_reach_the_crm_with_their_stock(store, demo):
    result = run(store, "erp_stock_to_crm_products")
    assert result.status == "succeeded", result.error
    crm, erp = demo["sandbox"]["crm"], demo["sandbox"]["erp"]
    stock = {
        r["sku"]: r
        for r in rows(
            erp,
            "SELECT p.sku, p.is_active, COALESCE(SUM(s.quantity), 0) AS qty "
            "FROM products p LEFT JOIN stock_levels s ON s.product_id = p.id GROUP BY p.id",
        )
    }
    crm_products = {r["sku"]: r for r in rows(crm, "SELECT * FROM products")}
    for sku, product in stock.items():
        if product["is_active"]:
            assert crm_products[sku]["stock_on_hand"] == product["qty"]
    inactive = {sku for sku, p in stock.items() if not p["is_active"]}
    assert inactive
    # Inactive products are never written (the stale CRM rows seeded before are left as they were).
    assert result.ledger.nodes["active"].out["reject"] == len(inactive)


def test_production_and_sandbox_are_separate_databases(store, demo):
    run(store, "crm_accounts_to_erp_customers", env="production")
    sandbox_count = rows(demo["sandbox"]["erp"], "SELECT COUNT(*) AS n FROM customers")[0]["n"]
    production_count = rows(demo["production"]["erp"], "SELECT COUNT(*) AS n FROM customers")[0]["n"]
    assert production_count > sandbox_count
