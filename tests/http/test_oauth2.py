"""write.http through an API behind OAuth2 client credentials (tests/http/oauth2_api.py, served on
127.0.0.1): a token fetched once and renewed when the API revokes it or it is about to expire,
nothing lost and nothing written twice; a refused client stops the run with one sentence; a token
endpoint that is down for a moment is retried."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.http_serve import serve_app
from app.services.runs import run_flow
from app.store import runs
from app.store.connections import connection_spec, set_connection
from tests.http.oauth2_api import CLIENT_ID, CLIENT_SECRET, TokenServer, oauth2_api

ORDERS = [{"number": f"SO-{n:03}", "total": n * 10} for n in range(1, 13)]
WRITE = {
    "id": "write",
    "type": "write.http",
    "config": {
        "connection": "erp_oauth",
        "method": "POST",
        "path": "/orders",
        "key": "number",
        "mode": "insert",
        "find": {"path": "/orders", "params": {"number": "{number}"}, "record_path": ""},
        "id_field": "id",
    },
}
DOCUMENT = {
    "schema_version": 1,
    "id": "orders_over_oauth2",
    "name": "Orders over OAuth2",
    "nodes": [{"id": "start", "type": "trigger.manual"}, WRITE],
    "edges": [{"from": "start", "to": "write"}],
}


@pytest.fixture
def oauth_server() -> Iterator[tuple[str, TokenServer]]:
    server = TokenServer()
    served = serve_app(oauth2_api(server), name="oauth2 api")
    yield served.url, server
    served.stop()


def connect(store, url: str, **settings) -> None:
    set_connection(
        store,
        "erp_oauth",
        "sandbox",
        "http",
        {
            "base_url": url,
            "auth": "oauth2_client_credentials",
            "token_url": f"{url}/oauth/token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "retry_wait": 0.01,
            **settings,
        },
    )


def test_a_token_revoked_mid_run_is_renewed_and_every_order_is_written_once(store, oauth_server):
    url, server = oauth_server
    server.revoke_after = 5  # the API stops taking a token after 5 calls (find + create per order)
    connect(store, url)
    result = run_flow(store, DOCUMENT, payload=ORDERS)
    assert result.status == "succeeded", result.error
    assert sorted(server.orders) == [o["number"] for o in ORDERS]  # every one, none twice
    assert result.totals["inserted"] == 12
    # 24 calls, 5 per token: renewed after each 401, and only then (the first token before any call)
    assert server.token_requests == len(server.issued) == 5
    assert runs.dead_letters(store, run_id=result.run_id, status=None) == []
    # The client secret went to the token endpoint only: the API saw bearer tokens, never Basic.
    assert server.api_authorizations and all(a.startswith("Bearer ") for a in server.api_authorizations)


def test_a_token_about_to_expire_is_renewed_before_the_call_not_after_a_401(store, oauth_server):
    url, server = oauth_server
    server.expires_in = 10  # inside the 30-second leeway: due for renewal at every call
    connect(store, url)
    result = run_flow(store, DOCUMENT, payload=ORDERS[:3])
    assert result.status == "succeeded", result.error
    assert len(server.orders) == 3
    assert server.token_requests == len(server.api_authorizations) == 6  # one fresh token per call, no 401
    assert all(uses == 1 for uses in server.issued.values())


def test_a_wrong_client_secret_stops_the_run_with_one_sentence_and_writes_nothing(store, oauth_server):
    url, server = oauth_server
    connect(store, url, client_secret="not-the-secret")
    result = run_flow(store, DOCUMENT, payload=ORDERS)
    assert result.status == "failed"
    assert result.error.startswith(
        f"connection 'erp_oauth' (sandbox): token endpoint {url}/oauth/token refused the client "
        "(invalid_client: client authentication failed)"
    ), result.error
    assert "not-the-secret" not in result.error and "Traceback" not in result.error
    assert server.orders == {} and server.api_authorizations == []
    assert server.token_requests == 1  # a refusal is not retried


def test_a_token_endpoint_down_for_a_moment_is_retried_and_one_down_for_good_fails_the_run(store, oauth_server):
    url, server = oauth_server
    server.unavailable = 2
    connect(store, url)
    result = run_flow(store, DOCUMENT, payload=ORDERS[:2])
    assert result.status == "succeeded", result.error
    assert server.token_requests == 3 and len(server.orders) == 2

    server.orders.clear()
    server.issued.clear()
    server.token_requests, server.unavailable = 0, 1000
    connect(store, url, retry_attempts=3)
    down = run_flow(store, {**DOCUMENT, "id": "orders_again"}, payload=ORDERS[:2])
    # Each order gave up after the connection's 3 attempts and waits as a dead letter: not lost.
    assert down.status == "partial" and server.orders == {}
    reasons = [letter.reason for letter in runs.dead_letters(store, run_id=down.run_id, status=None)]
    assert (
        reasons
        == [f"gave up after 3 attempts: connection 'erp_oauth' (sandbox): token endpoint {url}/oauth/token: HTTP 503"]
        * 2
    )
    assert server.token_requests == 3 * 2  # bounded: the connection's attempts, per record


def test_a_slow_token_endpoint_is_waited_for_a_bounded_time_and_asked_again(store, oauth_server):
    url, server = oauth_server
    server.slow, server.slow_seconds = 1, 2.0  # the first answer comes after the connection stops waiting
    connect(store, url, timeout=0.5)
    result = run_flow(store, DOCUMENT, payload=ORDERS[:2])
    assert result.status == "succeeded", result.error
    assert server.token_requests == 2 and len(server.orders) == 2  # asked again, once

    server.orders.clear()
    server.token_requests, server.slow = 0, 1000
    connect(store, url, timeout=0.5, retry_attempts=2)
    slow = run_flow(store, {**DOCUMENT, "id": "orders_slowly"}, payload=ORDERS[:1])
    assert slow.status == "partial" and server.orders == {}
    [letter] = runs.dead_letters(store, run_id=slow.run_id, status=None)
    assert letter.reason == (
        f"gave up after 2 attempts: connection 'erp_oauth' (sandbox): token endpoint {url}/oauth/token: no answer in time"
    )
    assert server.token_requests == 2  # bounded by the connection's attempts


def authorized(store, url: str, refresh_token: str, **settings) -> None:
    connect(store, url, auth="oauth2_authorization_code", refresh_token=refresh_token, **settings)


def test_a_rotated_refresh_token_is_kept_at_once_so_the_next_run_presents_the_new_one(store, oauth_server):
    url, server = oauth_server
    first_token = server.authorize()
    authorized(store, url, first_token)
    server.revoke_after = 4  # access tokens revoked mid-run: each renewal rotates the refresh token too
    result = run_flow(store, DOCUMENT, payload=ORDERS[:6])
    assert result.status == "succeeded", result.error
    assert sorted(server.orders) == [o["number"] for o in ORDERS[:6]]
    kept = connection_spec(store, "erp_oauth", "sandbox").settings["refresh_token"]
    assert kept != first_token and server.refresh_tokens == {kept}  # the last rotation, sealed in the store
    assert server.token_requests == 3  # 12 calls, 4 per access token

    again = run_flow(store, {**DOCUMENT, "id": "orders_next_run"}, payload=ORDERS[6:8])
    assert again.status == "succeeded", again.error  # the old refresh token would have been refused
    assert len(server.orders) == 8


def test_a_revoked_refresh_token_stops_the_run_saying_to_authorize_again(store, oauth_server):
    url, server = oauth_server
    authorized(store, url, "a-refresh-token-the-server-revoked")
    result = run_flow(store, DOCUMENT, payload=ORDERS[:3])
    assert result.status == "failed" and server.orders == {}
    assert result.error.startswith(
        "connection 'erp_oauth' (sandbox): authorization expired (invalid_grant); "
        "run `flowbridge connection authorize erp_oauth`"
    ), result.error
    assert "a-refresh-token-the-server-revoked" not in result.error
