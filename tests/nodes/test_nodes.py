"""Each node type through a real run: records in as a manual trigger's payload, out to a JSONL file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.services.runs import run_flow
from app.store import runs
from app.store.connections import set_connection


@pytest.fixture
def harness(store, tmp_path: Path):
    """run(node, payload) -> (result, records written by the node's `out` port, dead letters)."""
    out = tmp_path / "out"
    set_connection(store, "files", "sandbox", "file", {"path": str(out)})

    def run(node: dict, payload: list[dict], port: str | None = None, **document_extra):
        document = {
            "schema_version": 1,
            "id": "node_test",
            "name": "node test",
            **document_extra,
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "node", **node},
                {"id": "sink", "type": "write.file", "config": {"connection": "files", "path": "out.jsonl"}},
            ],
            "edges": [
                {"from": "start", "to": "node"},
                {"from": "node", "to": "sink", **({"port": port} if port else {})},
            ],
        }
        result = run_flow(store, document, payload=payload)
        path = out / "out.jsonl"
        written = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return result, written, runs.dead_letters(store, run_id=result.run_id)

    return run


def test_map_fills_defaults_then_checks_required_fields(harness):
    node = {
        "type": "map",
        "config": {
            "fields": {
                "id": "{{ record.id }}",
                "country": "{{ record.country }}",
                "email": "{{ record.email | trim | lower }}",
            },
            "defaults": {"country": "US"},
            "required": ["email"],
        },
    }
    result, written, letters = harness(
        node, [{"id": 1, "email": " A@B.COM "}, {"id": 2, "country": "CA", "email": None}]
    )
    assert written == [{"id": 1, "country": "US", "email": "a@b.com"}]
    assert [(d.record["id"], d.reason) for d in letters] == [
        (2, "required field(s) email empty (email = {{ record.email | trim | lower }})")
    ]
    assert result.status == "partial"


def test_map_can_keep_the_source_fields(harness):
    node = {
        "type": "map",
        "config": {"fields": {"full": "{{ record.first }} {{ record.last }}"}, "keep_unmapped": True},
    }
    _, written, _ = harness(node, [{"first": "Ada", "last": "Lovelace"}])
    assert written == [{"first": "Ada", "last": "Lovelace", "full": "Ada Lovelace"}]


def test_value_maps_fail_the_record_when_the_map_says_so(harness):
    node = {"type": "map", "config": {"fields": {"code": "{{ record.c | value_map('codes') }}"}}}
    maps = {"codes": {"entries": {"a": "Alpha"}, "on_missing": "fail"}}
    _, written, letters = harness(node, [{"c": " A "}, {"c": "b"}], value_maps=maps)
    assert written == [{"code": "Alpha"}]
    assert "'b' has no entry in value map 'codes'" in letters[0].reason


def test_filter_accepts_a_condition_wrapped_in_braces(harness):
    node = {"type": "filter", "config": {"condition": "{{ record.n > 1 }}"}}
    result, written, _ = harness(node, [{"n": 1}, {"n": 2}, {"n": 3}], port="match")
    assert [r["n"] for r in written] == [2, 3]
    assert result.totals["filtered"] == 1


def test_transform_steps_apply_in_order(harness):
    node = {
        "type": "transform",
        "config": {
            "steps": [
                {"op": "set", "field": "label", "value": "#{{ record.id }}"},
                {"op": "compute", "field": "double", "expression": "record.n * 2"},
                {"op": "rename", "from": "n", "to": "count"},
                {"op": "drop", "fields": ["secret"]},
                {
                    "op": "each",
                    "field": "items",
                    "steps": [{"op": "compute", "field": "total", "expression": "record.q * record.p"}],
                },
            ]
        },
    }
    _, written, _ = harness(node, [{"id": 7, "n": 3, "secret": "x", "items": [{"q": 2, "p": 1.5}, {"q": 1, "p": 4}]}])
    assert written == [
        {
            "id": 7,
            "count": 3,
            "label": "#7",
            "double": 6,
            "items": [{"q": 2, "p": 1.5, "total": 3.0}, {"q": 1, "p": 4, "total": 4}],
        }
    ]


