"""The HTTP example flows end to end against the sandbox APIs; the rows are checked in their SQLite files."""

from __future__ import annotations

import json

from app.services.runs import run_flow
from app.store import flows, runs, sync
from tests.clock import later
from tests.http.support import FLOWS, client, execute, rows


def run(store, flow_id: str, **options):
    document, version = flows.get_document(store, flow_id)
    return run_flow(store, document, version=version, **options)


def us_states() -> dict[str, str]:
    document = json.loads((FLOWS / "crm_accounts_to_erp_customers_http.json").read_text())
    return {k.strip().casefold(): v for k, v in document["value_maps"]["us_states"].items()}


def test_approved_accounts_become_customers_with_clean_fields_and_linked_numbers(api_store, sandbox):
    result = run(api_store, "crm_accounts_to_erp_customers_http")
    # The demo's duplicate accounts (a second CRM account with an ERP customer's e-mail) wait, named.
    letters = runs.dead_letters(api_store, run_id=result.run_id)
    assert result.status == "partial" and len(letters) == result.totals["failed"] == 2
    assert all(d.reason.startswith("duplicate account: erp_api /customers row ") for d in letters)
    duplicates = {d.record["crm_id"] for d in letters}
    approved = rows(sandbox, "crm", "SELECT * FROM accounts WHERE credit_status = 'approved'")
    approved = [a for a in approved if a["id"] not in duplicates]
    customers = {c["crm_id"]: c for c in rows(sandbox, "erp", "SELECT * FROM customers WHERE crm_id IS NOT NULL")}
    assert set(customers) == {a["id"] for a in approved}  # the pending and rejected ones stay out
    states = us_states()
    for account in approved:
        customer = customers[account["id"]]
        assert customer["name"] == account["name"].strip()
        assert customer["state"] == states[account["state"].strip().casefold()]
        assert customer["email"] == ((account["email"] or "").strip().lower() or None)
    links = sync.all_links(api_store, "sandbox", "account", "crm_api", "erp_api")
    assert links == {str(c["crm_id"]): str(c["customer_number"]) for c in customers.values()}
    totals = result.totals
    assert (
        totals["read"]
        == 200
        == (totals["filtered"] + totals["inserted"] + totals["updated"] + totals["unchanged"] + totals["failed"])
    )
    assert totals["updated"] >= 1  # the ERP's seed holds customers with an address from before the last CRM edit


def test_a_rerun_writes_nothing_and_a_new_account_is_the_only_one_read(api_store, sandbox):
    run(api_store, "crm_accounts_to_erp_customers_http")
    before = sandbox.faults["erp"].methods.get("POST", 0) + sandbox.faults["erp"].methods.get("PATCH", 0)
    again = run(api_store, "crm_accounts_to_erp_customers_http")
    assert again.totals["inserted"] == again.totals["updated"] == 0 and again.totals["read"] <= 2
    assert sandbox.faults["erp"].methods.get("POST", 0) + sandbox.faults["erp"].methods.get("PATCH", 0) == before
    with client(sandbox, "crm") as crm:
        account = crm.post(
            "/accounts",
            json={
                "name": " Zephyr Works ",
                "email": " Sales@Zephyr.EXAMPLE ",
                "state": "tx",
                "credit_status": "approved",
                "created_at": later(),
            },
        )
    added = run(api_store, "crm_accounts_to_erp_customers_http")
    assert added.totals["inserted"] == 1 and added.totals["read"] <= 3
    [customer] = rows(sandbox, "erp", "SELECT * FROM customers WHERE crm_id = ?", account.json()["id"])
    assert (customer["name"], customer["email"], customer["state"]) == ("Zephyr Works", "sales@zephyr.example", "Texas")
    assert customer["customer_number"] > 10000  # the ERP numbered it


def test_won_deals_become_orders_with_every_line_pointing_at_the_erp_customer(api_store, sandbox):
    run(api_store, "crm_accounts_to_erp_customers_http")
    result = run(api_store, "crm_won_deals_to_erp_orders_http")
    assert result.status == "succeeded" and result.totals["inserted"] > 20
    orders = rows(
        sandbox,
        "erp",
        "SELECT o.*, c.crm_id FROM sales_orders o JOIN customers c "
        "ON c.customer_number = o.customer_number WHERE o.crm_opportunity_id IS NOT NULL",
    )
    deals = {d["id"]: d for d in rows(sandbox, "crm", "SELECT * FROM opportunities")}
    assert len(orders) == result.totals["inserted"]
    for order in orders:
        deal = deals[order["crm_opportunity_id"]]
        assert order["crm_id"] == deal["account_id"] and deal["stage"] == "won" and deal["amount"] >= 1000
        lines = rows(
            sandbox,
            "erp",
            "SELECT * FROM sales_order_lines WHERE order_number = ? ORDER BY line_no",
            order["order_number"],
        )
        crm_lines = rows(
            sandbox, "crm", "SELECT * FROM opportunity_lines WHERE opportunity_id = ? ORDER BY line_no", deal["id"]
        )
        assert [
            (n["crm_line_id"], n["sku"], n["quantity"], n["unit_price"], n["discount_pct"], n["tax_pct"]) for n in lines
        ] == [(c["id"], c["sku"], c["quantity"], c["unit_price"], c["discount_pct"], c["tax_pct"]) for c in crm_lines]
        assert round(sum(n["line_total"] for n in lines), 2) == order["net_total"]
    again = run(api_store, "crm_won_deals_to_erp_orders_http", full_resync=True)
    assert again.totals["inserted"] == again.totals["updated"] == 0


