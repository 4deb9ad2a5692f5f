"""The Runs pages: filters by flow, status, environment and trigger from the query; one run's graph
with its counts, the records in and out of a clicked node, retries, who started it, failed records."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing.user import User

from app.services import operations
from app.services.access import admin
from app.services.runs import run_flow
from app.store import flows as flow_store
from app.store import runs as run_store
from app.store.database import Store
from app.ui.canvas.flow_canvas import FlowCanvas

FLOW = "crm_accounts_to_erp_customers"
OTHER = "erp_stock_to_crm_products"


def _runs_table(user: User) -> ui.table:
    return next(t for t in user.find(ui.table).elements if "fb-runs-table" in t.classes)


async def test_runs_are_filtered_by_the_query_and_the_filters_change_it(user: User, store: Store) -> None:
    sandbox = operations.start_stored_flow(store, FLOW, trigger="manual", env="sandbox", who="Ada")
    production = operations.start_stored_flow(store, FLOW, trigger="schedule", env="production", who="scheduler")
    other = operations.start_stored_flow(store, OTHER, trigger="webhook", env="production", who="webhook")
    await user.open("/runs")
    assert {r["id"] for r in _runs_table(user).rows} == {sandbox.run_id, production.run_id, other.run_id}
    await user.open(f"/runs?flow={FLOW}&env=production")
    assert [r["id"] for r in _runs_table(user).rows] == [production.run_id]
    assert _runs_table(user).rows[0]["who"] == "scheduler"
    await user.open("/runs?trigger=webhook")
    assert [r["id"] for r in _runs_table(user).rows] == [other.run_id]
    await user.open("/runs?status=failed")
    await user.should_see("No runs match these filters.")
    # Changing a filter makes a link with every filter in it.
    await user.open(f"/runs?flow={FLOW}")
    user.find(marker="filter-trigger").elements.pop().set_value("manual")
    await user.should_see("1 run")
    assert [r["id"] for r in _runs_table(user).rows] == [sandbox.run_id]
    assert user.find(marker="filter-flow").elements.pop().value == FLOW  # the flow filter stayed


async def test_a_run_draws_its_flow_with_counts_and_shows_a_clicked_nodes_records(user: User, store: Store) -> None:
    result = operations.start_stored_flow(store, FLOW, trigger="manual", env="sandbox", who="Ada")
    ledger = run_store.run_ledger(store, result.run_id)
    await user.open(f"/runs/{result.run_id}")
    await user.should_see("started by Ada")
    await user.should_see("environment sandbox")
    canvas = next(iter(user.find(FlowCanvas).elements))
    graph = canvas.props["graph"]
    assert canvas.props["readonly"] is True
    edges = {(e["source"], e["target"]): e["data"]["count"] for e in graph["edges"]}
    assert edges[("accounts", "changed")] == ledger["accounts"]["out"]["out"]
    assert edges[("approved", "to_customer")] == ledger["approved"]["out"]["match"] > 0
    nodes = {n["id"]: n["data"] for n in graph["nodes"]}
    failed = ledger["customers"]["failed"]
    assert failed > 0 and nodes["customers"]["counts"]["failed"] == failed
    assert nodes["customers"]["timing"].endswith(("ms", "s"))
    # A click on a node shows the records that went in and out of it.
    await user.should_see("Pick a node here or click one on the graph.")
    user.find(FlowCanvas).trigger("selection", {"nodes": ["approved"], "edges": []})
    await user.should_see(f"Out · match (first 5 of {ledger['approved']['out']['match']})")
    await user.should_see("Out · reject (first 5")
    user.find(FlowCanvas).trigger("selection", {"nodes": ["customers"], "edges": []})
    await user.should_see(f"Failed here ({failed})")
    await user.should_see(f"Failed records ({failed})")
    table = next(t for t in user.find(ui.table).elements if "fb-dead-letters" in t.classes)
    letters = run_store.dead_letters(store, run_id=result.run_id)
    assert [(r["node"], r["reason"]) for r in table.rows] == [(d.node_id, d.reason) for d in letters]
    await user.should_see("Retries (0)")


async def test_a_run_shows_its_retries_and_who_resolved_its_failed_records(user: User, store: Store) -> None:
    document, version = flow_store.get_document(store, FLOW)
    result = run_flow(store, document, version=version, env="production", trigger="schedule", started_by="scheduler")
    run_store.finish_run(
        store,
        result.run_id,
        status="partial",
        totals=result.totals,
        error=None,
        ledger=result.ledger.summary(),
        events=[
            {"at": "2026-11-29T03:00:00+00:00", "attempt": 1, "error": "connection refused", "wait_seconds": 0.21},
            {"at": "2026-11-29T03:00:01+00:00", "attempt": 2, "error": "connection refused", "wait_seconds": 0.43},
        ],
    )
    from app.services import dead_letters

    letter = run_store.dead_letters(store, run_id=result.run_id)[0]
    dead_letters.discard(store, [letter.id], who=admin("Grace"))
    await user.open(f"/runs/{result.run_id}")
    await user.should_see("Retries (2)")
    retries = next(t for t in user.find(ui.table).elements if "fb-retries" in t.classes)
    assert [(r["attempt"], r["error"], r["wait"]) for r in retries.rows] == [
        (1, "connection refused", "0.21 s"),
        (2, "connection refused", "0.43 s"),
    ]
    await user.should_see("started by scheduler")
    failed = next(t for t in user.find(ui.table).elements if "fb-dead-letters" in t.classes)
    assert failed.rows[0]["status"].startswith("discarded by Grace")


async def test_a_run_of_a_file_has_no_graph_but_its_ledger(user: User, store: Store) -> None:
    document, _ = flow_store.get_document(store, OTHER)
    result = run_flow(store, document, version=None, env="sandbox")
    await user.open(f"/runs/{result.run_id}")
    await user.should_see("No graph: it ran from a file, not a stored flow.")
    await user.should_see("Ledger")
    user.find(marker="sample-node").elements.pop().set_value("active")
    await user.should_see("Out · match")


async def test_a_queued_run_says_it_is_still_going_and_an_unknown_run_says_so(user: User, store: Store) -> None:
    from app.store.models import Run

    run_store.queue_run(
        store,
        Run(
            id="waiting-its-turn",
            flow_id=FLOW,
            env="production",
            trigger="webhook",
            started_by="webhook",
            payload=[{"id": 1}],
        ),
    )
    await user.open("/runs/waiting-its-turn")
    await user.should_see("Waiting its turn: the flow's earlier run is still going")
    await user.should_see("started by webhook")
    await user.should_see("No records yet: the run has not got that far.")
    await user.open("/runs/no-such-run")
    await user.should_see("There is no run 'no-such-run'.")


async def test_big_counts_read_with_thousands_separators(user: User, store: Store) -> None:
    from app.store.models import Run

    run_store.queue_run(
        store,
        Run(id="a-big-one", flow_id=FLOW, env="sandbox", trigger="manual", started_by="ada", payload=[]),
    )
    run_store.finish_run(
        store,
        "a-big-one",
        status="succeeded",
        totals={"read": 123456, "inserted": 120000, "failed": 0},
        error=None,
        ledger={"read": {"in": 1, "out": {"out": 123456}}, "write": {"in": 123456, "inserted": 120000}},
    )
    await user.open("/runs/a-big-one")
    await user.should_see("123,456")
    await user.should_see("120,000")
    user.find(marker="sample-node").elements.pop().set_value("write")
    await user.should_see("write: 123,456 in")
    await user.open("/runs")
    await user.should_see("Runs")
    listed = [row for table in user.find(ui.table).elements for row in table.rows if row.get("id") == "a-big-one"]
    assert [row["totals"] for row in listed] == ["123,456 read · 120,000 inserted"]
