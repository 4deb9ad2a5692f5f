"""The `flowbridge` command as a user types it: demo init, run, runs, run-show, connections, flows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest


@pytest.fixture
def demo_cli(cli):
    code, out, _ = cli("demo", "init", "--dir", "demo")
    assert code == 0, out
    return cli


def test_demo_init_registers_connections_for_both_environments_and_loads_the_flows(demo_cli, tmp_path):
    code, out, _ = demo_cli("connection", "list", "--json")
    listed = {(c["name"], c["env"]) for c in json.loads(out)}
    assert {("crm", "sandbox"), ("erp", "sandbox"), ("crm", "production"), ("erp", "production")} <= listed
    code, out, _ = demo_cli("flow", "list", "--json")
    assert {f["id"] for f in json.loads(out)} >= {
        "crm_accounts_to_erp_customers",
        "crm_won_deals_to_erp_orders",
        "erp_invoices_to_crm",
        "erp_stock_to_crm_products",
    }
    for env in ("sandbox", "production"):
        for system in ("crm", "erp"):
            assert (tmp_path / "demo" / f"{system}_{env}.db").is_file()


def test_run_json_prints_the_summary_the_issue_names(demo_cli, tmp_path):
    code, out, _ = demo_cli("run", "erp_stock_to_crm_products", "--env", "sandbox", "--json")
    assert code == 0
    summary = json.loads(out)
    assert {"run_id", "flow_id", "status", "env", "started_at", "finished_at", "nodes", "totals"} <= set(summary)
    assert summary["status"] == "succeeded" and summary["env"] == "sandbox"
    assert set(summary["totals"]) == {"read", "filtered", "inserted", "updated", "unchanged", "failed"}
    assert (
        summary["nodes"]["active"]["out"]["match"] + summary["nodes"]["active"]["out"]["reject"]
        == summary["nodes"]["active"]["in"]
        == 60
    )
    assert summary["nodes"]["crm_products"]["failed"] == 0

    code, out, _ = demo_cli("runs", "--flow", "erp_stock_to_crm_products", "--json")
    assert [r["run_id"] for r in json.loads(out)] == [summary["run_id"]]
    code, out, _ = demo_cli("run-show", summary["run_id"])
    assert code == 0 and "active" in out and "succeeded" in out


def test_run_exits_1_and_run_show_lists_failed_records_with_reasons(demo_cli, tmp_path):
    with sqlite3.connect(tmp_path / "demo" / "crm_sandbox.db") as db:
        db.execute(
            "UPDATE accounts SET name = '' WHERE id = (SELECT MIN(id) FROM accounts WHERE credit_status = 'approved')"
        )
    code, out, _ = demo_cli("run", "crm_accounts_to_erp_customers", "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["status"] == "partial" and summary["totals"]["failed"] >= 1
    code, out, _ = demo_cli("run-show", summary["run_id"])
    assert f"failed records ({summary['totals']['failed']})" in out
    assert "required field(s) name empty" in out and "duplicate account" in out


def test_a_flow_file_runs_without_being_stored(demo_cli, tmp_path):
    flow = Path(__file__).resolve().parents[2] / "flows" / "erp_stock_to_crm_products.json"
    code, out, _ = demo_cli("run", str(flow), "--json")
    assert code == 0 and json.loads(out)["flow_id"] == "erp_stock_to_crm_products"


def test_a_run_from_a_file_of_a_flow_never_stored_can_be_replayed(demo_cli, tmp_path):
    document = json.loads(
        (Path(__file__).resolve().parents[2] / "flows" / "erp_stock_to_crm_products.json").read_text()
    )
    document["id"] = "stock_from_a_file"
    (tmp_path / "mine.json").write_text(json.dumps(document))
    code, out, _ = demo_cli("run", str(tmp_path / "mine.json"), "--json")
    assert code == 0
    run_id = json.loads(out)["run_id"]
    code, out, err = demo_cli("replay", run_id, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["replay"]["status"] == "succeeded" and report["records"] == []  # the same writes again


def test_bad_usage_exits_2_with_a_sentence(demo_cli):
    code, _, err = demo_cli("run", "no_such_flow")
    assert code == 2 and "no_such_flow" in err
    code, _, err = demo_cli("run", "crm_accounts_to_erp_customers", "--env", "staging")
    assert code == 2 and "staging" in err
    code, _, err = demo_cli("run-show", "nope")
    assert code == 2 and "no run 'nope'" in err
    code, _, err = demo_cli("frobnicate")
    assert code == 2


def test_an_invalid_flow_file_does_not_run(demo_cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "id": "x", "name": "x", "nodes": [], "edges": []}')
    code, _, err = demo_cli("run", str(bad))
    assert code == 1 and "no trigger" in err


def test_a_connection_to_a_closed_port_fails_the_run_with_the_cause(demo_cli):
    demo_cli(
        "connection",
        "set",
        "erp",
        "--env",
        "sandbox",
        "--type",
        "sql",
        "--url",
        "postgresql://flow:secret-pw@127.0.0.1:1/erp",
    )
    code, out, err = demo_cli("run", "crm_accounts_to_erp_customers", "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["status"] == "failed" and "erp" in summary["error"]
    assert "secret-pw" not in out + err
    code, out, _ = demo_cli("connection", "list")
    assert "secret-pw" not in out and "***" in out


def test_connection_settings_are_encrypted_at_rest(demo_cli, tmp_path):
    demo_cli(
        "connection",
        "set",
        "ledger",
        "--env",
        "production",
        "--type",
        "sql",
        "--url",
        "postgresql://admin:hunter2@db.internal/ledger",
    )
    raw = (tmp_path / "flowbridge.db").read_bytes()
    assert b"hunter2" not in raw and b"db.internal" not in raw


def test_the_sql_connection_needs_a_url(cli):
    code, _, err = cli("connection", "set", "crm", "--env", "sandbox", "--type", "sql")
    assert code == 2 and "--url" in err


def test_flow_import_refuses_an_invalid_document_and_stores_a_valid_one_as_a_new_version(cli, tmp_path):
    flow = Path(__file__).resolve().parents[2] / "flows" / "erp_invoices_to_crm.json"
    code, out, _ = cli("flow", "import", str(flow))
    assert code == 0 and "version 1" in out
    code, out, _ = cli("flow", "import", str(flow))
    assert "version 2" in out
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, err = cli("flow", "import", str(broken))
    assert code == 1 and "invalid JSON" in err


def test_conflicts_held_for_review_are_listed_with_both_values(demo_cli, tmp_path):
    flow = json.loads(
        (Path(__file__).resolve().parents[2] / "flows" / "crm_accounts_to_erp_customers.json").read_text()
    )
    flow["nodes"][-1]["config"]["sync"]["on_conflict"] = "review"
    path = tmp_path / "review.json"
    path.write_text(json.dumps(flow))
    demo_cli("run", str(path))  # the ERP's older addresses differ from the CRM's: held for review
    code, out, _ = demo_cli("conflicts", "--json")
    held = json.loads(out)
    assert code == 0 and held
    assert {"source", "target", "field"} <= set(held[0]) and held[0]["source"]["system"] == "crm"
    code, out, _ = demo_cli("conflicts")
    assert "says" in out and "crm" in out and "erp" in out


def test_flows_are_switched_on_and_off_from_the_cli_and_the_switch_is_recorded(demo_cli, tmp_path):
    code, out, _ = demo_cli("flow", "on", "erp_stock_to_crm_products", "--reason", "go live")
    assert code == 0 and "is on" in out
    code, out, _ = demo_cli("flow", "list", "--json")
    assert {f["id"]: f["enabled"] for f in json.loads(out)}["erp_stock_to_crm_products"] is True
    code, out, _ = demo_cli("flow", "off", "erp_stock_to_crm_products")
    assert code == 0 and "is off" in out
    code, _, err = demo_cli("flow", "on", "no_such_flow")
    assert code == 2 and "no_such_flow" in err
    from app.services.switches import history
    from app.store.database import Store

    store = Store(f"sqlite:///{tmp_path / 'flowbridge.db'}")
    recorded = history(store, "erp_stock_to_crm_products")
    assert [(s.enabled, s.reason) for s in recorded] == [(False, ""), (True, "go live")] and recorded[0].who


def test_dead_letters_are_listed_by_reason_and_discarded_from_the_cli(demo_cli):
    demo_cli("run", "crm_accounts_to_erp_customers")  # the demo's duplicate accounts are flagged
    code, out, _ = demo_cli("dead-letters")
    assert code == 0 and "duplicate account" in out
    code, out, _ = demo_cli("dead-letters", "--json")
    first = json.loads(out)[0]["id"]
    code, out, _ = demo_cli("dead-letters", "discard", str(first))
    assert code == 0 and f"#{first}" in out
    code, _, err = demo_cli("dead-letters", "discard", str(first))
    assert code == 1 and "not open" in err
    code, _, err = demo_cli("dead-letters", "retry")
    assert code == 2 and "name the dead letters" in err


def test_a_webhook_secret_is_shown_and_rotated(demo_cli):
    code, out, _ = demo_cli("flow", "webhook", "erp_invoices_to_crm")
    secret = out.split("secret: ")[1].split()[0]
    code, again, _ = demo_cli("flow", "webhook", "erp_invoices_to_crm")
    assert secret in again
    code, rotated, _ = demo_cli("flow", "webhook", "erp_invoices_to_crm", "--rotate")
    assert secret not in rotated and "/hooks/erp_invoices_to_crm" in rotated


def test_users_are_added_listed_and_removed_and_a_removed_token_stops_working(cli, tmp_path):
    code, out, _ = cli("user", "list")
    assert code == 0 and "open to everyone" in out
    code, out, _ = cli("user", "add", "tess", "--role", "tester")
    assert code == 0 and "shown once" in out
    token = out.split("shown once): ")[1].split()[0]
    code, out, _ = cli("user", "list")
    assert out.split()[:2] == ["tess", "tester"]
    from app.services import access
    from app.store.database import Store

    store = Store(f"sqlite:///{tmp_path / 'flowbridge.db'}")
    assert access.authenticate(store, f"Bearer {token}").name == "tess"
    code, _, err = cli("user", "remove", "nobody")
    assert code == 2 and "no user named 'nobody'" in err
    code, out, _ = cli("user", "remove", "tess")
    assert code == 0 and "removed" in out
    with pytest.raises(access.Unauthenticated):
        cli("user", "add", "ada", "--role", "admin")  # the server is closed again, by another user
        access.authenticate(store, f"Bearer {token}")
    store.close()


def test_a_dry_run_in_production_lists_inserts_updates_and_failures_and_writes_nothing(demo_cli, tmp_path):
    erp = tmp_path / "demo" / "erp_production.db"
    with sqlite3.connect(erp) as db:
        before = db.execute("SELECT * FROM customers ORDER BY customer_number").fetchall()
    code, out, _ = demo_cli("run", "crm_accounts_to_erp_customers", "--env", "production", "--dry-run", "--json")
    report = json.loads(out)
    assert report["env"] == "production" and code == 1  # the demo's duplicate accounts would fail
    outcomes = [c["outcome"] for c in report["changes"]["customers"]]
    assert outcomes.count("inserted") == report["totals"]["inserted"] > 0
    inserted = next(c for c in report["changes"]["customers"] if c["outcome"] == "inserted")
    assert inserted["after"]["email"] == inserted["after"]["email"].strip().lower()
    failures = [f for node in report["would_fail"].values() for f in node]
    assert len(failures) == report["totals"]["failed"] and all(f["reason"] for f in failures)
    with sqlite3.connect(erp) as db:
        assert db.execute("SELECT * FROM customers ORDER BY customer_number").fetchall() == before


def test_a_dry_run_says_so_in_every_text_output(demo_cli):
    code, out, _ = demo_cli("run", "erp_stock_to_crm_products", "--dry-run")
    assert "dry run: nothing was written" in out
    run_id = out.split()[1]
    code, out, _ = demo_cli("runs")
    assert f"{run_id}" in out and "(dry run)" in out
    code, out, _ = demo_cli("run-show", run_id)
    assert "dry run: nothing was written" in out
