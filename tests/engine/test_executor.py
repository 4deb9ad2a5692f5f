"""The executor on small literal flows over real SQLite files and folders: routing, ledger, cursors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import nodes
from app.engine.executor import RunRequest, execute
from app.engine.plan import compile_plan
from app.errors import InvalidFlow
from app.services.runs import StoreRunServices, run_flow
from app.store import runs
from app.store.connections import set_connection
from app.store.models import Run
from nodes.base import NodeType, Outcome, Processor


@pytest.fixture
def source(store, tmp_path: Path) -> Path:
    """A `src` connection with 2,500 people (ids 1..2500), and an empty `dst` with a unique email."""
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    with sqlite3.connect(src) as db:
        db.execute(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER, updated_at TEXT NOT NULL)"
        )
        db.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, ?)",
            [
                (i, f"Person {i}", f"p{i % 2000}@x.org", i % 90, f"2026-01-01 00:{i % 60:02d}:00")
                for i in range(1, 2501)
            ],
        )
    with sqlite3.connect(dst) as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, age INTEGER)")
        db.execute("CREATE TABLE adults (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        db.execute("CREATE TABLE everyone (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    set_connection(store, "src", "sandbox", "sql", {"url": f"sqlite:///{src}"})
    set_connection(store, "dst", "sandbox", "sql", {"url": f"sqlite:///{dst}"})
    set_connection(store, "files", "sandbox", "file", {"path": str(tmp_path / "files")})
    return dst


def flow(nodes: list[dict], edges: list[tuple], **extra) -> dict:
    return {
        "schema_version": 1,
        "id": "test_flow",
        "name": "test",
        **extra,
        "nodes": [{"id": "start", "type": "trigger.manual", "config": {}}, *nodes],
        "edges": [{"from": e[0], "to": e[-1], **({"port": e[1]} if len(e) == 3 else {})} for e in edges],
    }


READ = {"id": "read", "type": "read.sql", "config": {"connection": "src", "table": "people"}}


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_fan_out_gives_each_branch_every_record_and_fan_in_concatenates(store, source):
    document = flow(
        [
            READ,
            {"id": "adult", "type": "filter", "config": {"condition": "record.age >= 18"}},
            {"id": "minor", "type": "filter", "config": {"condition": "record.age < 18"}},
            {"id": "both", "type": "map", "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.name }}"}}},
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "everyone", "key": "id"}},
        ],
        [
            ("start", "read"),
            ("read", "adult"),
            ("read", "minor"),
            ("adult", "match", "both"),
            ("minor", "match", "both"),
            ("both", "write"),
        ],
    )
    result = run_flow(store, document, batch_size=300)
    assert result.status == "succeeded", result.error
    nodes = result.ledger.summary()
    assert nodes["adult"]["in"] == nodes["minor"]["in"] == 2500
    assert nodes["both"]["in"] == 2500  # the two halves joined again
    assert count(source, "everyone") == 2500


def test_a_failing_expression_fails_one_record_and_the_others_go_on(store, source):
    document = flow(
        [
            READ,
            {
                "id": "shape",
                "type": "map",
                "config": {
                    "fields": {
                        "id": "{{ record.id }}",
                        "name": "{{ record.name }}",
                        "age": "{{ 100 // (record.age - 7) }}",
                    }
                },
            },
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "people", "key": "id"}},
        ],
        [("start", "read"), ("read", "shape"), ("shape", "write")],
    )
    result = run_flow(store, document)
    failing = sum(1 for i in range(1, 2501) if i % 90 == 7)
    assert result.status == "partial"
    assert result.totals["failed"] == failing
    assert result.totals["inserted"] == 2500 - failing
    letters = runs.dead_letters(store, run_id=result.run_id, limit=5000)
    assert len(letters) == failing
    assert all(d.node_id == "shape" and "'age'" in d.reason and "ZeroDivisionError" in d.reason for d in letters)
    assert all(d.record["age"] == 7 for d in letters)  # the record as it entered the node


def test_a_target_refusing_one_write_fails_that_record_only(store, source):
    document = flow(
        [
            READ,
            {
                "id": "shape",
                "type": "map",
                "config": {
                    "fields": {"id": "{{ record.id }}", "name": "{{ none if record.id == 1234 else record.name }}"}
                },
            },
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "people", "key": "id"}},
        ],
        [("start", "read"), ("read", "shape"), ("shape", "write")],
    )
    result = run_flow(store, document)
    letters = runs.dead_letters(store, run_id=result.run_id)
    assert [(d.node_id, d.record["id"]) for d in letters] == [("write", 1234)]
    assert "NOT NULL" in letters[0].reason and "people" in letters[0].reason
    assert count(source, "people") == 2499


def test_dedupe_keeps_the_first_record_per_key_and_counts_the_rest_as_filtered(store, source):
    document = flow(
        [
            READ,
            {"id": "unique", "type": "transform", "config": {"steps": [{"op": "dedupe", "key": "record.email"}]}},
            {
                "id": "shape",
                "type": "map",
                "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.email }}"}},
            },
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "everyone", "key": "id"}},
        ],
        [("start", "read"), ("read", "unique"), ("unique", "shape"), ("shape", "write")],
    )
    result = run_flow(store, document, batch_size=700)
    assert result.totals["inserted"] == 2000
    assert result.totals["filtered"] == 500
    with sqlite3.connect(source) as db:
        assert db.execute("SELECT MAX(id) FROM everyone").fetchone()[0] == 2000  # the first of each pair


def test_dedupe_keeping_the_newest_holds_records_until_the_end(store, source):
    document = flow(
        [
            READ,
            {
                "id": "unique",
                "type": "transform",
                "config": {
                    "steps": [{"op": "dedupe", "key": "record.email", "keep": "newest", "order_by": "record.id"}]
                },
            },
            {
                "id": "shape",
                "type": "map",
                "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.email }}"}},
            },
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "everyone", "key": "id"}},
        ],
        [("start", "read"), ("read", "unique"), ("unique", "shape"), ("shape", "write")],
    )
    result = run_flow(store, document, batch_size=700)
    assert result.status == "succeeded", result.error
    assert result.totals["inserted"] == 2000 and result.totals["filtered"] == 500
    with sqlite3.connect(source) as db:
        ids = {r[0] for r in db.execute("SELECT id FROM everyone")}
    assert ids == set(range(501, 2501))  # p1..p500 appear twice; the later id wins


def test_a_cursor_waits_for_the_end_of_the_run_when_a_node_holds_records(store, source):
    document = flow(
        [
            {**READ, "config": {**READ["config"], "cursor": "updated_at"}},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "people.jsonl"}},
        ],
        [("start", "read"), ("read", "out")],
    )
    plan = compile_plan(document)
    committed = []

    class Recorder(StoreRunServices):
        def commit_cursor(self, flow_id, node_id, env, position):
            committed.append((position, (Path(store.home) / "files" / "people.jsonl").exists()))
            super().commit_cursor(flow_id, node_id, env, position)

    run = Run(id="r-hold", flow_id="test_flow", env="sandbox")
    runs.start_run(store, run)
    result = execute(plan, RunRequest(run_id=run.id, batch_size=400), Recorder(store, run))
    assert result.status == "succeeded", result.error
    assert len(committed) == 1  # once, at the end, not per batch
    assert committed[0][1], "the cursor moved before the file was in place"


def test_a_dry_run_writes_nothing_and_reports_what_it_would_do(store, source):
    document = flow(
        [
            READ,
            {
                "id": "shape",
                "type": "map",
                "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.name }}"}},
            },
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "everyone", "key": "id"}},
        ],
        [("start", "read"), ("read", "shape"), ("shape", "write")],
    )
    result = run_flow(store, document, dry_run=True)
    assert result.totals["inserted"] == 2500
    assert count(source, "everyone") == 0
    assert len(result.changes["write"]) == 2500
    assert result.changes["write"][0] == {
        "outcome": "inserted",
        "key": {"id": 1},
        "before": None,
        "after": {"id": 1, "name": "Person 1"},
    }


def transform_type(name: str, build: type[Processor]) -> NodeType:
    """A node type of a test's own, for a registry of its own."""
    return NodeType(
        type=name, family="transform", title=name, description="", config_schema={"type": "object"}, build=build
    )


