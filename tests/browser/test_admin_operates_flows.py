"""An admin switches a flow on, runs it, reads the run's graph with its counts, fixes a failed record and
retries it, and looks at the health of the flows.

(Named to run first: the other browser tests write to the same sandbox ERP, which would leave this
flow's duplicate accounts nothing to fail on.)
"""

from __future__ import annotations

import re
from typing import Any

from app.services.dead_letters import reason_kind
from app.store import runs as run_store
from tests.browser.support import Page

SHOTS = "operate"  # screenshots: artifacts/browser/operate-NN-step.png
FLOW = "crm_accounts_to_erp_customers"
ROW = f'.fb-flow-row[data-flow-id="{FLOW}"]'


def _append_to_field(page: Page, field: str, suffix: str) -> None:
    """Click the record's top-level line of `field` in the JSON editor and add `suffix` to its text value."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    line = next(e for e in page.all(".fb-letter-dialog .cm-line") if e.text.strip().startswith(f'"{field}":'))
    # A click at the line's place, not on its element: CodeMirror may redraw the line (as the
    # active one) between finding it and clicking, and the redrawn one takes the click.
    ActionChains(page.d).move_to_element(line).click().send_keys(Keys.END, Keys.LEFT, Keys.LEFT, suffix).perform()


def test_an_admin_runs_a_flow_reads_the_run_retries_a_fixed_record_and_checks_health(
    page: Page, served: dict[str, Any]
) -> None:
    store = served["store"]
    page.open("/")
    page.wait(lambda: page.all(ROW), "the flows")
    page.shot("flows")

    # Switch it on: a spinner at once, then the next run from the scheduler of the served process.
    # Switched on only once confirmed, told where and when it will run.
    page.feedback(lambda: page.click(f"{ROW} .fb-switch"), "document.querySelector('.fb-busy')", "the switch")
    page.wait(lambda: page.all(".fb-switch-dialog"), "the switch's confirmation")
    assert "It will run in production, on the production systems: every 15 minutes, first 20" in page.text(
        ".fb-switch-dialog"
    )
    page.shot("switch-on-asked")
    page.click(".fb-switch-confirm")
    message = page.wait_notification("is switched on")
    assert "next run" in message
    page.wait(lambda: "next 20" in page.text(f"{ROW} .fb-next-run"), "the next run time in the row")
    assert "every 15 minutes" in page.text(f"{ROW} .fb-trigger")
    page.wait(lambda: not page.all(".fb-busy"), "the spinner to go")
    page.d.execute_script("return new Promise(done => setTimeout(done, 400))")  # the notification slides in
    page.shot("switched-on")

    # Run it now in the sandbox: a spinner at once, then the run named, then how it ended.
    page.feedback(lambda: page.click(f"{ROW} .fb-run-now"), "document.querySelector('.fb-busy')", "Run now's spinner")
    started = page.wait_notification("started in the sandbox")
    run_id = re.search(r"Run (\S+) of", started).group(1)
    ended = page.wait_notification(f"Run {run_id} of", timeout=60)
    page.wait(
        lambda: any(
            "partial" in n or "succeeded" in n for n in page.notifications() if run_id in n and "started" not in n
        ),
        "the run's outcome",
    )
    page.wait(lambda: not page.all(".fb-busy"), "the spinner to go")
    page.shot("ran")
    assert run_store.get_run(store, run_id).env == "sandbox", ended

    # The run's page: the graph with the records on each edge and the counts on the nodes.
    page.open(f"/runs/{run_id}")
    page.wait(lambda: len(page.all(".fb-run-canvas .vue-flow__node")) == 6, "the run's graph")
    labels = page.wait(
        lambda: [e.text for e in page.all(".fb-run-canvas .vue-flow__edge-text") if e.text], "the counts on the edges"
    )
    assert any(re.fullmatch(r"\d+ records?", label) for label in labels), labels
    ledger = run_store.run_ledger(store, run_id)
    assert f"{ledger['accounts']['out']['out']} records" in labels
    assert "failed" in page.text('.fb-run-canvas .vue-flow__node[data-id="customers"] .fb-node-counts')
    page.wait(lambda: page.text(".fb-run-env") == "sandbox", "the run's environment")
    page.feedback(
        lambda: page.find('.fb-run-canvas .vue-flow__node[data-id="approved"] .fb-node-name').click(),
        "document.querySelector('.fb-samples[data-node-id=\"approved\"]')",
        "the clicked node's records",
    )
    page.wait(lambda: "Out · match" in page.text(".fb-samples"), "the records out of the filter")
    page.d.execute_script("document.querySelector('.fb-run-canvas').scrollIntoView({block: 'start'})")
    page.shot("run-detail")

    # A failed record: inspect it, fix it in the JSON editor, retry it as Ada.
    letter = next(le for le in run_store.dead_letters(store, run_id=run_id) if "duplicate account" in le.reason)
    page.open(f"/dead-letters?flow={FLOW}")
    shown = reason_kind(letter.reason)  # the group shows the kind of reason when it holds several
    group = page.wait(
        lambda: next(g for g in page.all(".fb-letter-group") if letter.reason in g.text or shown in g.text),
        "the letter's reason",
    )
    page.shot("dead-letters")
    group.find_element(page.By.CSS_SELECTOR, ".q-expansion-item .q-item").click()
    inspect = f'.fb-letter[data-letter-id="{letter.id}"] .fb-inspect'
    page.wait(lambda: page.find(inspect).is_displayed(), "the letter in its group")
    page.feedback(
        lambda: page.click(inspect), "document.querySelector('.fb-busy, .fb-letter-dialog')", "opening the letter"
    )
    page.wait(lambda: page.all(".fb-letter-dialog .cm-line"), "the record in the JSON editor")
    page.shot("inspect")
    _append_to_field(page, "name", " (branch)")
    _append_to_field(page, "email", ".branch")
    _append_to_field(page, "postcode", "-1")
    page.wait(lambda: page.text(".fb-json-status") == "Valid JSON, edited", "the edit to be checked")
    page.shot("edited")
    page.click(".fb-retry")
    page.type_into(".fb-who-name input", "Ada")
    page.shot("who")
    page.feedback(lambda: page.click(".fb-who-confirm"), "document.querySelector('.fb-busy')", "the retry's spinner")
    message = page.wait_notification("Retried the edited record", timeout=60)
    assert re.search(r"run \S+ succeeded \(1 inserted\)", message), message
    page.wait(lambda: not page.all(".q-dialog"), "the dialogs to close")
    page.shot("retried")
    stored = run_store.dead_letters(store, run_id=run_id, status="retried")
    assert [(le.id, le.resolved_by) for le in stored] == [(letter.id, "Ada")]
    [retry_run] = [r for r in run_store.list_runs(store, flow_id=FLOW, trigger="retry")]
    assert retry_run.started_by == "Ada" and retry_run.id in message

    # The resolved list says who and when.
    page.open(f"/dead-letters?flow={FLOW}&show=resolved")
    page.wait(lambda: "Ada" in page.text(".fb-resolved-table"), "the resolved letter with who")
    page.shot("resolved")

    # Health: the charts of every flow that ran.
    page.open("/health")
    page.wait(lambda: page.all(f'.fb-health-flow[data-flow-id="{FLOW}"] canvas'), "the charts")
    page.wait(lambda: "last success" in page.text(f'.fb-health-flow[data-flow-id="{FLOW}"]'), "the lag")
    page.shot("health")

    # Off again: no schedule left behind for the other tests.
    page.open("/")
    page.wait(lambda: page.all(ROW), "the flows")
    page.feedback(lambda: page.click(f"{ROW} .fb-switch"), "document.querySelector('.fb-busy')", "switching off")
    page.wait(lambda: page.all(".fb-switch-reason"), "the reason asked for")
    page.type_into(".fb-switch-reason input", "the other tests need it off")
    page.shot("switch-off-asked")
    page.click(".fb-switch-confirm")
    page.wait_notification("is switched off")
    page.wait(lambda: page.text(f"{ROW} .fb-next-run").endswith("next —"), "no next run")
