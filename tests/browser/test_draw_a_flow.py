"""An analyst draws crm_accounts_to_erp_customers on an empty canvas, tests it, saves it and runs it."""

from __future__ import annotations

import sqlite3
from typing import Any

from tests.browser.support import Page

SHOTS = "draw"  # screenshots: artifacts/browser/draw-NN-step.png
FLOW_ID = "drawn_accounts_to_customers"
MAP_FIELDS = {
    "crm_id": "{{ record.id }}",
    "name": "{{ record.name | trim }}",
    "email": "{{ (record.email | trim | lower) or none }}",
    "city": "{{ record.city | trim }}",
}


def _fill_picker(page: Page, field: str, value: str) -> None:
    page.type_into(page.field(field), value, enter=True)


def test_an_analyst_draws_tests_saves_and_runs_the_accounts_flow(page: Page, served: dict[str, Any]) -> None:
    # A new flow from the Flows page.
    page.open("/")
    page.wait(lambda: page.all(".fb-flow-row"), "the demo's flows")
    page.shot("flows")
    page.click(".fb-new-flow")
    page.type_into(".fb-new-name input", "Accounts to customers, drawn")
    page.type_into(".fb-new-id input", FLOW_ID)
    page.shot("new-flow-dialog")
    page.click(".fb-create")
    page.wait(lambda: page.all(".fb-canvas .fb-empty-hint"), "the empty canvas")
    page.shot("empty-canvas")

    # Five nodes dragged from the palette, each appearing at once.
    placements = [
        ("trigger.schedule", 40, 60),
        ("read.sql", 290, 60),
        ("filter", 540, 60),
        ("map", 290, 300),
        ("write.sql", 540, 300),
    ]
    for count, (type_name, x, y) in enumerate(placements, start=1):
        page.feedback(
            lambda t=type_name, x=x, y=y: page.drag_node(t, x, y),
            f"document.querySelectorAll('.vue-flow__node').length === {count}",
            f"node {count} on the canvas",
            event="pointerup",
        )
    assert {e.get_attribute("data-id") for e in page.all(".vue-flow__node")} == {
        "trigger",
        "read",
        "filter",
        "map",
        "write",
    }
    page.shot("five-nodes")

    # Four edges, port to port; the filter's `match` port feeds the map.
    for count, (source, port, target) in enumerate(
        [("trigger", "out", "read"), ("read", "out", "filter"), ("filter", "match", "map"), ("map", "out", "write")],
        start=1,
    ):
        page.feedback(
            lambda s=source, p=port, t=target: page.connect(s, p, t),
            f"document.querySelectorAll('.vue-flow__edge').length === {count}",
            f"edge {count}",
            event="pointerup",
        )
    page.shot("four-edges")

    # The forms, built from each node type's schema.
    page.select_node("trigger")
    page.type_into(page.field("cron"), "*/15 * * * *")
    page.wait(lambda: page.node_problems("trigger") == "", "the schedule to be valid")
    page.shot("schedule-form")

    page.select_node("read")
    _fill_picker(page, "connection", "crm")
    _fill_picker(page, "table", "accounts")
    _fill_picker(page, "cursor", "updated_at")
    page.wait(lambda: page.node_problems("read") == "", "the read node to be valid")
    page.shot("read-form")

    # A validation error appears on the node while the condition is wrong, and goes when it is right.
    page.select_node("filter")
    page.type_into(page.field("condition"), "record.credit_status ==")
    page.wait(lambda: page.node_problems("filter") != "", "the filter's problem on the canvas")
    page.wait(
        lambda: (
            "does not compile" in page.find('.vue-flow__node[data-id="filter"]').text
            or page.all(".fb-side .q-field--error")
        ),
        "the condition's error",
    )
    assert page.all(".fb-side .q-field--error"), "the condition field shows its error as you type"
    page.shot("filter-error")
    page.type_into(page.field("condition"), "record.credit_status == 'approved'")
    page.wait(lambda: page.node_problems("filter") == "", "the filter's problem to go away")
    page.wait(lambda: "✓ compiles" in page.text(".fb-side .fb-expression-status"), "the condition to compile")
    page.shot("filter-fixed")

    # The map node: a field list (key/value), each template previewed on sample records.
    page.select_node("map")
    for name, template in MAP_FIELDS.items():
        page.type_into(".fb-side .fb-new-key input", name, enter=True)
        page.wait(lambda n=name: page.all(page.field(f"fields.{n}")), f"map field '{name}'")
        page.type_into(page.field(f"fields.{name}"), template)
    page.wait(lambda: page.node_problems("map") == "", "the map node to be valid")
    page.wait(
        lambda: any("Tidewater" in line.text or "→" in line.text for line in page.all(".fb-side .fb-preview-line")),
        "the template previews on sample records",
    )
    page.shot("map-form-with-previews")

    page.select_node("write")
    _fill_picker(page, "connection", "erp")
    _fill_picker(page, "table", "customers")
    _fill_picker(page, "key", "crm_id")
    page.wait(lambda: page.node_problems("write") == "", "the write node to be valid")
    page.wait(lambda: page.text(".fb-status") == "Valid", "the whole flow to be valid")
    page.shot("write-form-valid")

    # Test the map node: records in and out as tables, counts on the edges, nothing written.
    page.select_node("map")
    page.feedback(
        lambda: page.click(".fb-test-node"), "document.querySelector('.q-notification')", "the test's spinner"
    )
    page.wait(lambda: page.all(".fb-results .fb-records-out"), "the test results")
    summary = page.text(".fb-test-summary")
    assert "nothing was written" in summary
    out_table = page.find(".fb-results .fb-records-out").text
    assert "crm_id" in out_table and "email" in out_table
    assert any("record" in label.text for label in page.all(".vue-flow__edge-text")), "edges show their counts"
    assert "in" in page.text('.vue-flow__node[data-id="map"] .fb-node-counts')
    page.shot("map-tested")

    # Test the write node: the inserts and updates it would make.
    page.select_node("write")
    page.click(".fb-test-node")
    page.wait(lambda: page.all(".fb-results .fb-writes-table"), "the would-be writes")
    page.shot("write-tested")

    # Save: a new version, with who and why.
    page.click(".fb-save")
    page.wait(lambda: page.all(".fb-save-dialog"), "the save dialog")
    page.type_into(".fb-author input", "Ada")
    page.type_into(".fb-comment input", "first draw")
    page.shot("save-dialog")
    page.feedback(
        lambda: page.click(".fb-save-confirm"), "document.querySelector('.q-notification')", "the saving feedback"
    )
    page.wait_notification("Saved version 1")
    page.shot("saved")

    # Reload: the same flow, the same layout.
    positions = {e.get_attribute("data-id"): e.location for e in page.all(".vue-flow__node")}
    page.open(f"/flows/{FLOW_ID}")
    page.wait(lambda: page.node_count() == 5 and page.edge_count() == 4, "the saved flow, drawn")
    assert page.text(".fb-title") == "Accounts to customers, drawn"
    assert "version 1" in page.text(".fb-version")
    assert len(positions) == 5
    page.shot("reloaded")
    page.open("/")
    page.wait(lambda: page.all(f'.fb-flow-row[data-flow-id="{FLOW_ID}"]'), "the flow in the list")
    assert "Valid" in page.find(f'.fb-flow-row[data-flow-id="{FLOW_ID}"]').text
    page.shot("in-the-list")

    # Run it in the sandbox and find the customers in the ERP database.
    page.open(f"/flows/{FLOW_ID}")
    page.wait(lambda: page.node_count() == 5, "the flow")
    page.click(".fb-run")
    page.wait(lambda: page.all(".fb-run-sandbox"), "the run menu")
    page.feedback(
        lambda: page.click(".fb-run-sandbox"), "document.querySelector('.q-notification')", "the run's spinner"
    )
    message = page.wait_notification("Run succeeded", timeout=60)
    page.shot("ran")
    assert "failed" not in message
    crm = sqlite3.connect(served["demo"] / "crm_sandbox.db")
    erp = sqlite3.connect(served["demo"] / "erp_sandbox.db")
    approved = {row[0] for row in crm.execute("SELECT id FROM accounts WHERE credit_status = 'approved'")}
    customers = {row[0] for row in erp.execute("SELECT crm_id FROM customers WHERE crm_id IS NOT NULL")}
    assert approved and approved <= customers
    assert erp.execute("SELECT email FROM customers WHERE email <> lower(email)").fetchall() == []

    # The run's page: its ledger per node.
    page.open("/runs")
    page.wait(lambda: page.all(".fb-runs-table tbody tr"), "the runs list")
    page.shot("runs")
    page.find(".fb-runs-table tbody tr").click()
    page.wait(lambda: page.all(".fb-ledger"), "the run's ledger")
    ledger = page.text(".fb-ledger")
    assert "filter" in ledger and "write" in ledger
    page.shot("run-detail")