def test_a_node_that_loses_records_fails_the_run_by_the_ledger(store, source):
    class Leaky(Processor):
        def __init__(self, config, context):
            pass

        def process(self, records):
            return Outcome(ports={"out": records[1:]})  # drops one record per batch: a bug

    leaky = transform_type("test.leaky", Leaky)
    document = flow(
        [
            READ,
            {"id": "shape", "type": "test.leaky", "config": {}},
            {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "everyone", "key": "id"}},
        ],
        [("start", "read"), ("read", "shape"), ("shape", "write")],
    )
    plan = compile_plan(document, types={**nodes.registry(), leaky.type: leaky})  # a registry of its own
    run = Run(id="r-leak", flow_id="test_flow", env="sandbox")
    runs.start_run(store, run)
    result = execute(plan, RunRequest(run_id=run.id, batch_size=1000), StoreRunServices(store, run))
    assert result.status == "failed"
    assert "ledger does not balance" in result.error and "'shape'" in result.error


def test_a_missing_connection_fails_the_run_with_a_message_naming_it(store, source):
    document = flow(
        [
            {**READ, "config": {"connection": "nowhere", "table": "people"}},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "x.csv"}},
        ],
        [("start", "read"), ("read", "out")],
    )
    result = run_flow(store, document)
    assert result.status == "failed"
    assert "no connection 'nowhere'" in result.error and "sandbox" in result.error


