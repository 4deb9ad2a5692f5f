"""Dead letters: retried from the node that failed them (edited or not), by reason, or discarded."""

from __future__ import annotations

import sqlite3

import pytest

from app.errors import FlowbridgeError
from app.services import dead_letters
from app.services.access import admin
from app.services.runs import run_flow
from app.store import runs
from app.store.flows import get_document
from tests.ops.helpers import count, flow, store_flow, target

MANUAL = {"type": "trigger.manual"}


def failed_run(store, tmp_path, records):
    path = target(store, tmp_path)
    flow_id = store_flow(
        store,
        flow(
            "letters",
            MANUAL,
            [
                {
                    "id": "shape",
                    "type": "map",
                    "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.name }}"}},
                },
                {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}},
            ],
        ),
    )
    document, version = get_document(store, flow_id)
    result = run_flow(store, document, version=version, env="production", payload=records)
    return flow_id, path, result, runs.dead_letters(store, run_id=result.run_id)


def test_an_edited_record_is_retried_from_the_node_that_failed_it(store, tmp_path):
    flow_id, path, result, letters = failed_run(store, tmp_path, [{"id": 1, "name": "ok"}, {"id": 2, "name": None}])
    assert [(d.node_id, d.record) for d in letters] == [("write", {"id": 2, "name": None})]
    assert "NOT NULL" in letters[0].reason
    run_ids = dead_letters.retry(store, [letters[0].id], who=admin("maria"), edited={"id": 2, "name": "fixed"})
    retry = runs.get_run(store, run_ids[0])
    assert retry.trigger == "retry" and retry.status == "succeeded" and retry.started_by == "maria"
    assert runs.run_ledger(store, retry.id)["write"]["inserted"] == 1
    assert runs.run_ledger(store, retry.id)["shape"]["in"] == 0  # it did not go through the map again
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM items WHERE id = 2").fetchone() == ("fixed",)
    letter = dead_letters.get_letter(store, letters[0].id)
    assert (letter.status, letter.resolved_by, letter.retried_in) == ("retried", "maria", retry.id)
    assert letter.resolved_at is not None


def test_a_record_that_fails_again_is_a_new_dead_letter_nothing_is_lost(store, tmp_path):
    flow_id, path, result, letters = failed_run(store, tmp_path, [{"id": 3, "name": None}])
    run_ids = dead_letters.retry(store, [letters[0].id], who=admin("ops"))
    again = runs.dead_letters(store, run_id=run_ids[0])
    assert [d.record for d in again] == [{"id": 3, "name": None}] and again[0].status == "open"
    assert dead_letters.get_letter(store, letters[0].id).status == "retried"
    with pytest.raises(FlowbridgeError, match="retried already"):
        dead_letters.retry(store, [letters[0].id], who=admin("ops"))


def test_all_letters_of_one_reason_are_retried_together_and_others_discarded(store, tmp_path):
    records = [{"id": n, "name": None} for n in range(10, 15)]
    flow_id, path, result, letters = failed_run(store, tmp_path, records)
    groups = dead_letters.reasons(store, flow_id)
    assert len(groups) == 1 and groups[0]["count"] == 5
    dead_letters.discard(store, [letters[0].id], who=admin("maria"))
    assert dead_letters.get_letter(store, letters[0].id).resolved_by == "maria"
    with sqlite3.connect(path) as db:  # the target now takes a missing name
        db.execute("ALTER TABLE items RENAME TO items_old")
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    run_ids = dead_letters.retry_reason(store, flow_id, "write", groups[0]["reason"], who=admin("ops"))
    assert len(run_ids) == 1
    assert count(path) == 4  # the four still open; the discarded one stays out
    assert {d.status for d in runs.dead_letters(store, flow_id=flow_id, status=None)} == {"retried", "discarded"}


def test_a_record_failing_on_every_run_keeps_one_open_letter_that_counts_and_says_when(store, tmp_path):
    flow_id, path, first, letters = failed_run(store, tmp_path, [{"id": 7, "name": None}, {"id": 8, "name": "ok"}])
    document, version = get_document(store, flow_id)
    for _ in range(2):  # the next runs read the same bad record again
        again = run_flow(store, document, version=version, env="production", payload=[{"id": 7, "name": None}])
        assert again.totals["failed"] == 1
    [letter] = runs.dead_letters(store, flow_id=flow_id)
    assert (letter.id, letter.count, letter.run_id) == (letters[0].id, 3, again.run_id)
    assert letter.last_seen_at >= letter.created_at
    [group] = dead_letters.reasons(store, flow_id)
    assert group["count"] == 1  # "Retry all" retries it once, not three times
    run_ids = dead_letters.retry_reason(store, flow_id, "write", group["reason"], who=admin("ops"))
    [retried] = runs.dead_letters(store, run_id=run_ids[0])  # it fails again: one new open letter
    assert retried.count == 1 and retried.id != letter.id


def test_a_dry_run_says_what_the_database_would_refuse_and_writes_nothing(store, tmp_path):
    path = target(store, tmp_path)
    flow_id = store_flow(store, flow("rehearsed", MANUAL))
    document, version = get_document(store, flow_id)
    dry = run_flow(
        store,
        document,
        version=version,
        env="production",
        dry_run=True,
        payload=[{"id": 1, "name": "fine"}, {"id": 2, "name": None}],
    )
    assert dry.totals["inserted"] == 1 and dry.totals["failed"] == 1
    [would_fail] = runs.kept_records(store, dry.run_id, "failed")["write"]
    assert would_fail["record"] == {"id": 2, "name": None} and "NOT NULL" in would_fail["reason"]
    assert count(path) == 0 and runs.dead_letters(store, flow_id=flow_id) == []  # rolled back, no letters
