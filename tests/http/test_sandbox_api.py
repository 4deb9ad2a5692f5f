"""The sandbox CRM and ERP REST APIs as a client sees them: auth, pages, filters, writes, reset, faults."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.http.support import ACCOUNTS, client, execute, rows


def test_a_call_without_the_bearer_token_is_refused_with_401(sandbox):
    for token in (None, "wrong-token"):
        with client(sandbox, "crm", token) as crm:
            reply = crm.get("/accounts")
            assert reply.status_code == 401
            assert reply.headers["www-authenticate"] == "Bearer" and "bearer token" in reply.json()["detail"]
            assert crm.post("/_reset").status_code == 401  # the switches need the token too
    with client(sandbox, "crm") as crm:
        assert crm.get("/accounts").status_code == 200


def test_pages_follow_the_next_link_and_the_link_header_to_every_account_once(sandbox):
    seen, pages = [], 0
    with client(sandbox, "crm") as crm:
        url = "/accounts?per_page=30"
        while url:
            reply = crm.get(url)
            body = reply.json()
            pages += 1
            assert body["total"] == ACCOUNTS and len(body["data"]) <= 30
            seen += [a["id"] for a in body["data"]]
            link = reply.links.get("next", {}).get("url")
            assert link == body["next"]
            url = body["next"]
        assert pages == 7 and sorted(seen) == seen == list(range(1, ACCOUNTS + 1))
        assert crm.get("/accounts", params={"page": 8, "per_page": 30}).json()["data"] == []
        assert crm.get("/accounts", params={"per_page": 501}).status_code == 400
        assert "unknown filter 'colour'" in crm.get("/accounts", params={"colour": "red"}).json()["detail"]


def test_updated_since_filters_inclusively_and_sorts_by_the_change_time(sandbox):
    latest = rows(sandbox, "crm", "SELECT updated_at FROM accounts ORDER BY updated_at DESC LIMIT 5")
    since = latest[-1]["updated_at"]
    with client(sandbox, "crm") as crm:
        body = crm.get("/accounts", params={"updated_since": since}).json()
    stamps = [a["updated_at"] for a in body["data"]]
    assert len(stamps) >= 5 and stamps == sorted(stamps) and min(stamps) == since


def test_records_are_created_updated_and_read_back_with_their_children(sandbox):
    with client(sandbox, "erp") as erp:
        created = erp.post("/customers", json={"name": "Zephyr Works", "crm_id": 90001, "state": "Texas"})
        assert created.status_code == 201
        number = created.json()["customer_number"]
        assert created.headers["location"].endswith(f"/customers/{number}")
        assert erp.get("/customers", params={"crm_id": 90001}).json()["data"][0]["customer_number"] == number
        changed = erp.patch(f"/customers/{number}", json={"city": "Austin"}).json()
        assert changed["city"] == "Austin" and changed["name"] == "Zephyr Works"
        assert changed["updated_at"] > created.json()["updated_at"]  # the system stamps its changes
        assert erp.put("/products/9999", json={"sku": "SKU-NEW", "name": "New", "unit_price": 5}).status_code == 201
        assert erp.put("/products/9999", json={"unit_price": 6}).status_code == 200
        order = erp.post(
            "/sales_orders",
            json={
                "customer_number": number,
                "lines": [{"line_no": 1, "sku": "SKU-NEW", "quantity": 2, "unit_price": 6, "line_total": 12}],
            },
        ).json()
        stored = erp.get(f"/sales_orders/{order['order_number']}").json()
        assert [line["sku"] for line in stored["lines"]] == ["SKU-NEW"]
        # Refusals say why, in the body.
        assert erp.post("/customers", json={"name": "Twin", "crm_id": 90001}).status_code == 409
        unknown = erp.post(
            "/sales_orders",
            json={
                "customer_number": number,
                "lines": [{"line_no": 1, "sku": "SKU-GONE", "quantity": 1, "unit_price": 1, "line_total": 1}],
            },
        )
        assert unknown.status_code == 422 and unknown.json()["detail"] == "line 1: unknown product sku 'SKU-GONE'"
        assert "unknown field 'colour'" in erp.post("/customers", json={"name": "X", "colour": 1}).json()["detail"]
        assert erp.patch("/customers/1", json={"city": "Nowhere"}).status_code == 404
        assert "read-only" in erp.patch(f"/customers/{number}", json={"updated_at": "2030-01-01"}).json()["detail"]


def test_reset_restores_the_seeded_data(sandbox):
    before = rows(sandbox, "erp", "SELECT COUNT(*) AS n FROM customers")[0]["n"]
    with client(sandbox, "erp") as erp:
        erp.post("/customers", json={"name": "Temporary"})
        execute(sandbox, "erp", "DELETE FROM payments")
        assert erp.post("/_reset").json() == {"status": "reset", "system": "erp"}
    assert rows(sandbox, "erp", "SELECT COUNT(*) AS n FROM customers")[0]["n"] == before
    assert rows(sandbox, "erp", "SELECT COUNT(*) AS n FROM payments")[0]["n"] > 0


def test_faults_follow_their_seed_and_answer_500_429_or_hang_up_mid_response(sandbox):
    def pattern() -> list[str]:
        outcomes = []
        for _ in range(40):
            try:
                outcomes.append(str(crm.get("/accounts/1").status_code))
            except httpx.RemoteProtocolError:
                outcomes.append("dropped")
        return outcomes

    with client(sandbox, "crm") as crm:
        settings = {"error_rate": 0.2, "rate_limit_rate": 0.1, "drop_rate": 0.1, "retry_after": 3, "seed": 7}
        assert crm.post("/_faults", json=settings).status_code == 200
        first = pattern()
        crm.post("/_faults", json=settings)
        assert pattern() == first  # the same seed, the same faults, call for call
        assert {"200", "500", "429", "dropped"} <= set(first)
        counts = crm.get("/_faults").json()["counts"]
        assert counts["calls"] == 40 and counts["errors"] == first.count("500")
        crm.post("/_faults", json={"rate_limit_rate": 1, "retry_after": 3})
        limited = crm.get("/accounts/1")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
        crm.post("/_faults", json={"latency_ms": 150})
        started = time.monotonic()
        assert crm.get("/accounts/1").status_code == 200 and time.monotonic() - started >= 0.15
        crm.post("/_faults", json={"down_after": 2})
        assert [crm.get("/accounts/1").status_code for _ in range(4)] == [200, 200, 500, 500]
        assert crm.post("/_faults", json={"error_rate": 2}).status_code == 422


def test_a_write_whose_answer_is_dropped_is_applied_all_the_same(sandbox):
    with client(sandbox, "erp") as erp:
        erp.post("/_faults", json={"drop_rate": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            erp.post("/customers", json={"name": "Half Heard", "crm_id": 90002})
        erp.post("/_faults", json={})
        assert erp.get("/customers", params={"crm_id": 90002}).json()["total"] == 1
