"""Two-way sync through APIs: the HTTP customer flows against the sandbox CRM and ERP APIs, with the
same sync section as the SQL flows (links, ownership, known values, conflicts, match, no echo)."""

from __future__ import annotations

import copy

from app.engine.validation import validate_document
from app.services.runs import run_flow
from app.store import flows, sync
from tests.clock import later
from tests.http.support import client, execute, rows

FORWARD, REVERSE = "crm_accounts_to_erp_customers_http", "erp_customers_to_crm_accounts_http"


def run(store, flow_id: str, document: dict | None = None, **options):
    stored, version = flows.get_document(store, flow_id)
    return run_flow(store, document or stored, version=None if document else version, **options)


def writes(sandbox, system: str) -> int:
    methods = sandbox.faults[system].methods
    return sum(methods.get(m, 0) for m in ("POST", "PUT", "PATCH"))


def newest(sandbox, system: str, table: str) -> str:
    return rows(sandbox, system, f"SELECT MAX(updated_at) AS t FROM {table}")[0]["t"]


def linked_pair(sandbox, n: int = 0) -> dict:
    return rows(
        sandbox,
        "erp",
        "SELECT customer_number, crm_id FROM customers WHERE crm_id IS NOT NULL ORDER BY customer_number",
    )[n]


def test_the_reverse_flow_never_overwrites_a_newer_crm_edit(api_store, sandbox):
    run(api_store, FORWARD)
    run(api_store, REVERSE)
    pair = linked_pair(sandbox, 1)
    # The ERP changes the street first, the CRM later; the reverse flow runs before the forward one.
    erp_time = later(newest(sandbox, "erp", "customers"), newest(sandbox, "crm", "accounts"))
    execute(
        sandbox,
        "erp",
        "UPDATE customers SET street = 'ERP Street', updated_at = ? WHERE customer_number = ?",
        erp_time,
        pair["customer_number"],
    )
    execute(
        sandbox,
        "crm",
        "UPDATE accounts SET street = 'CRM Street', updated_at = ? WHERE id = ?",
        later(erp_time),
        pair["crm_id"],
    )
    rehearsed = run(api_store, REVERSE, dry_run=True)
    assert rehearsed.totals["updated"] == 0  # the dry run no longer shows an overwrite
    back = run(api_store, REVERSE)
    assert back.totals["updated"] == 0
    assert rows(sandbox, "crm", "SELECT street FROM accounts WHERE id = ?", pair["crm_id"])[0]["street"] == "CRM Street"
    forth = run(api_store, FORWARD)
    assert forth.totals["updated"] == 1
    erp = rows(sandbox, "erp", "SELECT street FROM customers WHERE customer_number = ?", pair["customer_number"])
    assert erp[0]["street"] == "CRM Street"  # both systems end with the newer change


def test_an_erp_address_change_reaches_the_crm_names_stay_and_nothing_echoes(api_store, sandbox):
    run(api_store, FORWARD)
    first = run(api_store, REVERSE)
    assert first.error is None and first.totals["updated"] > 0  # the ERP's credit terms reach the CRM
    pair = linked_pair(sandbox)
    execute(
        sandbox,
        "erp",
        "UPDATE customers SET street = '99 Harbor Rd', credit_limit = 12345, name = 'ERP Rename', "
        "updated_at = ? WHERE customer_number = ?",
        later(newest(sandbox, "erp", "customers")),
        pair["customer_number"],
    )
    result = run(api_store, REVERSE)
    assert result.totals["updated"] == 1
    [account] = rows(sandbox, "crm", "SELECT * FROM accounts WHERE id = ?", pair["crm_id"])
    assert (account["street"], account["credit_limit"]) == ("99 Harbor Rd", 12345)
    assert account["name"] != "ERP Rename"  # the CRM owns names
    dirty = rows(sandbox, "crm", "SELECT COUNT(*) AS n FROM accounts WHERE state IN ('ca', 'CA', ' California ')")
    assert dirty[0]["n"] > 0  # the CRM's own spellings were not "corrected" by an echo of the ERP's
    # Settled: each flow once more, and neither system is written at all.
    run(api_store, FORWARD)  # takes the ERP's rename back to the CRM's name
    calls = writes(sandbox, "crm"), writes(sandbox, "erp")
    for flow_id in (REVERSE, FORWARD, REVERSE):
        again = run(api_store, flow_id)
        assert again.totals["updated"] == again.totals["inserted"] == 0, flow_id
    assert (writes(sandbox, "crm"), writes(sandbox, "erp")) == calls


