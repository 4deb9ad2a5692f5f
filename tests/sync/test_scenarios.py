"""The scenarios integration teams test before go-live, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.services.runs import run_flow
from app.store import runs, sync
from tests.sync.systems import make_systems

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def systems(request, store, tmp_path, database_factory):
    return make_systems(store, tmp_path, request.param, database_factory)


def new_account(systems, **fields) -> int:
    next_id = systems.query("crm", "SELECT MAX(id) + 1 AS n FROM accounts")[0]["n"]
    now = systems.later()
    values = {
        "id": next_id,
        "name": " Zephyr Works ",
        "email": " Sales@Zephyr.EXAMPLE ",
        "phone": "555-0100",
        "street": "1 Main St",
        "city": "Austin",
        "state": "tx",
        "postcode": "73301",
        "country": "US",
        "industry": "Tools",
        "credit_status": "approved",
        "is_active": 1,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    columns = ", ".join(values)
    systems.execute("crm", f"INSERT INTO accounts ({columns}) VALUES ({', '.join(':' + k for k in values)})", **values)
    return next_id


def test_a_customer_added_in_the_crm_appears_in_the_erp_with_its_fields_ids_and_ownership(systems):
    systems.run("crm_accounts_to_erp_customers")
    account = new_account(systems)
    result = systems.run("crm_accounts_to_erp_customers")
    assert result.totals["inserted"] == 1
    customer = systems.query("erp", "SELECT * FROM customers WHERE crm_id = :id", id=account)[0]
    assert (customer["name"], customer["email"], customer["state"]) == ("Zephyr Works", "sales@zephyr.example", "Texas")
    assert customer["customer_number"] > 10000  # the ERP numbered it
    assert customer["credit_limit"] is None  # the ERP owns credit limits: the CRM never sets them
    link = sync.links_for(systems.store, "sandbox", "account", "crm", [str(account)], "erp")[str(account)]
    assert link.other_id == str(customer["customer_number"])


def test_an_address_changed_in_the_erp_shows_in_the_crm_after_the_reverse_flow(systems):
    systems.run("crm_accounts_to_erp_customers")
    systems.run("erp_customers_to_crm_accounts")
    customer = systems.query(
        "erp", "SELECT customer_number, crm_id FROM customers WHERE crm_id IS NOT NULL ORDER BY customer_number"
    )[0]
    systems.execute(
        "erp",
        "UPDATE customers SET street = '99 Harbor Rd', credit_limit = 12345, name = 'ERP Rename', "
        "updated_at = :t WHERE customer_number = :n",
        t=systems.later(),
        n=customer["customer_number"],
    )
    result = systems.run("erp_customers_to_crm_accounts")
    assert result.totals["updated"] == 1
    account = systems.query("crm", "SELECT * FROM accounts WHERE id = :id", id=customer["crm_id"])[0]
    assert account["street"] == "99 Harbor Rd"
    assert account["credit_limit"] == 12345
    assert account["name"] != "ERP Rename"  # the CRM owns names: the ERP's rename does not travel back


def test_a_sync_does_not_echo_its_own_writes_back(systems):
    systems.run("crm_accounts_to_erp_customers")
    first_reverse = systems.run("erp_customers_to_crm_accounts")
    # The reverse flow's first run brings the ERP's own fields (credit limits, terms) to the CRM,
    # and leaves alone the fields the forward flow just wrote (however each system spells them).
    assert first_reverse.error is None
    written = systems.query("crm", "SELECT COUNT(*) AS n FROM accounts WHERE credit_limit IS NOT NULL")[0]["n"]
    assert written == first_reverse.totals["updated"] > 0
    dirty = systems.query("crm", "SELECT COUNT(*) AS n FROM accounts WHERE state IN ('ca', 'CA', ' California ')")
    assert dirty[0]["n"] > 0  # the CRM's own spellings were not "corrected" by an echo
    for flow in ("crm_accounts_to_erp_customers", "erp_customers_to_crm_accounts"):
        again = systems.run(flow)
        assert again.totals["updated"] == 0 and again.totals["inserted"] == 0, flow


def test_an_address_changed_on_both_sides_goes_to_the_newest_change(systems):
    systems.run("crm_accounts_to_erp_customers")
    pair = systems.query(
        "erp", "SELECT customer_number, crm_id FROM customers WHERE crm_id IS NOT NULL ORDER BY customer_number"
    )[1]
    systems.execute(
        "erp",
        "UPDATE customers SET street = 'ERP Street', updated_at = :t WHERE customer_number = :n",
        t=systems.later(),
        n=pair["customer_number"],
    )
    systems.execute(
        "crm",
        "UPDATE accounts SET street = 'CRM Street', updated_at = :t WHERE id = :id",
        t=systems.later(),
        id=pair["crm_id"],
    )
    systems.run("crm_accounts_to_erp_customers")
    systems.run("erp_customers_to_crm_accounts")
    erp = systems.query("erp", "SELECT street FROM customers WHERE customer_number = :n", n=pair["customer_number"])
    crm = systems.query("crm", "SELECT street FROM accounts WHERE id = :id", id=pair["crm_id"])
    assert erp[0]["street"] == crm[0]["street"] == "CRM Street"  # the CRM's change was the newer


def test_a_conflict_can_be_held_for_review_with_both_values(systems):
    document = json.loads((FLOWS / "crm_accounts_to_erp_customers.json").read_text())
    document["nodes"][-1]["config"]["sync"]["on_conflict"] = "review"
    run_flow(systems.store, document)
    # The first sync meets customers the ERP had before with other addresses: held for review too.
    first = {c.id for c in sync.open_conflicts(systems.store, "sandbox")}
    assert first
    pair = systems.query(
        "erp", "SELECT customer_number, crm_id FROM customers WHERE crm_id IS NOT NULL ORDER BY customer_number"
    )[2]
    systems.execute(
        "erp", "UPDATE customers SET city = 'Erpville' WHERE customer_number = :n", n=pair["customer_number"]
    )
    systems.execute(
        "crm",
        "UPDATE accounts SET city = 'Crmtown', updated_at = :t WHERE id = :id",
        t=systems.later(),
        id=pair["crm_id"],
    )
    run_flow(systems.store, document)
    conflicts = [c for c in sync.open_conflicts(systems.store, "sandbox") if c.id not in first]
    assert [(c.field, c.source_value, c.target_value) for c in conflicts] == [("city", "Crmtown", "Erpville")]
    assert (
        systems.query("erp", "SELECT city FROM customers WHERE customer_number = :n", n=pair["customer_number"])[0][
            "city"
        ]
        == "Erpville"
    )  # held, not overwritten


def test_an_existing_erp_customer_is_linked_by_email_not_duplicated(systems):
    systems.run("crm_accounts_to_erp_customers")
    lonely = systems.query("erp", "SELECT * FROM customers WHERE crm_id IS NULL ORDER BY customer_number")[0]
    count = systems.query("erp", "SELECT COUNT(*) AS n FROM customers")[0]["n"]
    account = new_account(systems, name=lonely["name"], email=f"  {lonely['email'].upper()} ")
    result = systems.run("crm_accounts_to_erp_customers")
    assert result.totals["inserted"] == 0 and result.totals["updated"] == 1
    assert systems.query("erp", "SELECT COUNT(*) AS n FROM customers")[0]["n"] == count
    assert (
        systems.query("erp", "SELECT crm_id FROM customers WHERE customer_number = :n", n=lonely["customer_number"])[0][
            "crm_id"
        ]
        == account
    )


def test_duplicate_accounts_are_flagged_and_nothing_else_is_blocked(systems):
    result = systems.run("crm_accounts_to_erp_customers")
    letters = runs.dead_letters(systems.store, run_id=result.run_id)
    assert letters and all(d.reason.startswith("duplicate account") for d in letters)
    written = systems.query("erp", "SELECT COUNT(*) AS n FROM customers WHERE crm_id IS NOT NULL")[0]["n"]
    approved = systems.query("crm", "SELECT COUNT(*) AS n FROM accounts WHERE credit_status = 'approved'")[0]["n"]
    assert written + len(letters) == approved


def test_won_deals_become_orders_pointing_at_the_erp_customer_number(systems):
    systems.run("crm_accounts_to_erp_customers")
    result = systems.run("crm_won_deals_to_erp_orders")
    assert result.totals["inserted"] > 50
    orders = systems.query(
        "erp",
        "SELECT o.order_number, o.customer_number, o.crm_opportunity_id, c.crm_id "
        "FROM sales_orders o JOIN customers c ON c.customer_number = o.customer_number "
        "WHERE o.crm_opportunity_id IS NOT NULL",
    )
    deals = {d["id"]: d for d in systems.query("crm", "SELECT id, account_id FROM opportunities")}
    for order in orders:
        assert order["crm_id"] == deals[order["crm_opportunity_id"]]["account_id"]
    lines = systems.query(
        "erp",
        "SELECT COUNT(*) AS n FROM sales_order_lines l JOIN sales_orders o "
        "ON o.order_number = l.order_number WHERE o.crm_opportunity_id IS NOT NULL",
    )[0]["n"]
    crm_lines = systems.query(
        "crm",
        "SELECT COUNT(*) AS n FROM opportunity_lines WHERE opportunity_id IN "
        f"({','.join(str(o['crm_opportunity_id']) for o in orders)})",
    )[0]["n"]
    assert lines == crm_lines
    again = systems.run("crm_won_deals_to_erp_orders", full_resync=True)
    assert again.totals["inserted"] == 0 and again.totals["updated"] == 0


def test_a_deactivated_account_deactivates_its_customer(systems):
    systems.run("crm_accounts_to_erp_customers")
    pair = systems.query(
        "erp",
        "SELECT customer_number, crm_id FROM customers WHERE crm_id IS NOT NULL AND is_active = 1 "
        "ORDER BY customer_number",
    )[3]
    systems.execute(
        "crm", "UPDATE accounts SET is_active = 0, updated_at = :t WHERE id = :id", t=systems.later(), id=pair["crm_id"]
    )
    systems.run("crm_accounts_to_erp_customers")
    assert (
        systems.query("erp", "SELECT is_active FROM customers WHERE customer_number = :n", n=pair["customer_number"])[
            0
        ]["is_active"]
        == 0
    )


def test_a_deleted_account_deactivates_its_customer_when_the_flow_says_so(systems):
    document = json.loads((FLOWS / "crm_accounts_to_erp_customers.json").read_text())
    document["nodes"][-1]["config"]["sync"]["deletions"] = {"table": "accounts", "key": "id", "set": {"is_active": 0}}
    run_flow(systems.store, document)
    pair = systems.query(
        "erp",
        "SELECT customer_number, crm_id FROM customers WHERE crm_id IS NOT NULL AND is_active = 1 "
        "ORDER BY customer_number",
    )[4]
    for table in (
        "opportunity_lines WHERE opportunity_id IN (SELECT id FROM opportunities WHERE account_id = :id)",
        "opportunities WHERE account_id = :id",
        "contacts WHERE account_id = :id",
        "invoices WHERE account_id = :id",
        "accounts WHERE id = :id",
    ):
        systems.execute("crm", f"DELETE FROM {table}", id=pair["crm_id"])
    result = run_flow(systems.store, document)
    assert result.ledger.summary()["customers"]["deactivated"] == 1
    customer = systems.query(
        "erp", "SELECT is_active FROM customers WHERE customer_number = :n", n=pair["customer_number"]
    )
    assert customer == [{"is_active": 0}]  # deactivated, not deleted
    again = run_flow(systems.store, document)
    assert "deactivated" not in again.ledger.summary()["customers"]


def test_an_erp_edit_of_a_crm_owned_field_is_not_sent_back_and_is_corrected_by_the_next_sync(systems):
    systems.run("crm_accounts_to_erp_customers")
    systems.run("erp_customers_to_crm_accounts")
    pair = systems.query(
        "erp", "SELECT customer_number, crm_id, name FROM customers WHERE crm_id IS NOT NULL ORDER BY customer_number"
    )[5]
    systems.execute(
        "erp",
        "UPDATE customers SET name = 'Renamed In ERP', updated_at = :t WHERE customer_number = :n",
        t=systems.later(),
        n=pair["customer_number"],
    )
    systems.run("erp_customers_to_crm_accounts")
    assert (
        systems.query("crm", "SELECT name FROM accounts WHERE id = :id", id=pair["crm_id"])[0]["name"].strip()
        == pair["name"]
    )  # the CRM owns names
    systems.execute(
        "crm",
        "UPDATE accounts SET phone = '555-0199', updated_at = :t WHERE id = :id",
        t=systems.later(),
        id=pair["crm_id"],
    )
    systems.run("crm_accounts_to_erp_customers")
    assert systems.query(
        "erp", "SELECT name, phone FROM customers WHERE customer_number = :n", n=pair["customer_number"]
    ) == [{"name": pair["name"], "phone": "555-0199"}]


def test_a_missing_field_an_unknown_product_and_a_duplicate_each_wait_with_their_reason(systems):
    approved = systems.query("crm", "SELECT id FROM accounts WHERE credit_status = 'approved' ORDER BY id")
    nameless = approved[7]["id"]
    systems.execute("crm", "UPDATE accounts SET name = '  ' WHERE id = :id", id=nameless)
    accounts = systems.run("crm_accounts_to_erp_customers")
    reasons = {
        d.record["crm_id"] if "crm_id" in d.record else d.record["id"]: d.reason
        for d in runs.dead_letters(systems.store, run_id=accounts.run_id)
    }
    assert reasons.pop(nameless).startswith("required field(s) name empty")
    assert reasons and all(r.startswith("duplicate account") for r in reasons.values())

    deal = systems.query(
        "crm",
        "SELECT o.id FROM opportunities o JOIN accounts a ON a.id = o.account_id "
        "WHERE o.stage = 'won' AND o.amount >= 1000 AND a.credit_status = 'approved' "
        "AND a.id <> :id ORDER BY o.id",
        id=nameless,
    )[0]["id"]
    systems.execute("crm", "UPDATE opportunity_lines SET sku = 'SKU-GONE' WHERE opportunity_id = :id", id=deal)
    orders = systems.run("crm_won_deals_to_erp_orders")
    letters = {d.record["id"]: d.reason for d in runs.dead_letters(systems.store, run_id=orders.run_id)}
    assert "no row in erp.products with sku='SKU-GONE'" in letters[deal]
    assert orders.totals["inserted"] > 50  # nothing else was blocked
    written = systems.query("erp", "SELECT COUNT(*) AS n FROM sales_orders WHERE crm_opportunity_id IS NOT NULL")[0][
        "n"
    ]
    assert written == orders.totals["inserted"]
    read = orders.totals["read"]
    assert read == orders.totals["filtered"] + orders.totals["inserted"] + orders.totals["failed"]  # nothing lost
