"""write.odata against an SAP-style OData service (tests/http/odata_api.py, on 127.0.0.1): CSRF
tokens fetched before the first write and again when one expires; a text key written as a quoted
literal, its quotes doubled, in the find and in the address; an update refused for a stale ETag
read again and retried, so the other writer's change is seen and not overwritten blind; a
`$metadata` that does not parse, an entity set or a property the service lacks, and a service that
gives no token each stop the run with one sentence, nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.sandbox.http_serve import serve_app
from app.services.runs import run_flow
from app.store import runs
from app.store.connections import set_connection
from tests.http.odata_api import OdataService, odata_api

CUSTOMERS = [
    {"CustomerID": "C-1", "Name": "Acme", "CreditLimit": 1000},
    {"CustomerID": "O'Brien & Sons", "Name": "O'Brien", "CreditLimit": 250.5},
    {"CustomerID": "C-3", "Name": "Globex", "CreditLimit": 0},
    {"CustomerID": "C-4", "Name": "Initech", "CreditLimit": 75},
]


def document(**config) -> dict:
    return {
        "schema_version": 1,
        "id": "customers_to_sap",
        "name": "Customers to SAP",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "write",
                "type": "write.odata",
                "config": {"connection": "sap", "entity_set": "Customers", "key": "CustomerID", **config},
            },
        ],
        "edges": [{"from": "start", "to": "write"}],
    }


@pytest.fixture
def sap(store) -> Iterator[OdataService]:
    service = OdataService()
    served = serve_app(odata_api(service), name="odata api")
    settings = {"base_url": f"{served.url}/sap/opu/odata4/sales", "csrf": True, "retry_wait": 0.01}
    set_connection(store, "sap", "sandbox", "odata", settings)
    yield service
    served.stop()


def test_writes_carry_a_csrf_token_fetched_first_and_fetched_again_when_it_expires(store, sap):
    sap.expire_token_after = 2
    result = run_flow(store, document(), payload=CUSTOMERS)
    assert result.status == "succeeded", result.error
    assert result.totals["inserted"] == 4
    assert sap.customers["O'Brien & Sons"]["CreditLimit"] == 250.5
    assert sap.tokens_fetched == 2  # the first, and one after the service said the token had ended
    assert len(sap.refused_writes) == 1 and sap.refused_writes[0].startswith("token ")  # the expired one

    again = run_flow(store, document(), payload=[{**CUSTOMERS[1], "Name": "O'Brien Ltd"}, CUSTOMERS[0]])
    assert (again.totals["updated"], again.totals["unchanged"]) == (1, 1), again.error
    assert sap.customers["O'Brien & Sons"]["Name"] == "O'Brien Ltd"  # found and addressed by ('O''Brien & Sons')


def test_an_update_refused_for_a_stale_etag_is_read_again_and_retried(store, sap):
    assert run_flow(store, document(), payload=CUSTOMERS[:2]).status == "succeeded"
    sap.change_before_update = {"C-1"}
    # The flow owns the credit limit only; someone else renames the customer between its read and its PATCH.
    result = run_flow(store, document(), payload=[{"CustomerID": "C-1", "CreditLimit": 5000}])
    assert result.status == "succeeded", result.error
    assert result.totals["updated"] == 1
    assert sap.refused_writes == ["stale etag for C-1"]  # the first PATCH, with the ETag read before the change
    held = sap.customers["C-1"]
    assert held["CreditLimit"] == 5000 and held["Name"] == "Acme (edited meanwhile)"  # both writers' changes
    events = runs.get_run(store, result.run_id).events or []
    assert any("HTTP 412: the record changed since it was read" in e["error"] for e in events), events


@pytest.mark.parametrize(
    ("change", "config", "said"),
    [
        (
            "broken_metadata",
            {},
            "connection 'sap' (sandbox): GET $metadata: the service's metadata does not parse: it is not XML",
        ),
        (None, {"entity_set": "Debitors"}, "the service has no entity set 'Debitors' (it has: Customers)"),
        (None, {"key": "CustomerNo"}, "key 'CustomerNo' is not a property of Customers"),
        ("no_tokens", {}, "the service gave no CSRF token (HTTP 200); writes need one"),
    ],
)
def test_what_the_service_cannot_take_stops_the_run_with_one_sentence(store, sap, change, config, said):
    if change == "broken_metadata":
        sap.broken_metadata = True
    if change == "no_tokens":
        sap.gives_tokens = False
    result = run_flow(store, document(**config), payload=CUSTOMERS)
    assert result.status == "failed"
    assert said in result.error and "Traceback" not in result.error
    assert len(result.error.splitlines()) == 1
    assert sap.customers == {}


def test_a_record_with_a_property_the_entity_type_lacks_stops_the_run_naming_it(store, sap):
    result = run_flow(store, document(), payload=[{**c, "Colour": "red"} for c in CUSTOMERS])
    assert result.status == "failed"
    assert "Customers has no property Colour (see its $metadata)" in result.error
    assert sap.customers == {}


def test_an_odata_connection_set_from_the_command_line_writes_with_its_csrf_token(cli, tmp_path):
    service = OdataService()
    served = serve_app(odata_api(service), name="odata api")
    try:
        root = f"{served.url}/sap/opu/odata4/sales"
        code, _, err = cli("connection", "set", "sap", "--env", "sandbox", "--type", "odata")
        assert code == 2 and "an odata connection needs --url, the service root" in err
        code, _, err = cli("connection", "set", "sap", "--env", "sandbox", "--type", "http", "--url", root, "--csrf")
        assert code == 2 and "--csrf goes with --type odata" in err
        code, _, err = cli("connection", "set", "sap", "--env", "sandbox", "--type", "odata", "--url", root, "--csrf")
        assert code == 0, err
        code, listed, _ = cli("connection", "list")
        assert ["sap", "sandbox", "odata", root] in [line.split() for line in listed.splitlines()]
        flow = document()
        flow["nodes"].insert(
            1, {"id": "shape", "type": "map", "config": {"fields": {"CustomerID": "C-9", "Name": "CLI"}}}
        )
        flow["edges"] = [{"from": "start", "to": "shape"}, {"from": "shape", "to": "write"}]
        (tmp_path / "flow.json").write_text(json.dumps(flow))
        code, out, err = cli("run", str(tmp_path / "flow.json"), "--env", "sandbox")
        assert code == 0, out + err
        assert service.customers == {"C-9": {"CustomerID": "C-9", "Name": "CLI"}} and service.tokens_fetched == 1
    finally:
        served.stop()
