"""A small OData v4 service in the manner of SAP Gateway, for the tests: customers keyed by a text
id (so its literals need quotes, doubled inside), ETags, and CSRF tokens (fetched with
`X-CSRF-Token: Fetch`, required on every write). Knobs a test turns: a token that expires after
some writes, a service that gives no token, a `$metadata` that is not XML, a customer changed by
someone else between the flow's read and its update."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

METADATA = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="SalesService" Alias="S" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityContainer Name="Container">
        <EntitySet Name="Customers" EntityType="S.Customer"/>
      </EntityContainer>
      <EntityType Name="Party" Abstract="true">
        <Key><PropertyRef Name="CustomerID"/></Key>
        <Property Name="CustomerID" Type="Edm.String" Nullable="false"/>
      </EntityType>
      <EntityType Name="Customer" BaseType="S.Party">
        <Property Name="Name" Type="Edm.String"/>
        <Property Name="CreditLimit" Type="Edm.Decimal"/>
      </EntityType>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"""


@dataclass
class OdataService:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # ETag of each customer
    tokens_fetched: int = 0
    token: str | None = None
    expire_token_after: int | None = None  # writes the token may make before it is refused
    writes_with_token: int = 0
    gives_tokens: bool = True
    broken_metadata: bool = False
    change_before_update: set[str] = field(default_factory=set)  # ids someone else changes at the first PATCH
    refused_writes: list[str] = field(default_factory=list)  # why each refused write was refused

    def etag(self, key: str) -> str:
        return f'W/"{self.versions[key]}"'


def _key(text: str) -> str:
    """The id in ('O''Brien'): the literal unquoted, its doubled quotes single."""
    found = re.fullmatch(r"\('((?:[^']|'')*)'\)", text)
    if not found:
        raise ValueError(text)
    return found.group(1).replace("''", "'")


def odata_api(service: OdataService) -> FastAPI:
    api = FastAPI()

    def csrf_refusal(request: Request) -> Response | None:
        sent = request.headers.get("x-csrf-token")
        if service.token is None or sent != service.token:
            service.refused_writes.append(f"token {sent!r}")
            return JSONResponse(
                {"error": {"code": "403", "message": "CSRF token validation failed"}},
                status_code=403,
                headers={"x-csrf-token": "Required"},
            )
        service.writes_with_token += 1
        if service.expire_token_after is not None and service.writes_with_token > service.expire_token_after:
            service.token, service.expire_token_after = None, None  # its session ended: this write is refused
            return csrf_refusal(request)
        return None

    @api.get("/sap/opu/odata4/sales/")
    def root(request: Request) -> Response:
        headers = {}
        if request.headers.get("x-csrf-token", "").lower() == "fetch" and service.gives_tokens:
            service.tokens_fetched += 1
            service.token = secrets.token_urlsafe(8)
            headers["x-csrf-token"] = service.token
        return JSONResponse({"value": [{"name": "Customers", "url": "Customers"}]}, headers=headers)

    @api.get("/sap/opu/odata4/sales/$metadata")
    def metadata() -> Response:
        if service.broken_metadata:
            return Response("<html><body>Service unavailable", media_type="application/xml")
        return Response(METADATA, media_type="application/xml")

    @api.get("/sap/opu/odata4/sales/Customers")
    def customers(request: Request) -> dict:
        wanted = request.query_params.get("$filter", "")
        found = re.fullmatch(r"CustomerID eq '((?:[^']|'')*)'", wanted)
        if wanted and not found:
            return JSONResponse({"error": {"code": "400", "message": f"bad $filter {wanted}"}}, status_code=400)
        key = found.group(1).replace("''", "'") if found else None
        return {
            "value": [
                {**c, "@odata.etag": service.etag(k)} for k, c in service.customers.items() if key is None or k == key
            ]
        }

    @api.post("/sap/opu/odata4/sales/Customers")
    async def create(request: Request) -> Response:
        refusal = csrf_refusal(request)
        if refusal is not None:
            return refusal
        body = await request.json()
        key = body["CustomerID"]
        service.customers[key], service.versions[key] = body, 1
        return JSONResponse({**body, "@odata.etag": service.etag(key)}, status_code=201)

    @api.patch("/sap/opu/odata4/sales/Customers{predicate}")
    async def update(predicate: str, request: Request) -> Response:
        refusal = csrf_refusal(request)
        if refusal is not None:
            return refusal
        key = _key(predicate)
        if key in service.change_before_update:  # someone else saves it first
            service.change_before_update.discard(key)
            service.customers[key]["Name"] += " (edited meanwhile)"
            service.versions[key] += 1
        if request.headers.get("if-match") != service.etag(key):
            service.refused_writes.append(f"stale etag for {key}")
            return JSONResponse({"error": {"code": "412", "message": "Precondition Failed"}}, status_code=412)
        service.customers[key].update(await request.json())
        service.versions[key] += 1
        return Response(status_code=204)

    return api
