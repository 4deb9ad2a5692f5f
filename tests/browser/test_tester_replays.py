"""A tester replays a production run in the sandbox against the current version of its flow, reads the
comparison, saves the run as a test case, and runs the flow's tests on its Tests page."""

from __future__ import annotations

import copy
from typing import Any

from app.services import replay
from app.services.access import admin
from app.services.runs import run_flow
from app.store import flows as flow_store
from app.store import runs as run_store
from tests.browser.support import Page

SHOTS = "replay"  # screenshots: artifacts/browser/replay-NN-step.png
FLOW = "erp_stock_to_crm_products"


def _pause(page: Page, ms: int = 400) -> None:
    page.d.execute_script(f"return new Promise(done => setTimeout(done, {ms}))")  # a dialog or notification slides in


def test_a_tester_replays_a_run_against_the_current_version_saves_it_as_a_case_and_runs_the_tests(
    page: Page, served: dict[str, Any]
) -> None:
    store = served["store"]
    document, ran = flow_store.get_document(store, FLOW)
    original = run_flow(store, document, version=ran, env="production", started_by="scheduler")
    # A newer version that writes the same: the replay against it must match the run.
    current = flow_store.save_flow(store, document, author="ana", comment="description only", based_on=ran)

    page.open(f"/runs/{original.run_id}")
    page.wait(lambda: page.find(".fb-replay").is_displayed(), "the replay button")
    page.shot("run")

    page.click(".fb-replay")
    options = page.wait(lambda: page.all(".fb-replay-version .q-radio"), "the version choices")
    labels = [o.get_attribute("aria-label") for o in options]
    # Other browser tests may have saved earlier versions of this flow: those are "another stored version".
    older = ["Another stored version"] if ran > 1 else []
    assert labels == [f"The version it ran (v{ran})", f"The current version (v{current})", *older]
    # The dialog fades in: a click before it has may be lost, so click until the choice is taken.
    page.wait(
        lambda: options[1].click() or options[1].get_attribute("aria-checked") == "true",
        "choosing the current version",
        timeout=5,
    )
    _pause(page)
    page.shot("replay-dialog")
    page.feedback(
        lambda: page.click(".fb-replay-start", retry=False),
        "document.querySelector('.fb-busy')",
        "the replay's spinner",
    )
    page.wait(lambda: "/compare/" in page.d.current_url, "the comparison page", timeout=60)
    replay_id = page.d.current_url.rsplit("/", 1)[1]
    page.wait(lambda: page.all(".fb-verdict-same"), "the verdict")
    assert page.text(".fb-compare-original .fb-compare-id") == original.run_id
    assert page.text(".fb-compare-replay .fb-compare-id") == replay_id
    assert page.text(".fb-compare-original .fb-compare-env") == "production"
    assert page.text(".fb-compare-replay .fb-compare-env") == "sandbox"
    assert page.text(".fb-compare-replay .fb-compare-version") == f"flow version v{current} (the current version)"
    written = run_store.run_ledger(store, original.run_id)["crm_products"]["in"]
    counts = page.find('.fb-compare-counts tr[data-node-id="crm_products"]')
    assert [c.text for c in counts.find_elements(page.By.CSS_SELECTOR, "td.fb-cmp-in")] == [str(written)] * 2
    assert not page.all(".fb-cmp-differs")
    page.shot("comparison")

    page.click(".fb-save-case")
    page.type_into(".fb-case-name input", "stock as the scheduler saw it")
    _pause(page)
    page.shot("save-case")
    page.click(".fb-case-save", retry=False)
    page.wait_notification("Saved test case 'stock as the scheduler saw it'")
    [case] = [c for c in replay.list_cases(store, FLOW) if c.name == "stock as the scheduler saw it"]
    assert case.from_run == original.run_id

    page.click(".fb-tests-link", retry=False)
    page.wait(lambda: page.d.current_url.endswith(f"/flows/{FLOW}/tests"), "the Tests page")
    card = f'.fb-case[data-case-id="{case.id}"]'
    page.wait(lambda: "not run" in page.text(f"{card} .fb-case-result"), "the case, not run yet")
    page.shot("tests")
    page.feedback(
        lambda: page.click(".fb-run-tests", retry=False), "document.querySelector('.fb-busy')", "Run all tests' spinner"
    )
    page.wait(lambda: page.text(f"{card} .fb-case-result") == "passed", "the case's result", timeout=60)
    page.wait(lambda: not page.all(".fb-busy"), "the spinner to go")
    assert "passed" in page.text(".fb-tests-summary")
    _pause(page)
    page.shot("tests-passed")

    # An edit that doubles the prices: the case fails, naming the field, old and new value per record.
    edited = copy.deepcopy(document)
    next(n for n in edited["nodes"] if n["id"] == "to_crm_product")["config"]["fields"]["list_price"] = (
        "{{ record.unit_price * 2 }}"
    )
    doubled = flow_store.save_flow(store, edited, author="ana", comment="prices doubled", based_on=current)
    try:
        page.open(f"/flows/{FLOW}/tests")
        page.wait(lambda: page.all(card), "the case")
        page.feedback(
            lambda: page.click(".fb-run-tests", retry=False),
            "document.querySelector('.fb-busy')",
            "Run all tests' spinner, again",
        )
        page.wait(lambda: page.text(f"{card} .fb-case-result") == "failed", "the case to fail", timeout=60)
        assert f"1 of 1 test failed on version v{doubled}" in page.text(".fb-tests-summary")
        fields = {c.text for c in page.all(f"{card} .fb-case-differences td:nth-child(4)")}
        assert fields == {"list_price"}, fields
        page.wait(lambda: not page.all(".fb-busy"), "the spinner to go")
        _pause(page)
        page.shot("tests-failed")

        # The same edit seen on a replay's comparison: the field per record, the original's value beside the replay's.
        report = replay.replay(store, original.run_id, flow_version="current", who=admin("tess"))
        page.open(f"/runs/{original.run_id}/compare/{report['replay']['run_id']}")
        page.wait(lambda: page.all(".fb-compare-records td"), "the differing records")
        assert "50 target records differ" in page.text(".fb-verdict")
        page.d.execute_script("document.querySelector('.fb-compare-counts').scrollIntoView({block: 'start'})")
        page.shot("comparison-differs")
    finally:
        flow_store.save_flow(store, document, author="ana", comment="prices as before")  # for any later test
