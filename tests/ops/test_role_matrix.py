"""Who may do what, as one table: every REST API endpoint and every action the web pages offer
(through the services they call), for every role and for a caller who is not signed in.

An allowed caller gets past the role check (what happens next, a 404 for an unknown run say, is
not this test's business); a refused one gets 403 (or Forbidden), and one without a token 401."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.errors import FlowbridgeError
from app.services import access, alerts, dead_letters, designer, operations, replay, sandboxes, switches
from tests.ops.test_webhooks_and_api import server  # noqa: F401  (the API on a real server)

FLOW = "crm_accounts_to_erp_customers"
ROLES = ("admin", "analyst", "tester", "viewer", None)  # None: nobody signed in
EVERYONE = {"admin", "analyst", "tester", "viewer"}
EDITORS = {"admin", "analyst"}
RUNNERS = {"admin", "analyst", "tester"}
ADMINS = {"admin"}

API = [  # method, path, who may
    ("GET", "/api/flows", EVERYONE),
    ("POST", f"/api/flows/{FLOW}/on", ADMINS),
    ("POST", f"/api/flows/{FLOW}/off", ADMINS),
    ("DELETE", "/api/flows/no_such_flow", ADMINS),
    ("GET", f"/api/flows/{FLOW}/switches", EVERYONE),
    ("POST", "/api/flows/no_such_flow/run?env=sandbox", RUNNERS),
    ("POST", "/api/flows/no_such_flow/run?env=production", ADMINS),
    ("GET", "/api/runs", EVERYONE),
    ("GET", "/api/runs/no_such_run", EVERYONE),
    ("POST", "/api/runs/no_such_run/replay", RUNNERS),
    ("GET", "/api/dead-letters", EVERYONE),
    ("POST", "/api/dead-letters/999/retry", EDITORS),
    ("POST", f"/api/dead-letters/retry?flow={FLOW}&node=customers&reason=x", EDITORS),
    ("POST", "/api/dead-letters/999/discard", EDITORS),
    ("GET", "/api/alerts", EVERYONE),
]


def _document() -> dict[str, Any]:
    return json.loads((Path(__file__).resolve().parents[2] / "flows" / f"{FLOW}.json").read_text())


QUEUES = operations.RunQueues()  # where a page's "Run now" would queue its run (a root's)
UI = [  # what a page does when a button is pressed: the service it calls, and who may
    ("Import JSON", lambda store, who: designer.import_document(store, _document(), who=who), EDITORS),
    (
        "Save a version",
        lambda store, who: designer.save_document(store, _document(), who=who, comment="", based_on=None),
        EDITORS,
    ),
    ("Switch a flow", lambda store, who: switches.switch(store, FLOW, False, who=who), ADMINS),
    ("Acknowledge an alert", lambda store, who: alerts.acknowledge(store, 999, who=who), EDITORS),
    ("Retry a dead letter", lambda store, who: dead_letters.retry(store, [999], who=who), EDITORS),
    ("Discard a dead letter", lambda store, who: dead_letters.discard(store, [999], who=who), EDITORS),
    (
        "Run now (sandbox)",
        lambda store, who: operations.queue_flow_run(
            store, "no_such_flow", None, queues=QUEUES, env="sandbox", who=who
        ),
        RUNNERS,
    ),
    (
        "Run in production",
        lambda store, who: operations.queue_flow_run(
            store, "no_such_flow", None, queues=QUEUES, env="production", who=who
        ),
        ADMINS,
    ),
    ("Replay a run", lambda store, who: replay.replay(store, "no_such_run", who=who), RUNNERS),
    ("Save a test case", lambda store, who: replay.save_case(store, "no_such_run", "x", who=who), RUNNERS),
    ("Run the test cases", lambda store, who: replay.run_cases(store, FLOW, who=who), RUNNERS),
    ("Delete a test case", lambda store, who: replay.delete_case(store, 999, who=who), RUNNERS),
    # The Sandbox page (not running here: a check past the role refuses for that reason instead)
    ("Set sandbox faults", lambda store, who: sandboxes.set_faults("crm", {}, who=who), RUNNERS),
    ("Reset the sandboxes", lambda store, who: sandboxes.reset(who=who), RUNNERS),
    ("Stop the sandboxes", lambda store, who: sandboxes.stop(who=who), RUNNERS),
]


@pytest.fixture
def tokens(store, demo) -> dict[str | None, str | None]:
    return {role: access.add_user(store, f"{role}_user", role) for role in ROLES if role} | {None: None}


@pytest.mark.parametrize("role", ROLES, ids=[r or "nobody" for r in ROLES])
def test_every_api_endpoint_allows_exactly_its_roles(server, tokens, role):  # noqa: F811
    outcomes = {}
    for method, path, allowed in API:
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        reply = httpx.request(method, server + path, headers=headers, timeout=30)
        expected = "allowed" if role in allowed else ("401" if role is None else "403")
        got = {401: "401", 403: "403"}.get(reply.status_code, "allowed")
        outcomes[f"{method} {path}"] = (got, expected)
        if got != "allowed":
            assert reply.json()["detail"], path
    assert {k: g for k, (g, e) in outcomes.items() if g != e} == {}


@pytest.mark.parametrize("role", ROLES, ids=[r or "nobody" for r in ROLES])
def test_every_page_action_is_checked_by_the_service_it_calls(store, demo, role):
    who = access.Principal(f"{role}_user", role) if role else None
    outcomes = {}
    for action, call, allowed in UI:
        try:
            call(store, who)
            got = "allowed"
        except access.Forbidden:
            got = "refused"
        except access.Unauthenticated:
            got = "sign in"
        except FlowbridgeError:
            got = "allowed"  # past the role check: refused for another reason (unknown run, say)
        expected = "allowed" if role in allowed else ("sign in" if role is None else "refused")
        outcomes[action] = (got, expected)
    QUEUES.drain()
    assert {k: g for k, (g, e) in outcomes.items() if g != e} == {}
