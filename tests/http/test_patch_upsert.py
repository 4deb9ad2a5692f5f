"""write.http upserting with PATCH at a record's external-id address, as Salesforce's
`PATCH /sobjects/Account/Crm_Id__c/{id}` does (201 for a record it created, 204 with no body for
one it updated), against such an API on 127.0.0.1: new accounts created, equal ones not sent, a
changed one patched; without `patch_creates`, PATCH in upsert mode stays a validation problem."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from app.engine.validation import validate_document
from app.sandbox.http_serve import serve_app
from app.services.runs import run_flow
from app.store.connections import set_connection

ACCOUNTS = [{"Crm_Id__c": f"A{n}", "Name": f"Account {n}", "AnnualRevenue": n * 1000} for n in range(1, 5)]


def salesforce_like(held: dict[str, dict[str, Any]], calls: list[str]) -> FastAPI:
    app = FastAPI()
    base = "/services/data/v61.0/sobjects/Account/Crm_Id__c/{ext}"

    @app.get(base)
    def one(ext: str) -> Response:
        calls.append("GET")
        if ext not in held:
            return JSONResponse([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404)
        return JSONResponse({"Id": held[ext]["Id"], "Crm_Id__c": ext, **held[ext]["fields"]})

    @app.patch(base)
    async def upsert(ext: str, request: Request) -> Response:
        calls.append("PATCH")
        fields = {k: v for k, v in (await request.json()).items() if k != "Crm_Id__c"}
        if ext in held:
            held[ext]["fields"].update(fields)
            return Response(status_code=204)
        held[ext] = {"Id": f"001{len(held):05d}", "fields": fields}
        return JSONResponse({"id": held[ext]["Id"], "success": True, "created": True}, status_code=201)

    return app


def document(**config) -> dict:
    return {
        "schema_version": 1,
        "id": "accounts_to_salesforce",
        "name": "Accounts to Salesforce",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "write",
                "type": "write.http",
                "config": {
                    "connection": "salesforce",
                    "method": "PATCH",
                    "path": "/services/data/v61.0/sobjects/Account/Crm_Id__c/{Crm_Id__c}",
                    "key": "Crm_Id__c",
                    "patch_creates": True,
                    **config,
                },
            },
        ],
        "edges": [{"from": "start", "to": "write"}],
    }


def test_patch_at_the_external_id_creates_new_accounts_and_updates_changed_ones(store):
    held: dict[str, dict[str, Any]] = {}
    calls: list[str] = []
    served = serve_app(salesforce_like(held, calls), name="salesforce-like api")
    try:
        set_connection(store, "salesforce", "sandbox", "http", {"base_url": served.url, "retry_wait": 0.01})
        first = run_flow(store, document(), payload=ACCOUNTS)
        assert (first.status, first.totals["inserted"]) == ("succeeded", 4), first.error
        again = run_flow(store, document(), payload=ACCOUNTS)
        assert again.totals["unchanged"] == 4 and calls.count("PATCH") == 4
        changed = [{**a, "AnnualRevenue": 5} if a["Crm_Id__c"] == "A2" else a for a in ACCOUNTS]
        third = run_flow(store, document(), payload=changed)
        assert (third.totals["updated"], third.totals["unchanged"]) == (1, 3), third.error
    finally:
        served.stop()
    assert held["A2"]["fields"] == {"Name": "Account 2", "AnnualRevenue": 5} and len(held) == 4


def test_patch_in_upsert_mode_without_patch_creates_is_a_validation_problem():
    problems = validate_document(document(patch_creates=False))
    assert any("PATCH only changes records that exist" in str(p) for p in problems), problems
