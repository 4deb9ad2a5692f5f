"""The designer's services on a real store and the demo: save, drafts, conflicts, diffs, tests, pickers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from app.errors import FlowbridgeError
from app.services import designer, previews, systems
from app.services.access import admin
from app.store import flows as flow_store
from app.store.database import Store
from app.store.flows import VersionConflict

FLOW = "crm_accounts_to_erp_customers"


def example() -> dict:
    return json.loads(Path(f"flows/{FLOW}.json").read_text())


def node(document: dict, node_id: str) -> dict:
    return next(n for n in document["nodes"] if n["id"] == node_id)


def test_a_flow_with_problems_saves_as_a_draft_that_cannot_be_switched_on(store: Store) -> None:
    document = example()
    document["edges"] = document["edges"][:-1]
    version, draft = designer.save_document(store, document, who=admin("Ada"), comment="wip", based_on=None)
    assert (version, draft) == (1, True)
    with pytest.raises(FlowbridgeError, match="draft"):
        designer.set_enabled(store, FLOW, True, who=admin("Ada"))
    version, draft = designer.save_document(store, example(), who=admin("Ada"), comment="fixed", based_on=1)
    assert (version, draft) == (2, False)
    designer.set_enabled(store, FLOW, True, who=admin("Ada"))
    assert flow_store.get_flow(store, FLOW).enabled
    assert [v.draft for v in designer.version_rows(store, FLOW)] == [False, True]


def test_saving_on_top_of_a_newer_version_is_refused_and_names_its_author(store: Store) -> None:
    designer.save_document(store, example(), who=admin("Ada"), comment="", based_on=0)
    designer.save_document(store, example(), who=admin("Maria"), comment="", based_on=1)
    with pytest.raises(VersionConflict) as refused:
        designer.save_document(store, example(), who=admin("Ada"), comment="", based_on=1)
    assert refused.value.latest.author == "Maria" and refused.value.latest.version == 2
    assert designer.copy_id(store, FLOW) == f"{FLOW}_copy"


def test_a_new_flow_is_refused_when_its_id_was_taken_meanwhile(store: Store) -> None:
    designer.save_document(store, example(), who=admin("Maria"), comment="", based_on=None)
    with pytest.raises(VersionConflict):
        designer.save_document(store, example(), who=admin("Ada"), comment="", based_on=0)


def test_the_difference_between_two_versions_names_nodes_and_config_fields() -> None:
    old, new = example(), example()
    node(new, "approved")["config"]["condition"] = "record.credit_status in ['approved', 'vip']"
    del node(new, "to_customer")["config"]["fields"]["phone"]
    node(new, "to_customer")["config"]["fields"]["fax"] = "{{ record.fax }}"
    new["nodes"].append({"id": "audit", "type": "write.file", "config": {"connection": "files", "path": "a.csv"}})
    new["nodes"][0]["position"] = {"x": 999, "y": 999}  # moving is not a change
    sentences = [c.sentence() for c in designer.diff_documents(old, new)]
    assert "node 'audit' (write.file) added" in sentences
    assert "node 'to_customer' config fields.phone removed" in sentences
    assert "node 'to_customer' config fields.fax added" in sentences
    assert any(
        s.startswith("node 'approved' config condition: record.credit_status == 'approved' →") for s in sentences
    )
    assert not any("position" in s for s in sentences)


def test_testing_the_map_node_reads_twenty_records_and_writes_nothing(store: Store, demo: dict) -> None:
    import sqlite3

    before = sqlite3.connect(demo["sandbox"]["erp"]).execute("SELECT count(*) FROM customers").fetchone()
    document = example()
    result = previews.test_node(store, document, "to_customer")
    assert result.ok, result.message
    read = result.node("accounts")
    assert len(read.ports["out"]) == 20
    mapped = result.node("to_customer")
    assert mapped.ports["out"] and set(mapped.ports["out"][0]) >= {"crm_id", "name", "email"}
    assert all(r["email"] == r["email"].lower() for r in mapped.ports["out"] if r["email"])
    whole = previews.test_node(store, document, "customers")
    writes = whole.node("customers").writes
    assert writes and {w["outcome"] for w in writes} <= {"inserted", "updated", "unchanged"}
    after = sqlite3.connect(demo["sandbox"]["erp"]).execute("SELECT count(*) FROM customers").fetchone()
    assert before == after


def test_a_test_of_a_node_whose_upstream_is_broken_says_what_to_fix(store: Store, demo: dict) -> None:
    document = example()
    node(document, "accounts")["config"]["connection"] = ""
    result = previews.test_node(store, document, "to_customer")
    assert not result.ok and "fix the flow up to 'to_customer' first" in result.message


def test_expressions_are_previewed_on_sample_records(store: Store, demo: dict) -> None:
    document = example()
    records, why = previews.sample_inputs(store, document, "to_customer")
    assert why is None and records
    preview = previews.preview_expression(
        "{{ record.state | value_map('us_states') }}", "template", records, document["value_maps"]
    )
    assert preview.error is None and len(preview.values) == 5
    broken = previews.preview_expression("{{ record.name | trim ", "template", records)
    assert broken.error and "end of" in broken.error


def test_pickers_list_the_connected_systems_tables_and_columns(store: Store, demo: dict) -> None:
    assert {"crm", "erp"} <= set(systems.connection_names(store))
    assert "accounts" in systems.tables(store, "crm")
    assert "crm_id" in systems.columns(store, "erp", "customers")
    with pytest.raises(FlowbridgeError):
        systems.tables(store, "nope")


def test_a_document_without_changes_has_no_difference() -> None:
    assert designer.diff_documents(example(), copy.deepcopy(example())) == []
