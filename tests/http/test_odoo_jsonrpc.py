"""The jsonrpc connection's Odoo dialect against a server speaking Odoo's external API on 127.0.0.1
(tests/http/odoo_api.py): it logs in once a run, reads records as plain values, says what Odoo
refuses in Odoo's words, and write.jsonrpc and read.jsonrpc work on Odoo as they do on Tryton —
partners written once, a batch's new ones in one create call, a refused one alone, a lost answer
never making a partner twice, and the cursor reading only what changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.connectors import ConnectionSpec
from app.connectors.jsonrpc import CallRefused, LoginRefused
from app.errors import ConnectorError
from app.sandbox.http_serve import serve_app
from app.services import access
from app.services.connections import save_connection
from app.services.runs import run_flow
from app.store import runs, sync
from tests.http.odoo_api import API_KEY, DATABASE, USER, OdooDatabase, odoo_api, ticking


@pytest.fixture
def odoo() -> Iterator[OdooDatabase]:
    db = OdooDatabase(clock=ticking())
    served = serve_app(odoo_api(db), name="odoo api")
    db.url = served.url + "/"  # type: ignore[attr-defined]
    yield db
    served.stop()


def settings(odoo: OdooDatabase, **more) -> dict:
    base = {"url": odoo.url, "dialect": "odoo", "database": DATABASE, "username": USER, "password": API_KEY}
    return {**base, "retry_wait": 0.01, **more}


def connector(odoo: OdooDatabase, **more):
    return ConnectionSpec("odoo", "sandbox", "jsonrpc", settings(odoo, **more)).open()


def connect(store, name: str, type_: str, values: dict) -> None:
    """As an admin saves it: the settings checked against the type's schema (dialect odoo included)."""
    save_connection(store, name, "sandbox", type_, values, who=access.Principal("adam", "admin"))


def partners(odoo: OdooDatabase) -> dict[str, dict]:
    return {r["ref"]: r for r in odoo.records["res.partner"].values()}


TO_PARTNERS = {
    "schema_version": 1,
    "id": "accounts_to_odoo",
    "name": "accounts_to_odoo",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {
            "id": "write",
            "type": "write.jsonrpc",
            "config": {
                "connection": "odoo",
                "model": "res.partner",
                "key": "ref",
                "find": {"domain": "[('ref', '=', record.ref)]"},
                "fields": ["name", "email", "is_company"],
                "link": {"entity": "account", "source": "crm", "source_id": "crm_id"},
            },
        },
    ],
    "edges": [{"from": "start", "to": "write"}],
}


def accounts(n: int) -> list[dict]:
    return [
        {"crm_id": i, "ref": f"CRM-{i}", "name": f"Account {i}", "email": f"a{i}@example.com", "is_company": True}
        for i in range(1, n + 1)
    ]


def test_the_connection_logs_in_once_reads_plain_values_and_says_what_odoo_refuses(odoo):
    us = next(r["id"] for r in odoo.records["res.country"].values() if r["code"] == "US")
    odoo.make("res.partner", {"name": "Azure", "ref": "AZ", "country_id": us, "is_company": False})
    erp = connector(odoo)
    try:
        assert {"res.partner", "res.country"} <= set(erp.models())
        assert {"name", "email", "country_id"} <= set(erp.fields("res.partner"))
        [azure] = erp.search_read(
            "res.partner",
            [["ref", "=", "AZ"]],
            ["name", "email", "is_company", "country_id", "country_id.display_name"],
        )
        # A many2one as its id (its name when asked for), an empty field as None, a boolean kept.
        assert azure == {
            "id": azure["id"],
            "name": "Azure",
            "email": None,
            "is_company": False,
            "country_id": us,
            "country_id.display_name": "United States",
        }
        assert erp.logins == 1 and odoo.calls["common.login"] == 1
        with pytest.raises(CallRefused, match=r"res\.nothere\.search_read: the system does not know 'res\.nothere'"):
            erp.search_read("res.nothere", [], ["id"])
        with pytest.raises(CallRefused, match=r"res\.partner\.search_read: the system does not know the field"):
            erp.search_read("res.partner", [], ["colour"])
        with pytest.raises(CallRefused, match=r"ValidationError: Invalid email address 'nowhere'"):
            erp.create("res.partner", [{"name": "Bad", "email": "nowhere"}])
        with pytest.raises(ConnectorError, match=r"Odoo reads a related record only as its name"):
            erp.search_read("res.partner", [], ["country_id.code"])
        odoo.key = "revoked"  # the key is revoked while the run goes on
        with pytest.raises(LoginRefused, match=r"res\.partner\.search_read: access denied for 'admin'"):
            erp.search_read("res.partner", [], ["name"])
    finally:
        erp.close()
    wrong = connector(odoo, password="not-the-key")
    with pytest.raises(LoginRefused) as refused:
        wrong.models()
    assert str(refused.value) == (
        "connection 'odoo' (sandbox): the login as 'admin' to database 'acme' was refused "
        "(wrong user, password or API key?)"
    )
    assert "not-the-key" not in str(refused.value)
    with pytest.raises(ConnectorError, match="needs 'database'"):
        connector(odoo, database="")


