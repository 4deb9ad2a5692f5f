"""A real Tryton 8 over JSON-RPC (tests/real/tryton.py): the jsonrpc connection logs in and renews
its session, says what the system refuses in one sentence, and write.jsonrpc writes parties once —
found by their code, the new ones of a batch in one create call, a refused one alone in dead letters.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

import pytest

from app.connectors import ConnectionSpec
from app.connectors.jsonrpc import CallRefused, LoginRefused
from app.services.flows import import_flow_file
from app.services.runs import run_flow
from app.store import flows, runs, sync
from app.store.connections import set_connection
from app.store.write_outcomes import OutcomeWriter, Where
from tests.real.tryton import Tryton


def unique(prefix: str) -> str:
    """Codes of this test's own (the Tryton database lives for the whole session)."""
    return f"{prefix}{secrets.token_hex(3)}-"


def settings(tryton: Tryton, **more) -> dict:
    return {"url": tryton.database_url, "username": "admin", "password": "admin", "retry_wait": 0.01, **more}


def connector(tryton: Tryton, **more):
    return ConnectionSpec("tryton", "sandbox", "jsonrpc", settings(tryton, **more)).open()


def parties(tryton: Tryton, prefix: str) -> dict[str, dict]:
    erp = connector(tryton)
    try:
        found = erp.search_read("party.party", [["code", "like", f"{prefix}%"]], ["code", "name", "create_date"])
    finally:
        erp.close()
    return {p["code"]: p for p in found}


def flow(flow_id: str) -> dict:
    return {
        "schema_version": 1,
        "id": flow_id,
        "name": flow_id,
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "write",
                "type": "write.jsonrpc",
                "config": {
                    "connection": "tryton",
                    "model": "party.party",
                    "key": "code",
                    "find": {"domain": "[('code', '=', record.code)]"},
                    "fields": ["name"],
                    "link": {"entity": "account", "source": "crm", "source_id": "crm_id"},
                },
            },
        ],
        "edges": [{"from": "start", "to": "write"}],
    }


def accounts(prefix: str, n: int) -> list[dict]:
    return [{"crm_id": i, "code": f"{prefix}{i}", "name": f"Account {i}"} for i in range(1, n + 1)]


def test_the_connection_logs_in_renews_its_session_and_reads_models_and_fields(tryton):
    erp = connector(tryton)
    try:
        assert "party.party" in erp.models() and {"name", "code", "addresses"} <= set(erp.fields("party.party"))
        assert erp.logins == 1
        erp._session = "YWRtaW46MTpmb3Jnb3R0ZW4="  # a session the server does not know (it restarted, say)
        assert erp.search_read("party.party", [["code", "=", "no such code"]], ["id"]) == []
        assert erp.logins == 2  # logged in again, once, and the call went through
        with pytest.raises(CallRefused, match=r"model\.party\.nothere\.search_read: the system does not know"):
            erp.search_read("party.nothere", [], ["id"])
        with pytest.raises(CallRefused, match=r"model\.party\.party\.no_method: HTTP 403: the system has no such"):
            erp.call("model.party.party.no_method", [[], {}])
    finally:
        erp.close()
    wrong = connector(tryton, password="not-the-password")
    with pytest.raises(LoginRefused) as refused:
        wrong.search_read("party.party", [], ["id"])
    assert str(refused.value) == (
        "connection 'tryton' (sandbox): the login as 'admin' was refused (HTTP 401: wrong user or password?)"
    )
    assert "not-the-password" not in str(refused.value)


