"""read.http and write.http in small flows against the sandbox APIs: cursors, outcomes, refusals, dry runs."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request

from app.engine.validation import validate_document
from app.services.runs import run_flow
from app.store import runs
from app.store.connections import set_connection
from tests.http.support import client, rows


def chain(flow_id: str, *nodes: dict) -> dict:
    """trigger.manual -> the nodes, in order."""
    chained = [{"id": "start", "type": "trigger.manual"}, *nodes]
    return {
        "schema_version": 1,
        "id": flow_id,
        "name": flow_id,
        "nodes": chained,
        "edges": [{"from": a["id"], "to": b["id"]} for a, b in zip(chained, chained[1:])],
    }


FLAKY_SEED = 1  # with it, some of ten records give up, never three in a row


def writes(sandbox, system: str) -> int:
    methods = sandbox.faults[system].methods
    return sum(methods.get(m, 0) for m in ("POST", "PUT", "PATCH"))


ACCOUNTS_READ = {
    "id": "read",
    "type": "read.http",
    "config": {
        "connection": "crm_api",
        "path": "/accounts",
        "params": {"sort": "updated_at"},
        "pagination": {"style": "page", "size": 50},
        "cursor": {"field": "updated_at", "ordered": True},
    },
}
CRM_PRODUCTS = {
    "id": "write",
    "type": "write.http",
    "config": {
        "connection": "crm_api",
        "method": "POST",
        "path": "/products",
        "key": "sku",
        "find": {"path": "/products", "params": {"sku": "{sku}"}},
        "update": {"method": "PATCH", "path": "/products/{id}"},
        "id_field": "id",
    },
}


def test_a_cursor_read_takes_only_what_changed_and_moves_only_after_the_writes(api_store, sandbox, tmp_path):
    set_connection(api_store, "files", "sandbox", "file", {"path": str(tmp_path / "out")})
    document = chain(
        "cursor",
        ACCOUNTS_READ,
        {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "a.jsonl"}},
    )
    first = run_flow(api_store, document)
    assert first.totals["read"] == 200 and first.status == "succeeded"
    position = runs.get_cursor(api_store, "cursor", "read", "sandbox")
    assert position == max(r["updated_at"] for r in rows(sandbox, "crm", "SELECT updated_at FROM accounts"))
    with client(sandbox, "crm") as crm:
        for account in (3, 4, 5):
            crm.patch(f"/accounts/{account}", json={"phone": "555-0100"})
    second = run_flow(api_store, document)
    assert second.totals["read"] == 4  # the three changed, and the one at the old position (read again, inclusive)

    # The target is down: the run fails and the position stays where it was, so nothing is skipped.
    set_connection(api_store, "down", "sandbox", "http", {"base_url": "http://127.0.0.1:1", "retry_attempts": 1})
    with client(sandbox, "crm") as crm:
        for account in (6, 7, 8):
            crm.patch(f"/accounts/{account}", json={"phone": "555-0101"})
    before = runs.get_cursor(api_store, "cursor", "read", "sandbox")
    failed = run_flow(
        api_store,
        chain(
            "cursor",
            ACCOUNTS_READ,
            {
                "id": "write",
                "type": "write.http",
                "config": {"connection": "down", "method": "PUT", "path": "/accounts/{id}", "key": "id"},
            },
        ),
    )
    assert failed.status == "failed" and "3 records in a row" in failed.error and "cannot connect" in failed.error
    assert runs.get_cursor(api_store, "cursor", "read", "sandbox") == before


def test_each_record_is_inserted_updated_or_unchanged_and_a_rerun_writes_nothing(api_store, sandbox):
    products = [
        {"sku": "SKU-9001", "name": "Pallet Wrap", "list_price": 19.99, "stock_on_hand": 4},
        {"sku": "SKU-9002", "name": "Tape Gun", "list_price": 12.5, "stock_on_hand": 0},
    ]
    document = chain("products", CRM_PRODUCTS)
    first = run_flow(api_store, document, payload=products)
    assert (first.totals["inserted"], first.totals["unchanged"]) == (2, 0)
    before = writes(sandbox, "crm")
    again = run_flow(api_store, document, payload=products)
    assert (again.totals["inserted"], again.totals["updated"], again.totals["unchanged"]) == (0, 0, 2)
    assert writes(sandbox, "crm") == before  # compared with a GET first: nothing sent
    changed = run_flow(api_store, document, payload=[{**products[0], "list_price": 21.0}, products[1]])
    assert (changed.totals["updated"], changed.totals["unchanged"]) == (1, 1)
    assert rows(sandbox, "crm", "SELECT list_price FROM products WHERE sku = 'SKU-9001'") == [{"list_price": 21.0}]


def test_a_record_the_api_refuses_waits_with_the_apis_reason_and_the_others_are_written(api_store, sandbox):
    line = {"line_no": 1, "sku": "SKU-1001", "quantity": 1, "unit_price": 10, "line_total": 10}
    orders = [
        {"crm_opportunity_id": 7001, "customer_number": 10001, "lines": [line]},
        {"crm_opportunity_id": 7002, "customer_number": 10001, "lines": [{**line, "sku": "SKU-GONE"}]},
        {"crm_opportunity_id": 7003, "customer_number": 10001, "lines": [line, {**line, "line_no": 2}]},
    ]
    document = chain(
        "orders",
        {
            "id": "write",
            "type": "write.http",
            "config": {
                "connection": "erp_api",
                "method": "POST",
                "path": "/sales_orders",
                "key": "crm_opportunity_id",
                "find": {"path": "/sales_orders", "params": {"crm_opportunity_id": "{crm_opportunity_id}"}},
                "update": {"path": "/sales_orders/{order_number}"},
                "id_field": "order_number",
            },
        },
    )
    result = run_flow(api_store, document, payload=orders)
    assert result.status == "partial" and result.totals["inserted"] == 2
    [letter] = runs.dead_letters(api_store, run_id=result.run_id)
    assert letter.record["crm_opportunity_id"] == 7002
    assert letter.reason == "POST /sales_orders refused: HTTP 422: line 1: unknown product sku 'SKU-GONE'"
    lines = rows(
        sandbox,
        "erp",
        "SELECT o.crm_opportunity_id, COUNT(l.id) AS n FROM sales_orders o JOIN "
        "sales_order_lines l ON l.order_number = o.order_number WHERE o.crm_opportunity_id "
        "> 7000 GROUP BY o.crm_opportunity_id ORDER BY 1",
    )
    assert lines == [{"crm_opportunity_id": 7001, "n": 1}, {"crm_opportunity_id": 7003, "n": 2}]


def test_put_to_the_records_own_address_creates_or_updates_it(api_store, sandbox):
    document = chain(
        "put",
        {
            "id": "write",
            "type": "write.http",
            "config": {"connection": "erp_api", "method": "PUT", "path": "/products/{id}", "key": "id"},
        },
    )
    new = {"id": 501, "sku": "SKU-501", "name": "Crate", "unit_price": 3.5}
    assert run_flow(api_store, document, payload=[new]).totals["inserted"] == 1
    assert run_flow(api_store, document, payload=[new]).totals["unchanged"] == 1
    assert run_flow(api_store, document, payload=[{**new, "unit_price": 4}]).totals["updated"] == 1
    assert rows(sandbox, "erp", "SELECT sku, unit_price FROM products WHERE id = 501") == [
        {"sku": "SKU-501", "unit_price": 4.0}
    ]


def test_a_dry_run_lists_each_change_field_by_field_and_writes_nothing(api_store, sandbox):
    current = rows(sandbox, "crm", "SELECT sku, name, list_price FROM products ORDER BY sku LIMIT 1")[0]
    payload = [
        {"sku": current["sku"], "name": current["name"], "list_price": current["list_price"] + 1},
        {"sku": "SKU-9100", "name": "New Thing", "list_price": 1.0},
    ]
    before = writes(sandbox, "crm")
    result = run_flow(api_store, chain("dry", CRM_PRODUCTS), payload=payload, dry_run=True)
    assert writes(sandbox, "crm") == before
    assert (result.totals["updated"], result.totals["inserted"]) == (1, 1)
    update, insert = result.changes["write"]
    assert update["before"] == {"list_price": current["list_price"]}
    assert update["after"] == {"list_price": current["list_price"] + 1}
    assert insert["outcome"] == "inserted" and insert["key"] == {"sku": "SKU-9100"}


def test_a_record_still_failing_after_its_retries_waits_in_dead_letters_with_the_last_fault(api_store, sandbox):
    set_connection(
        api_store,
        "flaky",
        "sandbox",
        "http",
        {"base_url": sandbox.crm_url, "token": sandbox.token, "retry_attempts": 2, "retry_wait": 0.001},
    )
    sandbox.set_faults("crm", error_rate=0.5, seed=FLAKY_SEED)
    products = [{"sku": f"SKU-96{n:02d}", "name": "x"} for n in range(10)]
    result = run_flow(
        api_store,
        chain("flaky", {**CRM_PRODUCTS, "config": {**CRM_PRODUCTS["config"], "connection": "flaky"}}),
        payload=products,
    )
    letters = {d.record["sku"]: d.reason for d in runs.dead_letters(api_store, run_id=result.run_id)}
    sandbox.set_faults("crm")
    written = {r["sku"] for r in rows(sandbox, "crm", "SELECT sku FROM products WHERE sku LIKE 'SKU-96%'")}
    assert result.status == "partial" and letters and written
    assert sorted(written | set(letters)) == [p["sku"] for p in products] and not written & set(letters)
    assert all(reason.startswith("gave up after 2 attempts: ") and "HTTP 500" in reason for reason in letters.values())


def test_an_api_that_keeps_failing_stops_the_run_and_its_records_are_read_again_later(api_store, sandbox):
    sandbox.set_faults("crm", error_rate=1)
    products = [{"sku": f"SKU-95{n:02d}", "name": "x"} for n in range(5)]
    result = run_flow(api_store, chain("down", CRM_PRODUCTS), payload=products)
    assert result.status == "failed" and "3 records in a row failed like this" in result.error
    assert "gave up after 6 attempts" in result.error and "HTTP 500" in result.error


@pytest.mark.parametrize(
    "config, sentence",
    [
        ({"method": "POST", "path": "/x", "key": "id"}, "a POST write needs find"),
        ({"method": "PATCH", "path": "/x/{id}", "key": "id"}, "PATCH only changes records that exist"),
        ({"path": "/x/{id}", "key": "id", "link": {"entity": "a", "source": "s", "source_id": "id"}}, "needs id_field"),
    ],
)
def test_a_write_that_could_not_be_retried_safely_is_a_problem_before_it_runs(config, sentence):
    document = chain("bad", {"id": "write", "type": "write.http", "config": {"connection": "api", **config}})
    assert any(sentence in p.message for p in validate_document(document))


def test_a_read_the_api_refuses_fails_the_run_with_the_apis_reason(api_store, sandbox, tmp_path):
    set_connection(api_store, "files", "sandbox", "file", {"path": str(tmp_path / "out")})
    bad = {**ACCOUNTS_READ, "config": {**ACCOUNTS_READ["config"], "params": {"colour": "red"}}}
    result = run_flow(
        api_store,
        chain(
            "refused", bad, {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "a.jsonl"}}
        ),
    )
    assert result.status == "failed"
    assert "connection 'crm_api' (sandbox): GET /accounts: HTTP 400: unknown filter 'colour'" in result.error


def test_a_write_with_credentials_the_api_refuses_stops_the_run_instead_of_failing_every_record(api_store, sandbox):
    set_connection(api_store, "crm_api", "sandbox", "http", {"base_url": sandbox.crm_url, "token": "stale"})
    result = run_flow(api_store, chain("stale", CRM_PRODUCTS), payload=[{"sku": "SKU-9700", "name": "x"}] * 3)
    assert result.status == "failed" and "HTTP 401: missing or wrong bearer token" in result.error
    assert "stale" not in result.error and not runs.dead_letters(api_store, run_id=result.run_id)


@pytest.mark.parametrize("style, skips", [("page", True), ("since", False)])
def test_paging_by_the_cursor_never_skips_a_record_changed_during_the_read(api_store, sandbox, style, skips):
    """Each account read is written back at once, so it moves to the end of the updated_at order while
    the read goes on: pages by number then skip the records that moved up a page; pages asked from
    the last value read skip none."""
    read = {
        "id": "read",
        "type": "read.http",
        "config": {
            "connection": "crm_api",
            "path": "/accounts",
            "params": {"sort": "updated_at"},
            "pagination": {"style": style, "size": 20},
            "cursor": {"field": "updated_at", "ordered": True},
        },
    }
    touch = {"id": "touch", "type": "map", "config": {"fields": {"id": "{{ record.id }}", "phone": "555-0000"}}}
    write = {
        "id": "write",
        "type": "write.http",
        "config": {"connection": "crm_api", "method": "PATCH", "path": "/accounts/{id}", "key": "id", "mode": "update"},
    }
    result = run_flow(api_store, chain(f"touch_{style}", read, touch, write))
    untouched = rows(sandbox, "crm", "SELECT COUNT(*) AS n FROM accounts WHERE phone <> '555-0000'")[0]["n"]
    assert result.status == "succeeded"
    assert (untouched > 0) == skips
    if not skips:
        assert result.totals["updated"] == 200  # each once; read again after its own change, it is unchanged


@pytest.mark.parametrize(
    "wrong, said",
    [
        ({"find": {"path": "/prodcts", "params": {"sku": "{sku}"}}}, "HTTP 404"),  # a list that does not exist
        ({"path": "/prodcts"}, "HTTP 404"),  # posting to one
        ({"update": {"method": "PATCH", "path": "/products"}}, "HTTP 405"),  # a method the address does not take
    ],
)
def test_an_address_wrong_for_every_record_stops_the_run_with_one_message(api_store, sandbox, wrong, said):
    config = {**CRM_PRODUCTS["config"], **wrong}
    existing = rows(sandbox, "crm", "SELECT sku FROM products ORDER BY id LIMIT 3")
    records = (
        [{"sku": r["sku"], "name": "renamed"} for r in existing]
        if "update" in wrong
        else [{"sku": f"SKU-98{n:02d}", "name": "x"} for n in range(5)]
    )
    result = run_flow(api_store, chain("wrong", {**CRM_PRODUCTS, "config": config}), payload=records)
    assert result.status == "failed" and said in result.error and "wrong for every record" in result.error
    assert runs.dead_letters(api_store, run_id=result.run_id) == []  # one message, not a letter per record


def test_an_error_page_leaves_a_short_reason_and_the_page_in_the_letters_details(store):
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from app.sandbox.http_serve import serve_app

    page = (
        "<!DOCTYPE html><html><head><title>422 Unprocessable: price must be positive</title><style>"
        + "body{color:red}" * 200
        + "</style></head><body><h1>Unprocessable</h1>"
        + "<p>trace</p>" * 300
        + "</body></html>"
    )
    api = FastAPI()

    @api.put("/products/{sku}")
    def refuse(sku: str) -> HTMLResponse:
        return HTMLResponse(page, status_code=422)

    @api.get("/products/{sku}")
    def missing(sku: str) -> HTMLResponse:
        return HTMLResponse("<html><title>Not Found</title></html>", status_code=404)

    served = serve_app(api, name="html api")
    try:
        set_connection(store, "shop", "sandbox", "http", {"base_url": served.url})
        write = {
            "id": "write",
            "type": "write.http",
            "config": {"connection": "shop", "path": "/products/{sku}", "key": "sku"},
        }
        result = run_flow(store, chain("html", write), payload=[{"sku": "A1", "price": -1}])
    finally:
        served.stop()
    [letter] = runs.dead_letters(store, run_id=result.run_id)
    assert letter.reason == "PUT /products/A1 refused: HTTP 422: 422 Unprocessable: price must be positive"
    assert letter.details.startswith("<!DOCTYPE html>") and len(letter.details) == 4000


def test_find_builds_the_filter_each_api_wants_from_a_template_over_the_record(store):
    import base64
    import json
    import re

    from app.sandbox.http_serve import serve_app

    held: dict[str, list[dict]] = {"odata": [], "domain": []}
    api = FastAPI()

    @api.get("/Customers")
    def odata(request: Request) -> dict:  # OData v4: $filter=crmId eq '17'
        match = re.fullmatch(r"crmId eq '([^']*)'", request.query_params["$filter"])
        return {"value": [c for c in held["odata"] if match and c["crmId"] == match.group(1)]}

    @api.get("/parties")
    def domain(d: str) -> list:  # Tryton's REST: d = base64 of a JSON domain
        [[field, operator, value]] = json.loads(base64.b64decode(d))
        assert operator == "="
        return [p for p in held["domain"] if p[field] == value]

    @api.post("/{kind}")
    async def create(kind: str, request: Request) -> dict:
        record = {**(await request.json()), "id": len(held["odata"]) + len(held["domain"]) + 1}
        held["odata" if kind == "Customers" else "domain"].append(record)
        return record

    served = serve_app(api, name="filtering api")
    try:
        set_connection(store, "erp", "sandbox", "http", {"base_url": served.url})
        writes = {
            "odata": {
                "path": "/Customers",
                "key": "crmId",
                "find": {
                    "path": "/Customers",
                    "params": {"$filter": "crmId eq '{{ record.crmId }}'"},
                    "record_path": "value",
                },
            },
            "domain": {
                "path": "/parties",
                "key": "crm_id",
                "find": {
                    "path": "/parties",
                    "params": {"d": '{{ [["crm_id", "=", record.crm_id]] | tojson | b64encode }}'},
                    "record_path": "",
                },
            },
        }
        for kind, config in writes.items():
            write = {
                "id": "write",
                "type": "write.http",
                "config": {"connection": "erp", "method": "POST", "mode": "insert", **config},
            }
            records = [
                {config["key"]: value, "name": f"n{value}"} for value in (["17", "18"] if kind == "odata" else [17, 18])
            ]
            first = run_flow(store, chain(kind, write), payload=records)
            again = run_flow(store, chain(kind, write), payload=records)
            assert first.totals["inserted"] == 2, (
                str(first.totals),
                [d.reason for d in runs.dead_letters(store, run_id=first.run_id)],
            )
            assert again.totals["failed"] == 2  # found by the filter: insert mode refuses to make them twice
            assert len(held[kind]) == 2
    finally:
        served.stop()


def test_a_lookup_reads_through_an_api_per_value_or_one_call_per_batch(api_store, sandbox, store):
    import base64
    import json

    from app.sandbox.http_serve import serve_app

    products = rows(sandbox, "crm", "SELECT sku, id FROM products ORDER BY id LIMIT 3")
    per_value = {
        "id": "find",
        "type": "transform",
        "config": {
            "steps": [
                {
                    "op": "lookup",
                    "connection": "crm_api",
                    "path": "/products",
                    "record_path": "data",
                    "match": {"sku": "{{ record.sku }}"},
                    "fields": {"product_id": "id"},
                }
            ]
        },
    }
    out = {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "o.jsonl"}}
    set_connection(api_store, "files", "sandbox", "file", {"path": str(sandbox.data["crm"].path.parent / "lookups")})
    result = run_flow(
        api_store,
        chain("per_value", per_value, out),
        payload=[{"sku": p["sku"]} for p in products] + [{"sku": "SKU-NONE"}],
    )
    assert result.totals["failed"] == 1
    [letter] = runs.dead_letters(api_store, run_id=result.run_id)
    assert "no row in crm_api./products with sku='SKU-NONE'" in letter.reason

    calls: list[str] = []
    api = FastAPI()

    @api.get("/subdivisions")
    def subdivisions(d: str) -> list:  # a Tryton-style list: d = urlsafe base64 of a JSON domain
        calls.append(d)
        [[field, operator, values]] = json.loads(base64.urlsafe_b64decode(d))
        assert (field, operator) == ("code", "in")
        known = {"US-CA": 4797, "US-TX": 4838, "US-NY": 4820}
        return [{"id": known[v], "code": v} for v in values if v in known]

    served = serve_app(api, name="subdivisions api")
    try:
        set_connection(store, "erp", "sandbox", "http", {"base_url": served.url})
        set_connection(store, "files", "sandbox", "file", {"path": str(sandbox.data["crm"].path.parent / "lookups")})
        batch = {
            "id": "find",
            "type": "transform",
            "config": {
                "steps": [
                    {
                        "op": "lookup",
                        "connection": "erp",
                        "path": "/subdivisions",
                        "search": {"d": '{{ [["code", "in", record.values.code]] | tojson | b64encode(true) }}'},
                        "match": {"code": "US-{{ record.state | upper }}"},
                        "fields": {"subdivision": "id"},
                    }
                ]
            },
        }
        result = run_flow(
            store, chain("batch", batch, out), payload=[{"state": s} for s in ("ca", "TX", "ny", "ca", "zz")]
        )
    finally:
        served.stop()
    assert len(calls) == 1  # one call for the whole batch, with each code once
    assert sorted(json.loads(base64.urlsafe_b64decode(calls[0]))[0][2]) == ["US-CA", "US-NY", "US-TX", "US-ZZ"]
    assert result.totals["failed"] == 1 and result.status == "partial"


def test_an_api_that_answers_errors_with_200_fails_the_record_with_its_own_message(store):
    """JSON-RPC systems (Tryton, Odoo) answer a refused call with HTTP 200 and an `error` member:
    with the connection's `error_path` that is a refusal, never a record counted as written."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from app.sandbox.http_serve import serve_app

    api = FastAPI()
    taken: list[dict] = []

    @api.put("/parties/{code}")
    def put_party(code: str, body: dict) -> dict:
        if not body.get("name"):
            return {"id": None, "error": ["UserError", ["A party needs a name.", ""]]}
        taken.append(body)
        return {"id": len(taken), "error": None, "result": {"code": code}}

    @api.get("/parties/{code}")
    def no_party(code: str) -> JSONResponse:
        return JSONResponse({"detail": "no such party"}, status_code=404)

    served = serve_app(api, name="rpc-like api")
    records = [{"code": "P1", "name": "Ada"}, {"code": "P2", "name": ""}, {"code": "P3", "name": "Grace"}]
    write = {
        "id": "write",
        "type": "write.http",
        "config": {"connection": "erp", "path": "/parties/{code}", "key": "code"},
    }
    try:
        set_connection(store, "erp", "sandbox", "http", {"base_url": served.url})
        unchecked = run_flow(store, chain("rpc_unchecked", write), payload=records)
        assert unchecked.status == "succeeded" and len(taken) == 2  # without error_path: P2 counted as written
        taken.clear()
        set_connection(store, "erp", "sandbox", "http", {"base_url": served.url, "error_path": "error"})
        result = run_flow(store, chain("rpc", write), payload=records)
    finally:
        served.stop()
    assert result.status == "partial" and len(taken) == 2
    assert result.totals["inserted"] == 2 and result.totals["failed"] == 1
    [letter] = runs.dead_letters(store, run_id=result.run_id)
    assert letter.record == {"code": "P2", "name": ""}
    assert (
        letter.reason
        == 'PUT /parties/P2 refused in its answer (HTTP 200): ["UserError", ["A party needs a name.", ""]]'
    )