def test_active_products_reach_the_crm_with_their_stock_summed(api_store, sandbox):
    result = run(api_store, "erp_stock_to_crm_products_http")
    assert result.status == "succeeded" and result.totals["read"] == 60
    erp = {
        p["sku"]: p
        for p in rows(
            sandbox,
            "erp",
            "SELECT p.sku, p.name, p.unit_price, COALESCE(SUM(s.quantity), 0) "
            "AS stock FROM products p LEFT JOIN stock_levels s ON "
            "s.product_id = p.id WHERE p.is_active = 1 GROUP BY p.id",
        )
    }
    crm = {p["sku"]: p for p in rows(sandbox, "crm", "SELECT * FROM products")}
    for sku, product in erp.items():
        assert (crm[sku]["name"], crm[sku]["list_price"], crm[sku]["stock_on_hand"]) == (
            product["name"],
            product["unit_price"],
            product["stock"],
        )
    assert run(api_store, "erp_stock_to_crm_products_http").totals["unchanged"] == len(erp)


def test_a_credit_limit_changed_in_the_erp_reaches_the_crm_and_nothing_else_travels_back(api_store, sandbox):
    run(api_store, "crm_accounts_to_erp_customers_http")
    run(api_store, "erp_customers_to_crm_accounts_http")
    customer = rows(
        sandbox,
        "erp",
        "SELECT customer_number, crm_id FROM customers WHERE crm_id IS NOT NULL ORDER BY customer_number",
    )[0]
    newest = rows(sandbox, "erp", "SELECT MAX(updated_at) AS t FROM customers")[0]["t"]
    execute(
        sandbox,
        "erp",
        "UPDATE customers SET credit_limit = 12345, name = 'ERP Rename', updated_at = ? WHERE customer_number = ?",
        later(newest),
        customer["customer_number"],
    )
    result = run(api_store, "erp_customers_to_crm_accounts_http")
    assert result.totals["updated"] == 1
    [account] = rows(sandbox, "crm", "SELECT * FROM accounts WHERE id = ?", customer["crm_id"])
    assert account["credit_limit"] == 12345 and account["name"] != "ERP Rename"
    for flow in ("crm_accounts_to_erp_customers_http", "erp_customers_to_crm_accounts_http"):
        settled = run(api_store, flow)
        assert settled.totals["inserted"] == 0 and settled.totals["updated"] <= 1, flow  # the CRM owns names


def test_a_missing_name_and_an_unknown_product_each_wait_with_their_reason_and_block_nothing(api_store, sandbox):
    approved = rows(sandbox, "crm", "SELECT id FROM accounts WHERE credit_status = 'approved' ORDER BY id")
    nameless = approved[3]["id"]
    execute(sandbox, "crm", "UPDATE accounts SET name = '  ' WHERE id = ?", nameless)
    accounts = run(api_store, "crm_accounts_to_erp_customers_http")
    letters = runs.dead_letters(api_store, run_id=accounts.run_id)
    [letter] = [d for d in letters if not d.reason.startswith("duplicate account")]  # besides the demo's duplicates
    assert letter.record["id"] == nameless and letter.reason.startswith("required field(s) name empty")

    deal = rows(
        sandbox,
        "crm",
        "SELECT o.id FROM opportunities o JOIN accounts a ON a.id = o.account_id WHERE "
        "o.stage = 'won' AND o.amount >= 1000 AND a.credit_status = 'approved' AND a.id <> ? "
        "ORDER BY o.id",
        nameless,
    )[0]["id"]
    execute(sandbox, "crm", "UPDATE opportunity_lines SET sku = 'SKU-GONE' WHERE opportunity_id = ?", deal)
    orders = run(api_store, "crm_won_deals_to_erp_orders_http")
    reasons = {
        d.record.get("crm_opportunity_id", d.record.get("id")): d.reason
        for d in runs.dead_letters(api_store, run_id=orders.run_id)
    }
    assert "unknown product sku 'SKU-GONE'" in reasons.pop(deal)
    assert all("customer_number empty" in reason for reason in reasons.values())  # the nameless account's deals
    assert orders.totals["inserted"] > 20
    totals = orders.totals
    assert totals["read"] == totals["filtered"] + totals["inserted"] + totals["failed"]  # nothing lost
