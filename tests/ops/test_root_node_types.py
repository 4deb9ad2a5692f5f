"""A composition root with node types of its own: every caller it is handed to uses them.

The web app, the API, webhooks, the scheduler and the CLI get their node types from the root
(`Flowbridge.node_types`), not from the registry of nodes/ behind its back: a flow using a type only
this root knows switches on, runs from the API and from a webhook, and is offered in the palette;
through a root of the built-ins alone the same stored flow is a draft.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

import nodes
from app.composition import Flowbridge, Settings
from app.services import designer, door, isolation
from app.services.access import admin
from app.services.webhooks import TOKEN_HEADER, secret_for
from app.store import flows as flow_store
from app.store import runs
from app.store.database import Store
from nodes.base import NodeType, Outcome, Processor
from tests.ops.helpers import flow, store_flow, target
from tests.ops.test_webhooks_and_api import WEBHOOK, server  # noqa: F401  (the API on a real server)


class Shout(Processor):
    """Names in capitals: a transform no built-in type does, so its result shows who ran it."""

    def __init__(self, config, context):
        pass

    def process(self, records):
        return Outcome(ports={"out": [{**r, "name": str(r["name"]).upper()} for r in records]})


SHOUT = NodeType(
    type="test.shout", family="transform", title="Shout", description="", config_schema={"type": "object"}, build=Shout
)
WRITE = {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}}


@pytest.fixture
def root(store: Store) -> Iterator[Flowbridge]:
    """This module's root (it stands in for conftest's): the built-ins and test.shout."""
    built = Flowbridge(Settings(), store=store, node_types={**nodes.registry(), SHOUT.type: SHOUT})
    yield built
    built.stop()


def test_a_flow_using_the_roots_own_type_switches_on_and_runs_from_the_api_and_a_webhook(
    server,  # noqa: F811
    root,
    store,
    tmp_path,
):
    path = target(store, tmp_path)
    flow_id = store_flow(store, flow("shouting", WEBHOOK, [{"id": "shout", "type": "test.shout"}, WRITE]))

    switched = httpx.post(f"{server}/api/flows/{flow_id}/on", timeout=10)
    assert switched.status_code == 200, switched.text
    listed = {f["id"]: f for f in httpx.get(f"{server}/api/flows", timeout=10).json()}
    assert listed[flow_id]["enabled"] is True and listed[flow_id]["trigger"] == "webhook"
    by_hand = httpx.post(
        f"{server}/api/flows/{flow_id}/run", params={"env": "sandbox"}, json=[{"id": 1, "name": "ada"}], timeout=10
    )
    hooked = httpx.post(
        f"{server}/hooks/{flow_id}",
        json=[{"id": 2, "name": "grace"}],
        headers={TOKEN_HEADER: secret_for(store, flow_id)},
        timeout=10,
    )
    assert (by_hand.status_code, hooked.status_code) == (202, 202), (by_hand.text, hooked.text)
    root.queues.drain()

    assert sorted((r.trigger, r.status) for r in runs.list_runs(store, flow_id=flow_id)) == [
        ("manual", "succeeded"),
        ("webhook", "succeeded"),
    ]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, name FROM items ORDER BY id").fetchall() == [(1, "ADA"), (2, "GRACE")]
    assert "test.shout" in {t["type"] for t in designer.node_type_catalog(root.node_types)}


def test_through_a_root_of_the_built_ins_the_same_flow_is_a_draft(store, tmp_path):
    target(store, tmp_path)
    flow_id = store_flow(store, flow("shouting", WEBHOOK, [{"id": "shout", "type": "test.shout"}, WRITE]))
    plain = Flowbridge(Settings(), store=store)
    document, _ = flow_store.get_document(store, flow_id)
    checked = designer.check_document(document, plain.node_types)
    assert any("unknown node type 'test.shout'" in sentence for sentence in checked.sentences())
    assert "test.shout" not in {t["type"] for t in designer.node_type_catalog(plain.node_types)}


def test_a_run_in_a_child_process_gets_the_roots_own_types(root, store, tmp_path):
    """`flowbridge serve` runs each run in a child process: the root's own set travels with it."""
    path = target(store, tmp_path)
    document = flow("shouting", {"type": "trigger.manual"}, [{"id": "shout", "type": "test.shout"}, WRITE])
    isolation.isolate_runs(isolation.RunLimits())
    try:
        result = door.start(
            root.store,
            admin("test"),
            door.RunStart(env="sandbox", document=document, payload=[{"id": 3, "name": "lin"}], types=root.node_types),
        )
    finally:
        isolation.isolate_runs(None)
    assert result.status == "succeeded", result.error
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, name FROM items").fetchall() == [(3, "LIN")]