def test_a_failing_item_fails_its_whole_record(harness):
    node = {
        "type": "transform",
        "config": {
            "steps": [
                {
                    "op": "each",
                    "field": "items",
                    "steps": [{"op": "compute", "field": "t", "expression": "record.q * 'x' * 10**6"}],
                }
            ]
        },
    }
    _, written, letters = harness(node, [{"id": 1, "items": [{"q": 1}]}, {"id": 2, "items": []}])
    assert written == [{"id": 2, "items": []}]
    assert letters[0].record["id"] == 1 and "an item of 'items' failed" in letters[0].reason


def test_keep_leaves_only_the_named_fields(harness):
    node = {"type": "transform", "config": {"steps": [{"op": "keep", "fields": ["a", "c"]}]}}
    _, written, _ = harness(node, [{"a": 1, "b": 2}])
    assert written == [{"a": 1, "c": None}]


def test_lookup_finds_one_row_fails_when_none_and_collects_many(harness, store, tmp_path):
    db = tmp_path / "ref.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (number INTEGER PRIMARY KEY, crm_id INTEGER, name TEXT)")
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)", [(100, 1, "Ann"), (101, 2, "Bob"), (102, 2, "Bob 2")]
        )
    set_connection(store, "ref", "sandbox", "sql", {"url": f"sqlite:///{db}"})
    one = {
        "type": "transform",
        "config": {
            "steps": [
                {
                    "op": "lookup",
                    "connection": "ref",
                    "table": "customers",
                    "match": {"crm_id": "{{ record.id }}"},
                    "fields": {"customer_number": "number"},
                }
            ]
        },
    }
    _, written, letters = harness(one, [{"id": 1}, {"id": 2}, {"id": 3}])
    assert written == [{"id": 1, "customer_number": 100}]
    reasons = sorted(d.reason for d in letters)
    assert reasons == ["2 rows in ref.customers match crm_id=2; expected one", "no row in ref.customers with crm_id=3"]
    many = {
        "type": "transform",
        "config": {
            "steps": [
                {
                    "op": "lookup",
                    "connection": "ref",
                    "table": "customers",
                    "match": {"crm_id": "{{ record.id }}"},
                    "many": True,
                    "as": "rows",
                    "columns": ["number"],
                    "order_by": "number",
                    "required": False,
                }
            ]
        },
    }
    _, written, _ = harness(many, [{"id": 2}, {"id": 3}])
    assert written == [{"id": 2, "rows": [{"number": 101}, {"number": 102}]}, {"id": 3, "rows": []}]


def test_the_input_record_is_never_changed_for_another_branch(store, tmp_path):
    set_connection(store, "files", "sandbox", "file", {"path": str(tmp_path)})
    document = {
        "schema_version": 1,
        "id": "branches",
        "name": "branches",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "change",
                "type": "transform",
                "config": {
                    "steps": [{"op": "set", "field": "name", "value": "changed"}, {"op": "drop", "fields": ["id"]}]
                },
            },
            {"id": "a", "type": "write.file", "config": {"connection": "files", "path": "a.jsonl"}},
            {"id": "b", "type": "write.file", "config": {"connection": "files", "path": "b.jsonl"}},
        ],
        "edges": [{"from": "start", "to": "change"}, {"from": "start", "to": "b"}, {"from": "change", "to": "a"}],
    }
    run_flow(store, document, payload=[{"id": 1, "name": "original"}])
    assert json.loads((tmp_path / "b.jsonl").read_text()) == {"id": 1, "name": "original"}
    assert json.loads((tmp_path / "a.jsonl").read_text()) == {"name": "changed"}