def test_a_conflict_through_the_api_can_be_held_for_review_with_both_values(api_store, sandbox):
    document, _ = flows.get_document(api_store, FORWARD)
    document = copy.deepcopy(document)
    [write] = [n for n in document["nodes"] if n["type"] == "write.http"]
    write["config"]["sync"]["on_conflict"] = "review"
    run(api_store, FORWARD, document)
    before = {c.id for c in sync.open_conflicts(api_store, "sandbox")}
    pair = linked_pair(sandbox, 2)
    execute(sandbox, "erp", "UPDATE customers SET city = 'Erpville' WHERE customer_number = ?", pair["customer_number"])
    execute(
        sandbox,
        "crm",
        "UPDATE accounts SET city = 'Crmtown', updated_at = ? WHERE id = ?",
        later(newest(sandbox, "crm", "accounts")),
        pair["crm_id"],
    )
    run(api_store, FORWARD, document)
    conflicts = [c for c in sync.open_conflicts(api_store, "sandbox") if c.id not in before]
    assert [(c.field, c.source_value, c.target_value, c.target_system) for c in conflicts] == [
        ("city", "Crmtown", "Erpville", "erp_api")
    ]
    erp = rows(sandbox, "erp", "SELECT city FROM customers WHERE customer_number = ?", pair["customer_number"])
    assert erp[0]["city"] == "Erpville"  # held, not overwritten


def test_an_erp_customer_made_before_is_found_by_email_and_linked_not_created_again(api_store, sandbox):
    run(api_store, FORWARD)
    lonely = rows(
        sandbox, "erp", "SELECT * FROM customers WHERE crm_id IS NULL AND email IS NOT NULL ORDER BY customer_number"
    )[0]
    count = rows(sandbox, "erp", "SELECT COUNT(*) AS n FROM customers")[0]["n"]
    with client(sandbox, "crm") as crm:
        account = crm.post(
            "/accounts",
            json={
                "name": lonely["name"],
                "email": f"  {lonely['email'].upper()} ",
                "state": "TX",
                "credit_status": "approved",
                "created_at": later(),
            },
        ).json()
    result = run(api_store, FORWARD)
    assert result.totals["inserted"] == 0 and result.totals["updated"] == 1
    assert rows(sandbox, "erp", "SELECT COUNT(*) AS n FROM customers")[0]["n"] == count
    assert (
        rows(sandbox, "erp", "SELECT crm_id FROM customers WHERE customer_number = ?", lonely["customer_number"])[0][
            "crm_id"
        ]
        == account["id"]
    )
    link = sync.links_for(api_store, "sandbox", "account", "crm_api", [str(account["id"])], "erp_api")
    assert link[str(account["id"])].other_id == str(lonely["customer_number"])


def test_a_sync_through_an_api_says_what_it_needs_in_the_flow(api_store):
    document, _ = flows.get_document(api_store, FORWARD)
    document = copy.deepcopy(document)
    [write] = [n for n in document["nodes"] if n["type"] == "write.http"]
    write["config"]["update"]["path"] = "/customers/{crm_id}"
    write["config"]["link"] = {"entity": "account", "source": "crm_api", "source_id": "crm_id"}
    del write["config"]["id_field"], write["config"]["sync"]["target_id"]
    problems = [str(p) for p in validate_document(document)]
    assert any("customers" in p and "id_field" in p and "two-way sync needs id_field" in p for p in problems), problems
    write["config"]["id_field"] = "customer_number"
    problems = [str(p) for p in validate_document(document)]
    assert any("update.path" in p and "use only {customer_number} here, not crm_id" in p for p in problems), problems
    assert any("keeps its links itself" in p for p in problems), problems