def test_parties_are_written_once_new_ones_in_one_create_call_and_a_refused_one_alone(tryton, store):
    set_connection(store, "tryton", "sandbox", "jsonrpc", settings(tryton))
    a = unique("RPC-A-")
    document = flow("rpc_parties")
    first = run_flow(store, document, payload=accounts(a, 6))
    assert first.status == "succeeded", first.error
    assert first.totals["inserted"] == 6
    held = parties(tryton, a)
    assert sorted(held) == [f"{a}{i}" for i in range(1, 7)]
    # One create call: Tryton stamps a transaction's records with its one start time.
    assert len({str(p["create_date"]) for p in held.values()}) == 1
    assert sync.all_links(store, "sandbox", "account", "crm", "tryton") == {
        str(i): str(held[f"{a}{i}"]["id"]) for i in range(1, 7)
    }

    again = accounts(a, 6)
    again[1]["name"] = "Account 2, renamed"
    second = run_flow(store, document, payload=again)
    assert (second.totals["unchanged"], second.totals["updated"], second.totals["inserted"]) == (5, 1, 0)
    assert parties(tryton, a)[f"{a}2"]["name"] == "Account 2, renamed"

    # A new record Tryton refuses (a language it does not have) makes it refuse the batch's create
    # list: one by one, the others are created and that one fails alone, in Tryton's own words.
    # Two records of one code in a batch go as they would one after the other: made, then updated.
    document["nodes"][1]["config"]["fields"] = ["name", "lang"]
    batch = [
        {"crm_id": 50, "code": f"{a}50", "name": "First"},
        {"crm_id": 51, "code": f"{a}51", "name": "Unknown language", "lang": 99999},
        {"crm_id": 52, "code": f"{a}52", "name": "Other"},
        {"crm_id": 50, "code": f"{a}50", "name": "First, corrected"},
    ]
    third = run_flow(store, document, payload=batch)
    assert third.status == "partial"
    assert (third.totals["inserted"], third.totals["updated"], third.totals["failed"]) == (2, 1, 1)
    [letter] = runs.dead_letters(store, run_id=third.run_id, status=None)
    assert letter.record["code"] == f"{a}51"
    assert letter.reason == (
        "connection 'tryton' (sandbox): model.party.party.create: UserError: "
        'The value "99999" for field "Language" in "Party Lang" does not exist.'
    )
    held = parties(tryton, a)
    assert f"{a}51" not in held and held[f"{a}52"]["name"] == "Other"
    assert held[f"{a}50"]["name"] == "First, corrected"


def test_a_create_that_reached_tryton_before_a_stop_is_found_and_counted_not_made_again(tryton, store):
    set_connection(store, "tryton", "sandbox", "jsonrpc", settings(tryton))
    b = unique("RPC-B-")
    # As a run stopped right after its create call left: the outcome says "sending", Tryton has it.
    writer = OutcomeWriter(store)
    writer.sending(Where("sandbox", "rpc_stopped", "write"), f"code={b}1", "an-earlier-run")
    writer.close()
    erp = connector(tryton)
    erp.create("party.party", [{"code": f"{b}1", "name": "Account 1"}])
    erp.close()
    result = run_flow(store, flow("rpc_stopped"), payload=accounts(b, 2))
    assert result.status == "succeeded", result.error
    assert result.totals["inserted"] == 2 and result.totals["unchanged"] == 0  # the earlier one counted as made
    assert sorted(parties(tryton, b)) == [f"{b}1", f"{b}2"]  # and not made twice


def test_a_field_tryton_does_not_have_stops_the_run_with_one_sentence(tryton, store):
    set_connection(store, "tryton", "sandbox", "jsonrpc", settings(tryton))
    c = unique("RPC-C-")
    document = flow("rpc_bad_field")
    document["nodes"][1]["config"]["fields"] = ["name", "colour"]
    records = [{**r, "colour": "blue"} for r in accounts(c, 3)]
    result = run_flow(store, document, payload=records)
    assert result.status == "failed"
    assert "the system does not know 'colour' (no such model or field)" in result.error
    assert "every record would go the same way, so the run stops" in result.error
    assert parties(tryton, c) == {}


