"""An odata connection to SAP CAP (tests/real/cap.py): the editor's pickers list the service's entity
sets and properties from its `$metadata`; read.odata reads an entity set page by page and then only
what changed (by modifiedAt); an update with an ETag older than the service's is refused with 412
and said so."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest

from app.connectors import ConnectionSpec
from app.connectors.odata import EntityChanged
from app.services import systems
from app.services.runs import run_flow
from app.store import runs
from app.store.connections import set_connection
from tests.real.cap import CapServer, sales_orders_write


def new_orders(cap: CapServer, prefix: str, count: int) -> list[dict]:
    with httpx.Client(base_url=cap.url, timeout=30) as client:
        return [
            client.post("/SalesOrders", json={"crmDealId": f"{prefix}{i}", "currency": "EUR", "netTotal": i}).json()
            for i in range(1, count + 1)
        ]


def test_the_pickers_list_the_services_entity_sets_and_their_properties(cap, store):
    set_connection(store, "erp", "sandbox", "odata", {"base_url": cap.url})
    systems.forget(store)
    assert systems.tables(store, "erp") == ["SalesOrderItems", "SalesOrders"]
    columns = systems.columns(store, "erp", "SalesOrders")
    assert columns[:2] == ["ID", "createdAt"] and {"crmDealId", "netTotal", "modifiedAt", "items"} <= set(columns)


def test_read_odata_reads_page_by_page_then_only_what_changed_since(cap, store, tmp_path):
    prefix = f"R{secrets.token_hex(3)}-"
    made = new_orders(cap, prefix, 7)
    set_connection(store, "erp", "sandbox", "odata", {"base_url": cap.url})
    set_connection(store, "files", "sandbox", "file", {"path": str(tmp_path / "out")})
    document = {
        "schema_version": 1,
        "id": "odata_read",
        "name": "odata_read",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "read",
                "type": "read.odata",
                "config": {
                    "connection": "erp",
                    "entity_set": "SalesOrders",
                    "select": ["crmDealId", "netTotal"],
                    "expand": ["items"],
                    "filter": f"startswith(crmDealId,'{prefix}')",
                    "cursor": "modifiedAt",
                    "page_size": 3,  # 7 orders: pages of 3, 3 and 1, each after the last one read
                },
            },
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "orders.jsonl"}},
        ],
        "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "out"}],
    }

    def written() -> list[dict]:
        return [json.loads(line) for line in (tmp_path / "out" / "orders.jsonl").read_text().splitlines()]

    first = run_flow(store, document)
    assert first.status == "succeeded", first.error
    assert sorted(r["crmDealId"] for r in written()) == sorted(o["crmDealId"] for o in made)
    assert all(set(r) == {"ID", "modifiedAt", "crmDealId", "netTotal", "items"} for r in written())  # no @odata.*
    position = runs.get_cursor(store, "odata_read", "read", "sandbox")
    assert position == max(o["modifiedAt"] for o in made)

    changed = made[2]
    with httpx.Client(base_url=cap.url, timeout=30) as client:
        current = client.get(f"/SalesOrders({changed['ID']})").json()
        answer = client.patch(
            f"/SalesOrders({changed['ID']})", json={"netTotal": 99}, headers={"If-Match": current["@odata.etag"]}
        )
        assert answer.status_code == 200, answer.text
    second = run_flow(store, document)
    assert second.status == "succeeded", second.error
    again = {r["crmDealId"]: r for r in written()}
    assert again[changed["crmDealId"]]["netTotal"] == 99
    # Besides the changed one, only what sat at the position (inclusive: never missed).
    assert {o["modifiedAt"] for k, o in again.items() if k != changed["crmDealId"]} <= {position}


def test_an_update_with_an_older_etag_is_refused_as_changed_since_it_was_read(cap):
    [order] = new_orders(cap, f"E{secrets.token_hex(3)}-", 1)
    erp = ConnectionSpec("erp", "sandbox", "odata", {"base_url": cap.url}).open()
    try:
        address = f"SalesOrders({order['ID']})"
        fresh = erp.send("PATCH", address, body={"currency": "USD"}, headers={"If-Match": order["@odata.etag"]})
        assert fresh is not None and fresh.status_code == 200
        with pytest.raises(EntityChanged, match=r"PATCH SalesOrders\(.*\): HTTP 412: the record changed"):
            erp.send("PATCH", address, body={"currency": "GBP"}, headers={"If-Match": order["@odata.etag"]})
    finally:
        erp.close()
    assert httpx.get(f"{cap.url}/{address}", timeout=30).json()["currency"] == "USD"


def test_write_odata_sends_a_batch_of_orders_in_batch_calls_each_answered_on_its_own(cap, store):
    prefix = f"B{secrets.token_hex(3)}-"
    set_connection(store, "erp", "sandbox", "odata", {"base_url": cap.url})
    orders = [
        {
            "crmDealId": f"{prefix}{n}",
            "currency": "EURO" if n == 7 else "EUR",  # CAP refuses a String(3) of four letters
            "netTotal": n * 10,
            "items": [{"crmLineId": f"{prefix}{n}-{i}", "sku": f"S{i}", "quantity": i, "unitPrice": 5} for i in (1, 2)],
        }
        for n in range(1, 31)
    ]
    document = {
        "schema_version": 1,
        "id": "odata_batch",
        "name": "odata_batch",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "write",
                "type": "write.odata",
                "config": sales_orders_write(batch_size=8),
            },
        ],
        "edges": [{"from": "start", "to": "write"}],
    }
    first = run_flow(store, document, payload=orders)
    assert (first.totals["inserted"], first.totals["failed"]) == (29, 1), first.error
    [refused] = runs.dead_letters(store, run_id=first.run_id)
    assert "Value EURO is not a valid String(3)" in refused.reason and "(in $batch)" in refused.reason

    def held() -> dict[str, dict]:
        answer = httpx.get(
            f"{cap.url}/SalesOrders",
            params={"$filter": f"startswith(crmDealId,'{prefix}')", "$expand": "items"},
            timeout=30,
        )
        return {o["crmDealId"]: o for o in answer.json()["value"]}

    before = held()
    assert len(before) == 29 and all(len(o["items"]) == 2 for o in before.values())
    again = run_flow(store, document, payload=[o for o in orders if o["currency"] == "EUR"])
    assert (again.totals["unchanged"], again.totals["inserted"], again.totals["updated"]) == (29, 0, 0)
    orders[0]["items"][1]["quantity"] = 9
    changed = run_flow(store, document, payload=orders[:5])
    assert (changed.totals["updated"], changed.totals["unchanged"]) == (1, 4), (
        changed.totals,
        [d.reason for d in runs.dead_letters(store, run_id=changed.run_id)],
    )
    after = held()[f"{prefix}1"]
    assert {i["crmLineId"]: (i["ID"], i["quantity"]) for i in after["items"]} == {
        i["crmLineId"]: (i["ID"], 9 if i["crmLineId"].endswith("-2") else i["quantity"])
        for i in before[f"{prefix}1"]["items"]
    }  # the changed item updated in place: the same ids
