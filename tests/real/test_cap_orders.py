"""CRM won deals become sales orders of an OData v4 ERP served by SAP CAP, with their items as one
unit: deep insert, then a changed line updated in place (its id kept) by a deep update; every order
and item linked; a re-run writes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from app.services.flows import import_flow_file
from app.services.runs import run_flow
from app.store import flows, sync
from app.store.connections import set_connection
from tests.clock import later
from tests.real.cap import CapServer

FLOW = Path(__file__).resolve().parents[2] / "flows" / "crm_won_deals_to_odata_orders.json"


def orders(cap: CapServer) -> dict[str, dict]:
    answer = httpx.get(f"{cap.url}/SalesOrders", params={"$expand": "items", "$top": 5000}, timeout=30).json()
    # The CRM's deals only: other tests of the session write orders of their own (prefixed ids).
    return {o["crmDealId"]: o for o in answer["value"] if str(o["crmDealId"]).isdigit()}


def won_deals(crm: Path) -> dict[int, list[tuple]]:
    with sqlite3.connect(crm) as db:
        deals = [
            r[0]
            for r in db.execute(
                "SELECT o.id FROM opportunities o JOIN accounts a ON a.id = o.account_id WHERE o.stage = 'won' "
                "AND o.amount >= 1000 AND a.credit_status = 'approved'"
            )
        ]
        return {
            d: [
                tuple(r)
                for r in db.execute(
                    "SELECT id, sku, quantity, unit_price FROM opportunity_lines "
                    "WHERE opportunity_id = ? ORDER BY line_no",
                    (d,),
                )
            ]
            for d in deals
        }


def test_won_deals_become_odata_orders_with_their_items_and_a_changed_line_is_updated_in_place(cap, store, demo):
    crm = demo["sandbox"]["crm"]
    set_connection(store, "erp_odata", "sandbox", "odata", {"base_url": cap.url})
    import_flow_file(store, FLOW)
    document, version = flows.get_document(store, "crm_won_deals_to_odata_orders")
    first = run_flow(store, document, version=version)
    from app.store import runs

    assert first.status == "succeeded", [d.reason for d in runs.dead_letters(store, run_id=first.run_id)][:3]
    expected, held = won_deals(crm), orders(cap)
    assert first.totals["inserted"] == len(expected) == len(held) > 20
    for deal, lines in expected.items():
        items = sorted(held[str(deal)]["items"], key=lambda i: int(i["crmLineId"]))
        assert [(int(i["crmLineId"]), i["sku"], float(i["quantity"]), float(i["unitPrice"])) for i in items] == [
            (line_id, sku, float(quantity), float(price)) for line_id, sku, quantity, price in lines
        ]
    assert sync.all_links(store, "sandbox", "order", "crm", "erp_odata") == {d: o["ID"] for d, o in held.items()}
    line_links = sync.all_links(store, "sandbox", "order_line", "crm", "erp_odata")
    assert line_links == {i["crmLineId"]: i["ID"] for o in held.values() for i in o["items"]}

    again = run_flow(store, document, version=version, full_resync=True)
    assert again.totals["inserted"] == again.totals["updated"] == 0 and again.totals["unchanged"] == len(expected)

    deal = next(iter(expected))
    line_id = expected[deal][0][0]
    with sqlite3.connect(crm) as db:
        db.execute("UPDATE opportunity_lines SET quantity = quantity + 7 WHERE id = ?", (line_id,))
        db.execute("UPDATE opportunities SET updated_at = ? WHERE id = ?", (later(), deal))
    changed = run_flow(store, document, version=version)
    assert changed.totals["updated"] == 1 and changed.totals["inserted"] == 0
    item = next(i for i in orders(cap)[str(deal)]["items"] if i["crmLineId"] == str(line_id))
    assert float(item["quantity"]) == expected[deal][0][2] + 7
    assert item["ID"] == line_links[str(line_id)]  # updated in place: the same item, not a new one
    assert len(orders(cap)[str(deal)]["items"]) == len(expected[deal])
