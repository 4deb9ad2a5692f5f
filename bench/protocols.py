"""Writes through a protocol, as a user runs each side: 2,000 new parties into a real Tryton over
JSON-RPC, and 2,000 new sales orders with their items into a real SAP CAP service over OData v4.

Flowbridge: `flowbridge run` of a flow reading a JSON Lines file and writing with write.jsonrpc
(each party looked for by its code, the new ones of a batch of 500 in one create call) or with
write.odata (the orders of a batch looked for by their deal ids with a typed $filter and $expand
of their items, 40 a call, then created with them by deep inserts sent together in $batch calls); each record's outcome and link kept in the store.
Baseline, in the same run: a hand-written script, started the same way (`python script.py`),
making the same calls with one httpx client and keeping nothing. Both sides write fresh records
into the same system, in turns, best of --tries; the ratio is Flowbridge's records/s over the
script's.

    python bench/protocols.py [--system tryton|cap|both] [--records 2000] [--tries 3]
                              [--url http://127.0.0.1:8000/db/] [--cap-url http://127.0.0.1:4004/odata/v4/erp]

Without --url it starts a Tryton of its own, as the tests do (tests/real/tryton.py: PostgreSQL on
127.0.0.1, about two minutes); without --cap-url a CAP service (tests/real/cap.py: Node.js and
npm). The orders go 100 deep inserts per $batch call, after finding a batch's 500 in calls of 40
keys; each order still answered, and its outcome kept, on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.store.connections import set_connection  # noqa: E402
from app.store.database import Store  # noqa: E402
from app.store.flows import save_flow  # noqa: E402
from bench.turns import flowbridge_run, report, script_run  # noqa: E402
from tests.real.cap import sales_orders_write  # noqa: E402

BATCH = 500
FLOW = {
    "schema_version": 1,
    "id": "bench_jsonrpc_parties",
    "name": "Bench: parties into Tryton over JSON-RPC",
    "settings": {"batch_size": BATCH},
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "read", "type": "read.file", "config": {"connection": "files", "path": "parties.jsonl"}},
        {
            "id": "write",
            "type": "write.jsonrpc",
            "config": {
                "connection": "tryton",
                "model": "party.party",
                "key": "code",
                "find": {"domain": "[('code', '=', record.code)]"},
                "fields": ["name"],
                "link": {"entity": "bench_party", "source": "crm", "source_id": "crm_id"},
            },
        },
    ],
    "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "write"}],
}

BASELINE = """
import base64, json, sys, httpx
url, path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
with httpx.Client(base_url=url, timeout=30) as client:
    def call(method, params, headers=None):
        answer = client.post("rpc/", json={"id": 1, "method": method, "params": params}, headers=headers).json()
        if "error" in answer:
            raise SystemExit(f"{method}: {answer['error']}")
        return answer["result"]
    user_id, session = call("common.db.login", ["admin", {"password": "admin"}, "en"])[:2]
    auth = {"Authorization": "Session " + base64.b64encode(f"admin:{user_id}:{session}".encode()).decode()}
    rows = [json.loads(line) for line in open(path)]
    for start in range(0, len(rows), batch):
        new = []
        for row in rows[start:start + batch]:
            found = call("model.party.party.search_read", [[["code", "=", row["code"]]], 0, 2, [["id", "ASC"]],
                         ["id", "code", "name"], {}], auth)
            if not found:
                new.append({"code": row["code"], "name": row["name"]})
        if new:
            call("model.party.party.create", [new, {}], auth)
"""


WRITES_PER_BATCH_CALL = 100
ORDERS_FLOW = {
    "schema_version": 1,
    "id": "bench_odata_orders",
    "name": "Bench: orders into SAP CAP over OData",
    "settings": {"batch_size": BATCH},
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "read", "type": "read.file", "config": {"connection": "files", "path": "orders.jsonl"}},
        {
            "id": "write",
            "type": "write.odata",
            "config": sales_orders_write(
                WRITES_PER_BATCH_CALL, link={"entity": "bench_order", "source": "crm", "source_id": "crmDealId"}
            ),
        },
    ],
    "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "write"}],
}

ORDERS_BASELINE = """
import json, sys, urllib.parse, httpx
url, path, batch, finds, writes = sys.argv[1], sys.argv[2], int(sys.argv[3]), 40, int(sys.argv[4])
rows = [json.loads(line) for line in open(path)]
with httpx.Client(base_url=url, timeout=60) as client:
    for start in range(0, len(rows), batch):
        part, held = rows[start:start + batch], set()
        for first in range(0, len(part), finds):
            keys = [r["crmDealId"].replace("'", "''") for r in part[first:first + finds]]
            condition = " or ".join(f"(crmDealId eq '{k}')" for k in keys)
            query = urllib.parse.urlencode({"$filter": condition, "$expand": "items"}, quote_via=urllib.parse.quote)
            found = client.get(f"/SalesOrders?{query}")  # spaces as %20: OData refuses a form's '+'
            found.raise_for_status()
            held |= {o["crmDealId"] for o in found.json()["value"]}
        new = [r for r in part if r["crmDealId"] not in held]
        for first in range(0, len(new), writes):
            requests = [
                {"id": str(n), "method": "POST", "url": "SalesOrders", "headers": {"content-type": "application/json"},
                 "body": order}
                for n, order in enumerate(new[first:first + writes])
            ]
            answer = client.post("/$batch", json={"requests": requests})
            answer.raise_for_status()
            assert all(r["status"] == 201 for r in answer.json()["responses"])