def test_partners_are_written_once_new_ones_in_one_create_call_and_a_refused_one_alone(odoo, store):
    connect(store, "odoo", "jsonrpc", settings(odoo))
    first = run_flow(store, TO_PARTNERS, payload=accounts(6))
    assert first.status == "succeeded", first.error
    assert first.totals["inserted"] == 6 and odoo.calls["res.partner.create"] == 1
    held = partners(odoo)
    assert sorted(held) == [f"CRM-{i}" for i in range(1, 7)]
    assert sync.all_links(store, "sandbox", "account", "crm", "odoo") == {
        str(i): str(held[f"CRM-{i}"]["id"]) for i in range(1, 7)
    }

    again = accounts(6)
    again[1]["name"] = "Account 2, renamed"
    second = run_flow(store, TO_PARTNERS, payload=again)
    assert (second.totals["unchanged"], second.totals["updated"], second.totals["inserted"]) == (5, 1, 0)
    assert partners(odoo)["CRM-2"]["name"] == "Account 2, renamed"
    assert odoo.calls["res.partner.write"] == 1  # only the changed one was written

    batch = [
        {"crm_id": 50, "ref": "CRM-50", "name": "First", "email": "first@example.com", "is_company": True},
        {"crm_id": 51, "ref": "CRM-51", "name": "Bad email", "email": "not an address", "is_company": True},
        {"crm_id": 52, "ref": "CRM-52", "name": "Other", "email": None, "is_company": False},
    ]
    third = run_flow(store, TO_PARTNERS, payload=batch)
    assert third.status == "partial"
    assert (third.totals["inserted"], third.totals["failed"]) == (2, 1)
    [letter] = runs.dead_letters(store, run_id=third.run_id, status=None)
    assert letter.record["ref"] == "CRM-51"
    assert letter.reason == (
        "connection 'odoo' (sandbox): res.partner.create: ValidationError: Invalid email address 'not an address'"
    )
    assert "CRM-51" not in partners(odoo) and partners(odoo)["CRM-52"]["name"] == "Other"


def test_a_create_whose_answer_is_lost_is_found_again_not_made_twice(odoo, store):
    connect(store, "odoo", "jsonrpc", settings(odoo))
    odoo.lose_create_answers = 1  # Odoo makes the batch's partners, then the answer is lost
    result = run_flow(store, TO_PARTNERS, payload=accounts(4))
    assert result.status == "succeeded", result.error
    assert result.totals["inserted"] == 4
    assert sorted(partners(odoo)) == [f"CRM-{i}" for i in range(1, 5)]  # each once
    assert odoo.calls["res.partner.create"] == 1  # all four were found again: none sent a second time


def test_a_field_odoo_does_not_have_stops_the_run_with_one_sentence(odoo, store):
    connect(store, "odoo", "jsonrpc", settings(odoo))
    document = json.loads(json.dumps(TO_PARTNERS))
    document["nodes"][1]["config"]["fields"] = ["name", "colour"]
    result = run_flow(store, document, payload=[{**r, "colour": "blue"} for r in accounts(3)])
    assert result.status == "failed"
    assert "the system does not know the field" in result.error and "colour" in result.error
    assert "every record would go the same way, so the run stops" in result.error
    assert partners(odoo) == {}


def test_read_jsonrpc_reads_partners_page_by_page_and_then_only_what_changed(odoo, store, tmp_path: Path):
    made = [odoo.make("res.partner", {"name": f"Partner {i}", "ref": f"P{i}"}) for i in range(1, 8)]
    odoo.make("res.partner", {"name": "Someone else", "ref": "OTHER"})
    connect(store, "odoo", "jsonrpc", settings(odoo))
    connect(store, "files", "file", {"path": str(tmp_path / "out")})
    document = {
        "schema_version": 1,
        "id": "odoo_read",
        "name": "odoo_read",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "read",
                "type": "read.jsonrpc",
                "config": {
                    "connection": "odoo",
                    "model": "res.partner",
                    "fields": ["ref", "name", "email"],
                    "domain": "[('ref', '=like', 'P%')]",
                    "cursor": True,
                    "page_size": 3,  # 7 partners: pages of 3, 3 and 1
                },
            },
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "partners.jsonl"}},
        ],
        "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "out"}],
    }

    def written() -> list[dict]:
        return [json.loads(line) for line in (tmp_path / "out" / "partners.jsonl").read_text().splitlines()]

    first = run_flow(store, document)
    assert first.status == "succeeded", first.error
    assert sorted(r["id"] for r in written()) == made
    assert all(r["email"] is None and set(r) == {"id", "ref", "name", "email"} for r in written())
    assert odoo.calls["res.partner.search_read"] == 3
    position = runs.get_cursor(store, "odoo_read", "read", "sandbox")
    assert position == odoo.records["res.partner"][made[-1]]["write_date"]

    erp = connector(odoo)
    try:
        erp.write("res.partner", [made[3]], {"name": "Partner 4, renamed"})
    finally:
        erp.close()
    second = run_flow(store, document)
    assert second.status == "succeeded", second.error
    # The changed one, and the last one read before (at the position: inclusive, never missed).
    assert sorted(r["id"] for r in written()) == sorted([made[3], made[-1]])
    assert next(r for r in written() if r["id"] == made[3])["name"] == "Partner 4, renamed"


def test_an_odoo_connection_is_set_from_the_command_line_and_its_key_never_shown(odoo, cli):
    base = ["connection", "set", "odoo", "--env", "sandbox", "--type", "jsonrpc", "--url", odoo.url]
    login = ["--username", USER, "--password", API_KEY, "--dialect", "odoo"]
    code, _, err = cli(*base, *login)
    assert code == 2 and "an odoo connection needs --database" in err
    code, _, err = cli(
        "connection", "set", "x", "--env", "sandbox", "--type", "sql", "--url", "sqlite://", "--dialect", "odoo"
    )
    assert code == 2 and "--dialect and --database go with --type jsonrpc" in err
    code, _, err = cli(*base, *login, "--database", DATABASE)
    assert code == 0, err
    code, listed, _ = cli("connection", "list")
    assert ["odoo", "sandbox", "jsonrpc", odoo.url] in [line.split() for line in listed.splitlines()]
    assert API_KEY not in listed
