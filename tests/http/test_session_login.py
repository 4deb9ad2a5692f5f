"""Session login (`auth: session`) against an ERPNext-style API on 127.0.0.1 (tests/http/frappe_api.py):
the `erpnext` preset logs in once with the connection's user and password and carries the `sid`
cookie; a session that ends in the middle of a run is opened again and the refused call sent once
more, so every customer is written exactly once; a token login's token is sent as a bearer header.
A wrong password, a login answer without its cookie or token, and a body naming a setting the
connection lacks each stop the run with one sentence naming the connection and the call, nothing
written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.connectors import ConnectionSpec
from app.connectors.session_login import fill
from app.errors import ConnectorError
from app.sandbox.http_serve import serve_app
from app.services.runs import run_flow
from app.store import runs
from app.store.connections import set_connection
from tests.http.frappe_api import PASSWORD, USER, FrappeSite, frappe_api

# The token API's login (frappe_api.py): the token in the answer's body, sent as a bearer header.
TOKEN_LOGIN = {
    "path": "/auth/login",
    "body": {"username": "{{ username }}", "password": "{{ password }}"},
    "token_from": "body",
    "token": "data.token",
}
CUSTOMERS = [{"crm_id": f"A-{n}", "customer_name": f"Account {n}", "credit_limit": n * 100} for n in range(1, 11)]

TO_ERPNEXT = {
    "schema_version": 1,
    "id": "accounts_to_erpnext",
    "name": "Accounts to ERPNext",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {
            "id": "write",
            "type": "write.http",
            "config": {
                "connection": "erpnext",
                "method": "POST",
                "path": "/api/resource/Customer",
                "key": "crm_id",
                "find": {
                    "path": "/api/resource/Customer",
                    "params": {"filters": '{{ [["crm_id", "=", record.crm_id]] | tojson }}'},
                    "record_path": "data",
                },
                "item_path": "data",
                "update": {"method": "PUT", "path": "/api/resource/Customer/{name}"},
                "id_field": "name",
            },
        },
    ],
    "edges": [{"from": "start", "to": "write"}],
}


@pytest.fixture
def site() -> Iterator[FrappeSite]:
    site = FrappeSite()
    served = serve_app(frappe_api(site), name="frappe api")
    site.url = served.url  # type: ignore[attr-defined]
    yield site
    served.stop()


def connect(store, site, **settings) -> None:
    base = {"base_url": site.url, "auth": "session", "login": "erpnext", "retry_wait": 0.01}
    set_connection(store, "erpnext", "sandbox", "http", {**base, "username": USER, "password": PASSWORD, **settings})


def test_the_erpnext_login_opens_one_session_for_the_run_and_its_cookie_carries_every_call(store, site):
    connect(store, site)
    result = run_flow(store, TO_ERPNEXT, payload=CUSTOMERS)
    assert result.status == "succeeded", result.error
    assert result.totals["inserted"] == 10
    assert site.logins == 1 and site.login_bodies == [{"usr": USER, "pwd": PASSWORD}]
    again = run_flow(store, TO_ERPNEXT, payload=CUSTOMERS)
    assert again.totals["unchanged"] == 10 and site.writes == 10


def test_a_session_ending_in_the_middle_of_a_run_is_opened_again_and_nothing_is_written_twice(store, site):
    site.end_sessions_after = 7  # a find and a write per customer: the session ends several times
    connect(store, site)
    changed = [{**c, "credit_limit": 5} if c["crm_id"] == "A-3" else c for c in CUSTOMERS]
    result = run_flow(store, TO_ERPNEXT, payload=CUSTOMERS)
    assert result.status == "succeeded", result.error
    assert site.logins > 2
    second = run_flow(store, TO_ERPNEXT, payload=changed)
    assert (second.totals["updated"], second.totals["unchanged"]) == (1, 9), second.error
    by_crm_id = {c["crm_id"]: c for c in site.customers.values()}
    assert len(site.customers) == len(by_crm_id) == 10  # each once
    assert by_crm_id["A-3"]["credit_limit"] == 5 and site.writes == 11


@pytest.mark.parametrize(
    ("settings", "knob", "said"),
    [
        (
            {"password": "wrong"},
            None,
            "connection 'erpnext' (sandbox): the login (POST /api/method/login) was refused (HTTP 401): "
            "Invalid login credentials; is the password right?",
        ),
        (
            {},
            "no cookie",
            "connection 'erpnext' (sandbox): the login (POST /api/method/login): the answer set no 'sid' cookie, "
            "so there is no session",
        ),
        (
            {"login": {"path": "/api/method/login", "body": {"usr": "{{ username }}", "pwd": "{{ passwrd }}"}}},
            None,
            "connection 'erpnext' (sandbox): the login's body uses '{{ passwrd }}' but the connection has no 'passwrd'",
        ),
        (
            {
                "login": {
                    "path": "/auth/login",
                    "body": {"username": "{{ username }}", "password": "{{ password }}"},
                    "token_from": "body",
                    "token": "data.token",
                }
            },
            "no cookie",
            "connection 'erpnext' (sandbox): the login (POST /auth/login): the answer has no token at body "
            "'data.token', so there is no session",
        ),
    ],
)
def test_a_login_that_opens_no_session_stops_the_run_with_one_sentence(store, site, settings, knob, said):
    site.login_sets_cookie = knob is None
    connect(store, site, **settings)
    result = run_flow(store, TO_ERPNEXT, payload=CUSTOMERS)
    assert result.status == "failed"
    assert said in result.error and "Traceback" not in result.error
    assert PASSWORD not in result.error and site.customers == {}
    assert len(runs.dead_letters(store, run_id=result.run_id)) <= 1  # the run stopped at its first record


def test_a_token_login_sends_its_token_as_the_header_it_names(store, site):
    login = {**TOKEN_LOGIN, "send_as": "Authorization: Bearer {{ token }}"}
    site.end_sessions_after = 5
    connect(store, site, login=login)
    result = run_flow(store, TO_ERPNEXT, payload=CUSTOMERS)
    assert result.status == "succeeded", result.error
    assert result.totals["inserted"] == 10 and len(site.customers) == 10 and site.logins > 1


def test_a_session_said_ended_inside_a_200_answer_is_opened_again_when_the_connection_knows_the_words(store, site):
    login = {**TOKEN_LOGIN, "ended_text": "session expired"}  # matched without regard to case
    site.end_sessions_after, site.ended_with_200 = 5, True
    connect(store, site, login=login, error_path="error.message")
    result = run_flow(store, TO_ERPNEXT, payload=CUSTOMERS)
    assert result.status == "succeeded", result.error
    assert result.totals["inserted"] == 10 and len(site.customers) == 10 and site.logins > 1

    # Without the words, the same answer is what it looks like: a refusal, named, and nothing written.
    connect(store, site, login={k: v for k, v in login.items() if k != "ended_text"}, error_path="error.message")
    others = [{**c, "crm_id": f"B-{n}"} for n, c in enumerate(CUSTOMERS)]
    refused = run_flow(store, TO_ERPNEXT, payload=others)
    assert refused.status in ("failed", "partial") and refused.totals["inserted"] < 10
    assert "Session Expired" in (refused.error or runs.dead_letters(store, run_id=refused.run_id)[0].reason)


def test_a_login_body_template_keeps_the_types_of_the_settings_it_names():
    values = {"username": "ana", "database": 7, "password": "p"}
    body = {
        "params": {"db": "{{ database }}", "login": "{{username}}", "note": "user {{ username }} on {{ database }}"}
    }
    assert fill(body, values, "here") == {"params": {"db": 7, "login": "ana", "note": "user ana on 7"}}
    with pytest.raises(ConnectorError, match="unknown login 'odoo9'"):
        ConnectionSpec(
            "x", "sandbox", "http", {"base_url": "http://127.0.0.1:1", "auth": "session", "login": "odoo9"}
        ).open()


def test_a_session_connection_set_from_the_command_line_logs_in(cli, site, tmp_path):
    base = ("connection", "set", "erpnext", "--env", "sandbox", "--type", "http", "--url", site.url)
    code, _, err = cli(*base, "--login", "erpnext", "--username", USER)
    assert code == 2 and "a session login needs --username and --password" in err
    code, _, err = cli(*base, "--login", "erpnext", "--username", USER, "--password", PASSWORD)
    assert code == 0, err
    flow = {**TO_ERPNEXT, "nodes": [*TO_ERPNEXT["nodes"]]}
    flow["nodes"].insert(
        1, {"id": "one", "type": "map", "config": {"fields": {"crm_id": "A-1", "customer_name": "CLI"}}}
    )
    flow["edges"] = [{"from": "start", "to": "one"}, {"from": "one", "to": "write"}]
    (tmp_path / "flow.json").write_text(json.dumps(flow))
    code, out, err = cli("run", str(tmp_path / "flow.json"), "--env", "sandbox")
    assert code == 0, out + err
    assert [c["customer_name"] for c in site.customers.values()] == ["CLI"] and site.logins == 1
