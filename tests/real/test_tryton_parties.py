"""CRM accounts become parties of a real Tryton 8 through its REST API: names, an address with the
state found among Tryton's own subdivisions, links; a re-run writes nothing twice, a renamed account
renames its party and adds no second address."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

from app.services.flows import import_flow_file
from app.services.runs import run_flow
from app.store import flows, sync
from app.store.connections import set_connection
from tests.clock import later
from tests.real.tryton import Tryton

FLOW = Path(__file__).resolve().parents[2] / "flows" / "crm_accounts_to_tryton_parties.json"


def domain(*clauses: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(clauses)).encode()).decode()


def parties(tryton: Tryton) -> dict[str, dict]:
    with tryton.client() as client:
        found = client.get(
            "/party.party", params={"d": domain(["code", "like", "CRM-%"]), "f": ["code", "name", "addresses"]}
        ).json()
        addresses = client.get("/party.address", params={"f": ["party", "city", "subdivision.code"]}).json()
    by_party: dict[int, list] = {}
    for address in addresses:
        by_party.setdefault(address["party"], []).append(address)
    return {p["code"]: {**p, "addresses": by_party.get(p["id"], [])} for p in found}


def test_approved_accounts_become_tryton_parties_once_with_their_subdivision(tryton, store, demo):
    crm = demo["sandbox"]["crm"]
    set_connection(store, "tryton", "sandbox", "http", {"base_url": tryton.url, "token": tryton.key})
    import_flow_file(store, FLOW)
    document, version = flows.get_document(store, "crm_accounts_to_tryton_parties")
    first = run_flow(store, document, version=version)
    assert first.status in ("succeeded", "partial"), first.error
    with sqlite3.connect(crm) as db:
        approved = {
            row[0]: row
            for row in db.execute(
                "SELECT id, name, state, city FROM accounts WHERE credit_status = 'approved' AND TRIM(name) != ''"
            )
        }
    held = parties(tryton)
    assert first.totals["inserted"] == len(held) >= len(approved) * 0.9  # a few fail with their reason (duplicates)
    california = [p for code, p in held.items() if approved[int(code[4:])][2].strip().lower() in ("ca", "california")]
    assert california and all(p["addresses"][0]["subdivision"]["code"] == "US-CA" for p in california)
    links = sync.all_links(store, "sandbox", "account", "crm", "tryton")
    assert links == {code[4:]: str(p["id"]) for code, p in held.items()}

    again = run_flow(store, document, version=version, full_resync=True)
    assert again.totals["inserted"] == again.totals["updated"] == 0  # found by code, equal: nothing sent
    some = next(iter(held))
    with sqlite3.connect(crm) as db:
        db.execute(
            "UPDATE accounts SET name = 'Renamed in the CRM', updated_at = ? WHERE id = ?", (later(), int(some[4:]))
        )
    renamed = run_flow(store, document, version=version)
    assert renamed.totals["updated"] == 1 and renamed.totals["inserted"] == 0
    now = parties(tryton)[some]
    assert now["name"] == "Renamed in the CRM" and len(now["addresses"]) == 1  # no second address