def test_a_missing_table_fails_the_run_with_a_message_naming_it(store, source):
    document = flow(
        [
            {**READ, "config": {"connection": "src", "table": "peeple"}},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "x.csv"}},
        ],
        [("start", "read"), ("read", "out")],
    )
    result = run_flow(store, document)
    assert result.status == "failed" and "peeple" in result.error


def test_file_to_file_round_trip(store, source, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "in.csv").write_text("id,name\n1,Ann\n2,Bob\n3,\n")
    document = flow(
        [
            {"id": "read", "type": "read.file", "config": {"connection": "files", "path": "in.csv"}},
            {"id": "named", "type": "filter", "config": {"condition": "record.name"}},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "out.jsonl"}},
        ],
        [("start", "read"), ("read", "named"), ("named", "match", "out")],
    )
    result = run_flow(store, document)
    assert result.status == "succeeded", result.error
    lines = [json.loads(line) for line in (folder / "out.jsonl").read_text().splitlines()]
    assert lines == [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]
    assert result.totals == {"read": 3, "filtered": 1, "inserted": 2, "updated": 0, "unchanged": 0, "failed": 0}


def test_a_run_may_bring_its_own_node_types_without_touching_the_registry(store, source, tmp_path):
    class Shout(Processor):
        def __init__(self, config, context):
            pass

        def process(self, records):
            return Outcome(ports={"out": [{**r, "name": str(r["name"]).upper()} for r in records]})

    shout = transform_type("test.shout", Shout)
    document = flow(
        [
            READ,
            {"id": "shout", "type": "test.shout", "config": {}},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "loud.jsonl"}},
        ],
        [("start", "read"), ("read", "shout"), ("shout", "out")],
    )
    with pytest.raises(InvalidFlow, match="unknown node type 'test.shout'"):
        compile_plan(document)  # the registry of nodes/ does not know it
    result = run_flow(store, document, types={**nodes.registry(), shout.type: shout})
    assert result.status == "succeeded", result.error
    written = [json.loads(line) for line in (tmp_path / "files" / "loud.jsonl").read_text().splitlines()]
    assert written and all(row["name"] == row["name"].upper() and row["name"].startswith("PERSON") for row in written)
    assert "test.shout" not in nodes.registry()


def test_a_composition_root_with_node_types_of_its_own_runs_them_through_the_door(store, source, tmp_path):
    from app.composition import Flowbridge, Settings
    from app.services import door
    from app.services.access import admin

    class Tag(Processor):
        def __init__(self, config, context):
            pass

        def process(self, records):
            return Outcome(ports={"out": [{**r, "name": f"{r['name']} (tagged)"} for r in records]})

    root = Flowbridge(
        Settings(), store=store, node_types={**nodes.registry(), "test.tag": transform_type("test.tag", Tag)}
    )
    document = flow(
        [
            READ,
            {"id": "tag", "type": "test.tag", "config": {}},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "tagged.jsonl"}},
        ],
        [("start", "read"), ("read", "tag"), ("tag", "out")],
    )
    result = door.start(
        root.store, admin("test"), door.RunStart(env="sandbox", document=document, types=root.node_types)
    )
    assert result.status == "succeeded", result.error
    written = [json.loads(line) for line in (tmp_path / "files" / "tagged.jsonl").read_text().splitlines()]
    assert written and all(row["name"].endswith(" (tagged)") for row in written)
    assert Flowbridge(Settings(), store=store).node_types is nodes.registry()  # others keep the built-ins
