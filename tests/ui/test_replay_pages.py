"""A tester replays a run in the sandbox and reads the comparison; saves runs as test cases, runs a flow's
tests before and after an edit, deletes a case; and roles decide who may do any of it, on the server."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui
from nicegui.testing.user import User

from app.services import access
from app.services.runs import RunResult, run_flow
from app.store import flows as flow_store
from app.store import runs as run_store
from app.store.database import Store
from app.ui import session

FLOW = "erp_stock_to_crm_products"
WAIT = 300  # should_see attempts, 0.1 s apart: a replay or a test run happens in a worker thread


def production_run(store: Store) -> RunResult:
    document, version = flow_store.get_document(store, FLOW)
    return run_flow(store, document, version=version, env="production", started_by="scheduler")


def edit_map(store: Store, field: str, expression: str) -> int:
    """Save a new version of the flow with one field of its map changed."""
    document, version = flow_store.get_document(store, FLOW)
    next(n for n in document["nodes"] if n["id"] == "to_crm_product")["config"]["fields"][field] = expression
    return flow_store.save_flow(store, document, author="ana", comment=f"{field} changed", based_on=version)


def table(user: User, css: str) -> ui.table:
    return next(t for t in user.find(ui.table).elements if css in t.classes)


def cell(user: User, node: str, metric: str, side: str) -> ui.element:
    [row] = [e for e in user.find(ui.element).elements if e.tag == "tr" and e.props.get("data-node-id") == node]
    [found] = [
        e
        for e in row.descendants()
        if e.tag == "td" and f"fb-cmp-{metric}" in e.classes and f"fb-cmp-{side}" in e.classes
    ]
    return found


def text_of(element: ui.element) -> str:
    return " ".join(e.text for e in element.descendants() if isinstance(e, ui.label))


async def until(condition: Any, what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")


async def test_a_replay_with_the_edited_flow_shows_both_runs_their_counts_and_the_changed_field(
    user: User, store: Store
) -> None:
    original = production_run(store)
    edit_map(store, "name", "{{ record.name | upper }}")
    await user.open(f"/runs/{original.run_id}")
    user.find(marker="replay").click()
    await user.should_see("The version it ran (v1)")
    await user.should_see("The current version (v2)")
    user.find(marker="replay-version").elements.pop().set_value("current")
    user.find(marker="replay-start").click()
    await until(lambda: "/compare/" in user.back_history[-1], "the comparison page")
    replay_id = user.back_history[-1].rsplit("/", 1)[1]
    replayed = run_store.get_run(store, replay_id)
    assert (replayed.env, replayed.flow_version, replayed.trigger) == ("sandbox", 2, "replay")

    for _ in range(2):  # the page is read from the store: a reload shows the same
        await user.should_see(original.run_id, retries=WAIT)
        await user.should_see(replay_id)
        await user.should_see("flow version v1")
        await user.should_see("flow version v2 (the current version)")
        await user.should_see("50 target records differ: 50 written differently.")
        written = run_store.run_ledger(store, original.run_id)["crm_products"]["in"]
        assert text_of(cell(user, "crm_products", "in", "original")) == str(written)
        assert text_of(cell(user, "crm_products", "in", "replay")) == str(written)
        assert "fb-cmp-differs" not in cell(user, "crm_products", "in", "replay").classes
        rows = table(user, "fb-compare-records").rows
        assert {r["field"] for r in rows} == {"name"} and len(rows) == 50
        first = rows[0]
        assert first["node"] == "crm_products" and first["after"] == first["before"].upper() != first["before"]
        await user.open(f"/runs/{original.run_id}/compare/{replay_id}")


async def test_replaying_with_the_version_it_ran_gives_the_same_result(user: User, store: Store) -> None:
    original = production_run(store)
    edit_map(store, "name", "{{ record.name | upper }}")
    await user.open(f"/runs/{original.run_id}")
    user.find(marker="replay").click()
    user.find(marker="replay-start").click()  # the version it ran is chosen first
    await user.should_see("Same result", retries=WAIT)
    await user.should_see("Written records that differ (0)")


async def test_a_run_that_kept_no_input_says_so_instead_of_replaying(user: User, store: Store) -> None:
    document, version = flow_store.get_document(store, FLOW)
    dry = run_flow(store, document, version=version, dry_run=True)  # a dry run keeps no records
    await user.open(f"/runs/{dry.run_id}")
    user.find(marker="replay").click()
    await user.should_see(f"run {dry.run_id} kept no input records, so there is nothing to replay")
    await user.should_not_see("The version it ran")
    user.find(marker="save-case").click()
    await user.should_see("nothing to make a test case of")
    assert [r.trigger for r in run_store.list_runs(store, flow_id=FLOW)] == ["manual"]  # nothing replayed


async def test_a_saved_case_passes_fails_after_an_edit_showing_the_field_and_can_be_deleted(
    user: User, store: Store
) -> None:
    original = production_run(store)
    await user.open(f"/flows/{FLOW}/tests")
    await user.should_see("No test cases yet.")
    await user.should_see("Save as test case")  # the empty state says how to make one

    await user.open(f"/runs/{original.run_id}")
    user.find(marker="save-case").click()
    user.find(marker="case-name").type("stock as of today")
    user.find(marker="case-save").click()
    await user.should_see("Saved test case 'stock as of today'")
    user.find(marker="tests-link").click()
    await user.should_see("stock as of today", retries=WAIT)
    await user.should_see(original.run_id)
    await user.should_see("60 input records")
    await user.should_see("50 expected writes")
    await user.should_see("not run")

    user.find(marker="run-tests").click()
    await user.should_see("1 of 1 test passed on version v1.", retries=WAIT)
    await user.should_see("passed")

    edit_map(store, "list_price", "{{ record.unit_price * 2 }}")
    await user.open(f"/flows/{FLOW}/tests")
    user.find(marker="run-tests").click()
    await user.should_see("1 of 1 test failed on version v2.", retries=WAIT)
    rows = table(user, "fb-case-differences").rows
    assert rows and {r["field"] for r in rows} == {"list_price"}
    assert all(float(r["after"]) == 2 * float(r["before"]) for r in rows)

    user.find(marker="case-delete").click()
    await user.should_see("Delete the test case 'stock as of today'?")
    user.find(marker="delete-case-confirm").click()
    await user.should_see("No test cases yet.")
    from app.services import replay

    assert replay.list_cases(store, FLOW) == []


async def sign_in(user: User, name: str, token: str) -> None:
    await user.open("/sign-in")
    user.find(marker="sign-in-name").type(name)
    user.find(marker="sign-in-token").type(token)
    user.find(marker="sign-in-submit").click()
    await user.should_see(f"Signed in as {name}")
    await user.should_see(f"{name} · ", retries=30)  # the sign-in's own page has given the browser its cookie


def _enabled(user: User, marker: str) -> bool:
    return user.find(marker=marker).elements.pop().enabled


async def test_a_viewer_may_not_replay_or_save_cases_and_a_changed_role_is_refused_on_the_server(
    user: User, store: Store
) -> None:
    original = production_run(store)
    viewer = access.add_user(store, "vic", "viewer")
    tester = access.add_user(store, "tess", "tester")
    session.forget_open_state()
    try:
        await sign_in(user, "vic", viewer)
        await user.open(f"/runs/{original.run_id}")
        assert not _enabled(user, "replay") and not _enabled(user, "save-case")

        await sign_in(user, "tess", tester)
        await user.open(f"/runs/{original.run_id}")
        assert _enabled(user, "replay") and _enabled(user, "save-case")
        access.add_user(store, "tess", "viewer")  # her role changes while the page is open
        user.find(marker="replay").click()
        await user.should_see("tess (viewer) may not replay")
        user.find(marker="save-case").click()
        await user.should_see("tess (viewer) may not replay")
        await user.should_not_see("The version it ran")
        assert [r.trigger for r in run_store.list_runs(store, flow_id=FLOW)] == ["manual"]
    finally:
        session.forget_open_state()


async def test_a_tester_saves_a_case_under_her_own_name(user: User, store: Store) -> None:
    original = production_run(store)
    tester = access.add_user(store, "tess", "tester")
    session.forget_open_state()
    try:
        await sign_in(user, "tess", tester)
        await user.open(f"/runs/{original.run_id}")
        user.find(marker="save-case").click()
        user.find(marker="case-name").type("baseline")
        user.find(marker="case-save").click()
        await user.should_see("Saved test case 'baseline'")
        from app.services import replay

        [case] = replay.list_cases(store, FLOW)
        assert (case.name, case.created_by, case.from_run) == ("baseline", "tess", original.run_id)
    finally:
        session.forget_open_state()
