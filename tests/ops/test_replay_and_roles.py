"""Replays side by side with the original run, saved test cases, dry runs, and roles on the server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from app.services import access, replay
from app.services.access import admin
from app.services.runs import run_flow
from app.store import flows
from app.store import runs as run_store
from app.store.flows import save_flow
from tests.ops.test_webhooks_and_api import server  # noqa: F401  (the real HTTP server fixture)

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def production_run(store, flow_id: str):
    document, version = flows.get_document(store, flow_id)
    return run_flow(store, document, version=version, env="production")


def test_a_replay_runs_the_same_input_in_the_sandbox_and_matches_the_original(store, demo):
    original = production_run(store, "erp_stock_to_crm_products")
    report = replay.replay(store, original.run_id, who=admin("test"))
    assert report["replay"]["env"] == "sandbox" and report["replay"]["status"] == "succeeded"
    assert report["inputs_replayed"] == {"products": 60}
    for node, counts in report["nodes"].items():
        assert counts["original"]["in"] == counts["replay"]["in"], node
    assert report["records"] == []
    with sqlite3.connect(demo["sandbox"]["crm"]) as db:  # it wrote to the sandbox, not production
        assert db.execute("SELECT COUNT(*) FROM products WHERE stock_on_hand IS NOT NULL").fetchone()[0] >= 50


def test_a_replay_with_the_current_version_shows_what_the_edit_changes_per_record(store, demo):
    original = production_run(store, "erp_stock_to_crm_products")
    document, _ = flows.get_document(store, "erp_stock_to_crm_products")
    mapping = next(n for n in document["nodes"] if n["id"] == "to_crm_product")["config"]["fields"]
    mapping["name"] = "{{ record.name | upper }}"
    save_flow(store, document, author="ana", comment="names in capitals")
    report = replay.replay(store, original.run_id, flow_version="current", who=admin("test"))
    assert report["replay"]["flow_version"] == 2 and report["original"]["flow_version"] == 1
    assert len(report["records"]) == 50
    first = report["records"][0]
    assert first["node"] == "crm_products" and first["fields"] == ["name"]
    assert first["after"]["name"] == first["before"]["name"].upper()
    by_version = replay.replay(store, original.run_id, flow_version=1, who=admin("test"))
    assert by_version["records"] == []


def test_replays_refuse_production_whoever_asks(store, demo):
    original = production_run(store, "erp_stock_to_crm_products")
    with pytest.raises(replay.SandboxOnly):
        replay.replay(store, original.run_id, env="production", who=admin("test"))


def test_a_saved_test_case_passes_until_an_edit_changes_what_the_flow_writes(store, demo):
    original = production_run(store, "erp_stock_to_crm_products")
    replay.save_case(store, original.run_id, "stock as of today", who=admin("tess"))
    assert [r["passed"] for r in replay.run_cases(store, "erp_stock_to_crm_products", who=admin("test"))] == [True]
    document, _ = flows.get_document(store, "erp_stock_to_crm_products")
    next(n for n in document["nodes"] if n["id"] == "active")["config"]["condition"] = (
        "record.is_active == 1 and record.stock_on_hand > 0"
    )
    save_flow(store, document, author="ana", comment="only what is in stock")
    result = replay.run_cases(store, "erp_stock_to_crm_products", who=admin("test"))[0]
    assert not result["passed"]
    assert result["differences"] and all(d["after"] is None for d in result["differences"])  # no longer written


def test_the_test_command_exits_1_on_a_failing_case(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'fb.db'}"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    cli("demo", "init", "--dir", "demo")
    run_id = json.loads(cli("run", "erp_stock_to_crm_products", "--env", "production", "--json").stdout)["run_id"]
    assert cli("test", "--save", run_id, "--name", "baseline").returncode == 0
    passed = cli("test", "erp_stock_to_crm_products")
    assert passed.returncode == 0 and "PASS  baseline" in passed.stdout
    changed = json.loads((FLOWS / "erp_stock_to_crm_products.json").read_text())
    next(n for n in changed["nodes"] if n["id"] == "to_crm_product")["config"]["fields"]["list_price"] = (
        "{{ record.unit_price * 2 }}"
    )
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    cli("flow", "import", str(tmp_path / "changed.json"))
    failed = cli("test", "erp_stock_to_crm_products")
    assert failed.returncode == 1 and "FAIL  baseline" in failed.stdout and "Traceback" not in failed.stderr
    replayed = cli("replay", run_id, "--json")
    assert replayed.returncode == 0 and json.loads(replayed.stdout)["replay"]["env"] == "sandbox"
    refused = cli("replay", run_id, "--env", "production")
    assert refused.returncode == 1 and "only in the sandbox" in refused.stderr


def test_a_dry_run_lists_inserts_updates_field_by_field_and_unchanged_records(store, demo):
    with sqlite3.connect(demo["sandbox"]["erp"]) as db:
        db.execute("UPDATE products SET unit_price = unit_price + 1 WHERE sku = 'SKU-1001'")
    document, version = flows.get_document(store, "erp_stock_to_crm_products")
    run_flow(store, document, version=version)  # the CRM has them all now
    with sqlite3.connect(demo["sandbox"]["erp"]) as db:
        db.execute("UPDATE products SET unit_price = 999.5 WHERE sku = 'SKU-1002'")
    result = run_flow(store, document, version=version, dry_run=True)
    changes = result.changes["crm_products"]
    updated = [c for c in changes if c["outcome"] == "updated"]
    assert updated == [
        {
            "outcome": "updated",
            "key": {"sku": "SKU-1002"},
            "before": {"list_price": updated[0]["before"]["list_price"]},
            "after": {"list_price": 999.5},
        }
    ]
    assert sum(1 for c in changes if c["outcome"] == "unchanged") == len(changes) - 1
    with sqlite3.connect(demo["sandbox"]["crm"]) as db:  # and nothing was written
        assert db.execute("SELECT list_price FROM products WHERE sku = 'SKU-1002'").fetchone()[0] != 999.5


def test_roles_are_enforced_by_the_server(server, store, demo):  # noqa: F811
    tester = access.add_user(store, "tess", "tester")
    admin = access.add_user(store, "ada", "admin")
    viewer = access.add_user(store, "vic", "viewer")

    def call(method: str, path: str, token: str | None, **options) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{server}{path}", headers=headers, timeout=30, **options)

    assert call("GET", "/api/flows", None).status_code == 401
    assert call("GET", "/api/flows", viewer).status_code == 200
    assert (
        call("POST", "/api/flows/erp_stock_to_crm_products/run", tester, params={"env": "production"}).status_code
        == 403
    )
    assert (
        call("POST", "/api/flows/erp_stock_to_crm_products/run", tester, params={"env": "sandbox"}).status_code == 202
    )
    assert call("POST", "/api/flows/erp_stock_to_crm_products/on", tester).status_code == 403
    assert call("POST", "/api/flows/erp_stock_to_crm_products/on", admin).status_code == 200
    original = production_run(store, "erp_stock_to_crm_products")
    assert call("POST", f"/api/runs/{original.run_id}/replay", viewer).status_code == 403
    assert call("POST", f"/api/runs/{original.run_id}/replay", tester, params={"env": "production"}).status_code == 409
    report = call("POST", f"/api/runs/{original.run_id}/replay", tester)
    assert report.status_code == 200 and report.json()["replay"]["env"] == "sandbox"


def test_retrying_a_dead_letter_is_a_run_in_its_environment_and_needs_that_right(server, store, demo):  # noqa: F811
    analyst = access.add_user(store, "ann", "analyst")
    document, version = flows.get_document(store, "crm_accounts_to_erp_customers")
    for env in ("production", "sandbox"):  # the demo's duplicate accounts fail in both
        assert run_flow(store, document, version=version, env=env).totals["failed"] > 0
    from app.store import runs

    letters = {}
    for letter in runs.dead_letters(store, flow_id=document["id"], status="open"):
        letters.setdefault(letter.env, letter)
    headers = {"Authorization": f"Bearer {analyst}"}
    refused = httpx.post(f"{server}/api/dead-letters/{letters['production'].id}/retry", headers=headers, timeout=30)
    assert refused.status_code == 403 and "may not run in production" in refused.json()["detail"]
    kind = {"flow": document["id"], "node": letters["production"].node_id, "reason": letters["production"].reason}
    refused = httpx.post(f"{server}/api/dead-letters/retry", params=kind, headers=headers, timeout=30)
    assert refused.status_code == 403  # the reason's letters include production ones
    from app.services import dead_letters

    assert dead_letters.get_letter(store, letters["production"].id).status == "open"
    allowed = httpx.post(f"{server}/api/dead-letters/{letters['sandbox'].id}/retry", headers=headers, timeout=60)
    assert allowed.status_code == 200
    assert dead_letters.get_letter(store, letters["sandbox"].id).retried_in == allowed.json()["runs"][0]


def test_a_testers_runs_are_not_the_flows_operation(store, demo):
    """Replays, test cases and dry runs are not the flow's last run, success or failure: health,
    alerts and the automatic switch-off look past them."""
    from app.services import health_view, overview

    flow_id = "erp_stock_to_crm_products"
    original = production_run(store, flow_id)
    replay.replay(store, original.run_id, who=admin("test"))
    replay.save_case(store, original.run_id, "as it ran", who=admin("test"))
    assert all(r["passed"] for r in replay.run_cases(store, flow_id, who=admin("test")))
    document, version = flows.get_document(store, flow_id)
    run_flow(store, document, version=version, env="production", dry_run=True)
    assert len(run_store.list_runs(store, flow_id=flow_id)) == 4  # original, replay, test case, dry run
    [row] = [r for r in overview.flow_rows(store, None) if r["id"] == flow_id]
    assert row["last_run"]["run_id"] == original.run_id
    [health] = [h for h in health_view.flow_health(store) if h.flow_id == flow_id]
    assert health.total_runs == 1
    assert health.last_success == original.finished_at.replace(tzinfo=health.last_success.tzinfo)


def test_a_test_case_checks_that_what_the_database_refused_is_still_refused(store, tmp_path):
    from tests.ops.helpers import flow, store_flow, target

    target(store, tmp_path)
    flow_id = store_flow(store, flow("refusals", {"type": "trigger.manual"}))
    document, version = flows.get_document(store, flow_id)
    original = run_flow(
        store, document, version=version, env="sandbox", payload=[{"id": 1, "name": "fine"}, {"id": 2, "name": None}]
    )
    assert original.totals["failed"] == 1  # the NOT NULL column refused it
    case = replay.save_case(store, original.run_id, "a nameless item is refused", who=admin("tess"))
    assert list(case.expected_failed) == ["write"]
    [result] = replay.run_cases(store, flow_id, who=admin("tess"))
    assert result["passed"], result  # the dry run meets the same refusal, inside a rolled-back transaction
    shape = next(n for n in document["nodes"] if n["id"] == "shape")
    shape["config"]["fields"]["name"] = "{{ record.name | default('unnamed', true) }}"
    save_flow(store, document, author="ana", comment="name every item")
    [result] = replay.run_cases(store, flow_id, who=admin("tess"))
    assert not result["passed"]
    assert {(d["node"], d["key"][0] if isinstance(d["key"], list) else d["key"]) for d in result["differences"]} == {
        ("write", 2)
    }  # written now (not expected), and no longer failing (expected)