def test_a_jsonrpc_connection_set_from_the_command_line_is_listed_without_its_password(tryton, cli, tmp_path):
    code, _, err = cli("connection", "set", "tryton", "--env", "sandbox", "--type", "jsonrpc", "--url", "http://x/")
    assert code == 2 and "needs --url" in err and "--username and --password" in err
    code, _, err = cli(
        "connection",
        "set",
        "tryton",
        "--env",
        "sandbox",
        "--type",
        "jsonrpc",
        "--url",
        tryton.database_url,
        "--username",
        "admin",
        "--password",
        "admin",
    )
    assert code == 0, err
    code, listed, _ = cli("connection", "list")
    assert ["tryton", "sandbox", "jsonrpc", tryton.database_url] in [line.split() for line in listed.splitlines()]
    assert "admin" not in listed.replace(tryton.database_url, "")
    d = unique("RPC-D-")
    path = tmp_path / "flow.json"
    document = flow("rpc_from_the_cli")
    document["nodes"].insert(
        1,
        {"id": "shape", "type": "map", "config": {"fields": {"code": f"{d}1", "name": "From the CLI", "crm_id": "1"}}},
    )
    document["edges"] = [{"from": "start", "to": "shape"}, {"from": "shape", "to": "write"}]
    path.write_text(json.dumps(document))
    code, out, err = cli("run", str(path), "--env", "sandbox")
    assert code == 0, out + err
    assert list(parties(tryton, d)) == [f"{d}1"]