"""


def orders(first: int, n: int, tag: str) -> str:
    return "".join(
        json.dumps(
            {
                "crmDealId": f"B{tag[-6:]}-{first + i}",
                "customerCrmId": str(first + i),
                "orderDate": "2026-11-30",
                "currency": "EUR",
                "netTotal": 300,
                "items": [
                    {"crmLineId": f"{first + i}-{line}", "sku": f"SKU-{line}", "quantity": line, "unitPrice": 50}
                    for line in (1, 2, 3)
                ],
            }
        )
        + "\n"
        for i in range(n)
    )


def parties(first: int, n: int, tag: str) -> str:
    return "".join(
        json.dumps({"crm_id": first + i, "code": f"B-{tag}-{first + i}", "name": f"Bench Party {first + i}"}) + "\n"
        for i in range(n)
    )


@contextmanager
def a_tryton(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.conftest import POSTGRES_ADMIN_URL
    from tests.real.tryton import running_tryton

    with tempfile.TemporaryDirectory() as folder, running_tryton(Path(folder), POSTGRES_ADMIN_URL) as tryton:
        yield tryton.database_url


@contextmanager
def a_cap(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.real.cap import CapServer

    with tempfile.TemporaryDirectory() as folder:
        server = CapServer(Path(folder))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=("tryton", "cap", "both"), default="both")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--url", help="a running Tryton database's address (user admin, password admin)")
    parser.add_argument("--cap-url", help="a running CAP service root serving tests/real/cap_erp")
    args = parser.parse_args()
    tag = str(int(time.time()))  # fresh keys in a system that holds earlier runs' records
    if args.system in ("tryton", "both"):
        tryton_half(args, tag)
    if args.system in ("cap", "both"):
        cap_half(args, tag)


def a_store(work: Path) -> tuple[dict[str, str], Store]:
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{work / 'store.db'}"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    store = Store(env["FLOWBRIDGE_DB_URL"])
    set_connection(store, "files", "sandbox", "file", {"path": str(work / "files")})
    (work / "files").mkdir()
    return env, store


def cap_half(args: argparse.Namespace, tag: str) -> None:
    with a_cap(args.cap_url) as url, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env, store = a_store(work)
        set_connection(store, "erp", "sandbox", "odata", {"base_url": url})
        save_flow(store, ORDERS_FLOW, author="bench")
        store.close()
        (work / "baseline.py").write_text(ORDERS_BASELINE)
        ours, theirs, first = [], [], 1
        for _ in range(args.tries):
            (work / "files" / "orders.jsonl").write_text(orders(first, args.records, tag))
            ours.append(flowbridge_run(work, env, ORDERS_FLOW["id"], args.records))
            first += args.records
            (work / "theirs.jsonl").write_text(orders(first, args.records, tag))
            baseline = (
                str(work / "baseline.py"),
                url,
                str(work / "theirs.jsonl"),
                str(BATCH),
                str(WRITES_PER_BATCH_CALL),
            )
            theirs.append(script_run(*baseline))
            first += args.records
    report(
        f"new orders of 3 items, {WRITES_PER_BATCH_CALL} deep inserts per $batch",
        args.records,
        args.tries,
        ours,
        theirs,
        "orders",
    )


def tryton_half(args: argparse.Namespace, tag: str) -> None:
    with a_tryton(args.url) as url, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env, store = a_store(work)
        set_connection(store, "tryton", "sandbox", "jsonrpc", {"url": url, "username": "admin", "password": "admin"})
        save_flow(store, FLOW, author="bench")
        store.close()
        (work / "baseline.py").write_text(BASELINE)
        ours, theirs, first = [], [], 1
        for _ in range(args.tries):
            (work / "files" / "parties.jsonl").write_text(parties(first, args.records, tag))
            ours.append(flowbridge_run(work, env, FLOW["id"], args.records))
            first += args.records
            (work / "theirs.jsonl").write_text(parties(first, args.records, tag))
            theirs.append(script_run(str(work / "baseline.py"), url, str(work / "theirs.jsonl"), str(BATCH)))
            first += args.records
    report(f"new parties, batches of {BATCH}", args.records, args.tries, ours, theirs, "parties")


if __name__ == "__main__":
    main()
