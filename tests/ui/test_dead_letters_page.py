"""The Dead letters page: open failed records by flow and reason; inspect, edit and retry one; retry all
of a reason; discard; each asks who, and the resolved ones show who and when."""

from __future__ import annotations

import json

import pytest
from nicegui import ui
from nicegui.testing.user import User

from app.services import dead_letters, operations, switches
from app.store import runs as run_store
from app.store.database import Store

ACCOUNTS = "crm_accounts_to_erp_customers"
DEALS = "crm_won_deals_to_erp_orders"


@pytest.fixture
def failed(store: Store) -> Store:
    """Both flows ran in the sandbox: duplicate accounts and deals without an ERP customer failed."""
    for flow_id in (ACCOUNTS, DEALS):
        operations.start_stored_flow(store, flow_id, trigger="manual", env="sandbox", who="Ada")
    return store


def _a_duplicate(store: Store):
    return next(le for le in run_store.dead_letters(store, flow_id=ACCOUNTS) if "both have name" in le.reason)


async def _confirm_as(user: User, name: str) -> None:
    await user.should_see(marker="who-name")
    field = user.find(marker="who-name").elements.pop()
    field.set_value(name)
    user.find(marker="who-confirm").click()


async def test_open_records_are_grouped_by_flow_and_reason_with_counts(user: User, failed: Store) -> None:
    groups = dead_letters.reasons(failed)
    deals = next(g for g in groups if g["flow_id"] == DEALS)
    await user.open("/dead-letters")
    total = sum(g["count"] for g in groups)
    await user.should_see(f"{total} open records in {len(groups)} reasons")
    await user.should_see(deals["reason"])
    await user.should_see(f"Retry all {deals['count']}")
    await user.should_see(_a_duplicate(failed).reason)
    # A link can show one flow only.
    await user.open(f"/dead-letters?flow={DEALS}")
    await user.should_see(f"{deals['count']} open records in 1 reason")
    await user.should_not_see(_a_duplicate(failed).reason)


async def test_an_edited_record_is_checked_then_retried_as_someone_and_the_run_is_named(
    user: User, failed: Store
) -> None:
    letter = _a_duplicate(failed)
    await user.open(f"/dead-letters?flow={ACCOUNTS}")
    user.find(marker=f"inspect-{letter.id}").click()
    await user.should_see(f"Dead letter #{letter.id}")
    await user.should_see(letter.reason)
    editor = user.find(marker="letter-json").elements.pop()
    assert json.loads(editor.value) == letter.record
    editor.set_value('{"name": "Broken",}')
    await user.should_see("Line 1, column 19: Expecting property name enclosed in double quotes")
    assert not user.find(marker="letter-retry").elements.pop().enabled
    editor.set_value("[1, 2]")
    await user.should_see("A record is a JSON object")
    # A different business after all: its own e-mail and postcode.
    edited = {**letter.record, "email": f"accounts{letter.id}@example.org", "postcode": "00001"}
    editor.set_value(json.dumps(edited, indent=2))
    await user.should_see("Valid JSON, edited")
    user.find(marker="letter-retry").click()
    await user.should_see("as edited?")
    await _confirm_as(user, "Grace")
    await user.should_see("Retried the edited record: run", retries=50)
    [retry_run] = run_store.list_runs(failed, trigger="retry")
    await user.should_see(f"run {retry_run.id} succeeded (1 inserted)")
    assert (retry_run.started_by, retry_run.env) == ("Grace", "sandbox")
    stored = dead_letters.get_letter(failed, letter.id)
    assert (stored.status, stored.resolved_by) == ("retried", "Grace") and stored.resolved_at is not None
    await user.should_not_see(marker=f"inspect-{letter.id}")  # no longer open


async def test_all_records_of_one_reason_are_retried_and_those_failing_again_are_said(
    user: User, failed: Store
) -> None:
    group = next(g for g in dead_letters.reasons(failed) if g["flow_id"] == DEALS)
    await user.open(f"/dead-letters?flow={DEALS}")
    user.find(marker=f"retry-all-{DEALS}.{group['node_id']}.0").click()
    await user.should_see(f"Retry all {group['count']} records of this reason?")
    await _confirm_as(user, "Ada")
    await user.should_see(f"Retried {group['count']} records: run", retries=50)
    # The deals' accounts still have no ERP customer: they fail again, as new dead letters of the retry run.
    await user.should_see(f"{group['count']} failed again and are listed as new dead letters")
    [retry_run] = run_store.list_runs(failed, trigger="retry")
    assert run_store.count_dead_letters(failed, retry_run.id) == group["count"]
    assert {
        le.status for le in run_store.dead_letters(failed, flow_id=DEALS, status=None) if le.run_id != retry_run.id
    } == {"retried"}


async def test_a_discard_is_recorded_and_listed_as_resolved_with_who_and_when(user: User, failed: Store) -> None:
    letter = _a_duplicate(failed)
    await user.open(f"/dead-letters?flow={ACCOUNTS}")
    user.find(marker=f"inspect-{letter.id}").click()
    user.find(marker="letter-discard").click()
    await user.should_see("Discard this record?")
    await _confirm_as(user, "Grace")
    await user.should_see("Discarded 1 record as Grace")
    assert dead_letters.get_letter(failed, letter.id).status == "discarded"
    await user.open(f"/dead-letters?flow={ACCOUNTS}&show=resolved")
    table = next(t for t in user.find(ui.table).elements if "fb-resolved-table" in t.classes)
    assert [(r["id"], r["status"], r["who"], r["run"]) for r in table.rows] == [
        (letter.id, "discarded", "Grace", letter.run_id)
    ]
    assert table.rows[0]["resolved"].startswith("20")


async def test_the_name_given_once_is_asked_no_more_and_used_by_the_flows_page(user: User, failed: Store) -> None:
    letter = _a_duplicate(failed)
    await user.open("/dead-letters")
    user.find(marker=f"inspect-{letter.id}").click()
    user.find(marker="letter-discard").click()
    await _confirm_as(user, "Grace")
    await user.should_see("Discarded 1 record as Grace")
    await user.open("/dead-letters")
    other = next(le for le in run_store.dead_letters(failed, flow_id=ACCOUNTS) if le.id != letter.id)
    user.find(marker=f"inspect-{other.id}").click()
    user.find(marker="letter-discard").click()
    await user.should_see(marker="who-name")
    assert user.find(marker="who-name").elements.pop().value == "Grace"
    await user.open("/")
    user.find(marker=f"switch-{ACCOUNTS}").click()
    await user.should_see(marker="switch-confirm")
    user.find(marker="switch-confirm").click()
    await user.should_see("is switched on", retries=50)  # switched in a worker thread
    assert switches.history(failed, ACCOUNTS)[0].who == "Grace"


async def test_without_open_records_the_page_says_so(user: User) -> None:
    await user.open("/dead-letters")
    await user.should_see("No open dead letters: every failed record was retried or discarded.")