def test_read_jsonrpc_reads_a_model_page_by_page_and_then_only_what_changed(tryton, store, tmp_path):
    e = unique("RPC-E-")
    erp = connector(tryton)
    try:
        # One call each, so each has a stamp of its own (one call's records share its moment).
        made = [erp.create("party.party", [{"code": f"{e}{i}", "name": f"Party {i}"}])[0] for i in range(1, 8)]
    finally:
        erp.close()
    set_connection(store, "tryton", "sandbox", "jsonrpc", settings(tryton))
    set_connection(store, "files", "sandbox", "file", {"path": str(tmp_path / "out")})
    document = {
        "schema_version": 1,
        "id": "rpc_read",
        "name": "rpc_read",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "read",
                "type": "read.jsonrpc",
                "config": {
                    "connection": "tryton",
                    "model": "party.party",
                    "fields": ["code", "name", "create_date"],
                    "domain": f"[('code', 'like', '{e}%')]",
                    "cursor": True,
                    "page_size": 3,  # 7 parties: pages of 3, 3 and 1
                },
            },
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "parties.jsonl"}},
        ],
        "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "out"}],
    }
    first = run_flow(store, document)
    assert first.status == "succeeded", first.error
    written = [json.loads(line) for line in (tmp_path / "out" / "parties.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in written) == sorted(made)
    assert all(isinstance(r["create_date"], str) and r["create_date"][4] == "-" for r in written)  # ISO text
    position = runs.get_cursor(store, "rpc_read", "read", "sandbox")
    assert position == max(r["create_date"] for r in written)

    erp = connector(tryton)
    try:
        erp.write("party.party", [made[3]], {"name": "Party 4, renamed"})
    finally:
        erp.close()
    second = run_flow(store, document)
    assert second.status == "succeeded", second.error
    again = [json.loads(line) for line in (tmp_path / "out" / "parties.jsonl").read_text().splitlines()]
    # The changed one, and the last one read before (at the position: inclusive, never missed).
    assert sorted(r["id"] for r in again) == sorted([made[3], made[-1]])
    assert next(r for r in again if r["id"] == made[3])["name"] == "Party 4, renamed"


EXAMPLE = Path(__file__).resolve().parents[2] / "flows" / "crm_accounts_to_tryton_parties_jsonrpc.json"


def test_the_example_flow_sends_approved_accounts_with_their_subdivision_once(tryton, store, demo):
    crm = demo["sandbox"]["crm"]
    set_connection(store, "tryton_rpc", "sandbox", "jsonrpc", settings(tryton))
    import_flow_file(store, EXAMPLE)
    document, _ = flows.get_document(store, "crm_accounts_to_tryton_parties_jsonrpc")
    prefix = unique("JRPC-")  # codes of this test's own (the REST example writes CRM-<id> into the same Tryton)
    [to_party] = [n for n in document["nodes"] if n["id"] == "to_party"]
    to_party["config"]["fields"]["code"] = prefix + "{{ record.id }}"
    first = run_flow(store, document)
    assert first.status in ("succeeded", "partial"), first.error
    with sqlite3.connect(crm) as db:
        approved = {
            row[0]: row
            for row in db.execute(
                "SELECT id, name, state FROM accounts WHERE credit_status = 'approved' AND TRIM(name) != ''"
            )
        }
    held = parties(tryton, prefix)
    assert first.totals["inserted"] == len(held) >= len(approved) * 0.9  # a few fail with their reason
    erp = connector(tryton)
    try:
        [california] = erp.search_read("country.subdivision", [["code", "=", "US-CA"]], ["id"])
        addresses = erp.search_read(
            "party.address", [["party.code", "like", f"{prefix}%"]], ["party", "subdivision"], limit=None
        )
    finally:
        erp.close()
    party_of = {p["id"]: code for code, p in held.items()}
    in_california = {
        party_of[a["party"]] for a in addresses if a["subdivision"] == california["id"] and a["party"] in party_of
    }
    spelled = {f"{prefix}{i}" for i, row in approved.items() if str(row[2]).strip().lower() in ("ca", "california")}
    assert in_california and in_california == spelled & set(held)  # every spelling of California, to US-CA
    assert len(addresses) == len(held)  # one address each

    again = run_flow(store, document, full_resync=True)
    assert again.totals["inserted"] == again.totals["updated"] == 0  # found by code, equal: nothing sent


BACK = Path(__file__).resolve().parents[2] / "flows" / "tryton_addresses_to_crm_accounts_jsonrpc.json"


def test_an_address_changed_in_tryton_reaches_its_crm_account_and_does_not_echo(tryton, store, demo):
    crm = demo["sandbox"]["crm"]
    set_connection(store, "tryton_rpc", "sandbox", "jsonrpc", settings(tryton))
    for example in (EXAMPLE, BACK):
        import_flow_file(store, example)
    forward, _ = flows.get_document(store, "crm_accounts_to_tryton_parties_jsonrpc")
    back, _ = flows.get_document(store, "tryton_addresses_to_crm_accounts_jsonrpc")
    prefix = unique("BACK-")
    moving = _an_account_in(crm, "California")
    [to_party] = [n for n in forward["nodes"] if n["id"] == "to_party"]
    to_party["config"]["fields"]["code"] = prefix + "{{ record.id }}"
    assert run_flow(store, forward).totals["inserted"] > 0

    first_back = run_flow(store, back)  # the CRM's spellings of states become Tryton's codes, once
    assert first_back.status == "succeeded", first_back.error
    assert run_flow(store, back).totals["updated"] == 0  # nothing changed in Tryton since
    echo = run_flow(store, forward)  # reads the accounts the way back touched: the parties are equal
    assert echo.totals["read"] >= first_back.totals["updated"] > 0  # (and those at its position: inclusive)
    assert (echo.totals["inserted"], echo.totals["updated"]) == (0, 0), echo.error

    erp = connector(tryton)
    try:
        [address] = erp.search_read(
            "party.address",
            [["party.code", "=", f"{prefix}{moving}"]],
            ["party", "street", "city", "subdivision.code"],
        )
        [texas] = erp.search_read("country.subdivision", [["code", "=", "US-TX"]], ["id"])
        erp.write(
            "party.address", [address["id"]], {"street": "500 Echo Lane", "city": "Austin", "subdivision": texas["id"]}
        )
    finally:
        erp.close()
    moved = run_flow(store, back)
    assert moved.totals["updated"] == 1, moved.error
    assert sync.all_links(store, "sandbox", "account", "tryton", "crm")[str(address["party"])] == str(moving)
    with sqlite3.connect(crm) as db:
        row = db.execute("SELECT street, city, state FROM accounts WHERE id = ?", (moving,)).fetchone()
    assert row == ("500 Echo Lane", "Austin", "TX")
    assert run_flow(store, forward).totals["updated"] == 0  # the changed account goes back equal: no echo
    assert run_flow(store, back).totals["updated"] == 0


def _an_account_in(crm: Path, state: str) -> int:
    """An approved account of the CRM whose state is spelled out (the way back writes its code)."""
    with sqlite3.connect(crm) as db:
        [found] = db.execute(
            "SELECT id FROM accounts WHERE credit_status = 'approved' AND TRIM(name) != '' AND state = ? LIMIT 1",
            (state,),
        ).fetchone() or [None]
    assert found is not None, f"the demo CRM has no approved account in {state}"
    return found
