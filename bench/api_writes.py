"""Writes through an API: 2,000 new customers into the sandbox ERP API, as a user runs each side.

Flowbridge: `flowbridge run` of a flow reading a JSON Lines file and writing each record with
write.http (find by crm_id, then POST; each record's outcome and link kept in the store as the API
accepts it, an Idempotency-Key on every create). Baseline, in the same run: a hand-written script,
started the same way (`python script.py`), making the same calls with one httpx client — GET the
list by crm_id, then POST with an Idempotency-Key — and keeping nothing. Both sides write fresh
records into the same ERP process, in turns, best of five (the machine shares its cores: each side's best try is its least disturbed); the ratio is Flowbridge's records/s
over the script's.

    python bench/api_writes.py [--records 2000] [--tries 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sandbox.http_serve import start_sandboxes  # noqa: E402
from app.store.connections import set_connection  # noqa: E402
from app.store.database import Store  # noqa: E402
from app.store.flows import save_flow  # noqa: E402
from bench.turns import flowbridge_run, report, script_run  # noqa: E402

TOKEN = "bench-token"
FLOW = {
    "schema_version": 1,
    "id": "bench_api_writes",
    "name": "Bench: customers into the ERP API",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "read", "type": "read.file", "config": {"connection": "files", "path": "customers.jsonl"}},
        {
            "id": "write",
            "type": "write.http",
            "config": {
                "connection": "erp_api",
                "method": "POST",
                "path": "/customers",
                "key": "crm_id",
                "find": {"path": "/customers", "params": {"crm_id": "{crm_id}"}},
                "update": {"method": "PATCH", "path": "/customers/{customer_number}"},
                "id_field": "customer_number",
                "link": {"entity": "bench_customer", "source": "crm", "source_id": "crm_id"},
                "idempotency_header": "Idempotency-Key",
            },
        },
    ],
    "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "write"}],
}

BASELINE = """
import json, sys, uuid, httpx
base, token, path = sys.argv[1:4]
with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
    for line in open(path):
        record = json.loads(line)
        found = client.get("/customers", params={"crm_id": record["crm_id"]}).json()["data"]
        if not found:
            client.post("/customers", json=record, headers={"Idempotency-Key": uuid.uuid4().hex}).raise_for_status()
"""


def customers(first: int, n: int) -> str:
    return "".join(
        json.dumps(
            {
                "crm_id": first + i,
                "name": f"Bench Customer {first + i}",
                "email": f"c{first + i}@bench.example",
                "state": "Texas",
                "is_active": 1,
            }
        )
        + "\n"
        for i in range(n)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--tries", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        sandbox = start_sandboxes(work / "sandbox", token=TOKEN, accounts=50)
        env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{work / 'store.db'}"}
        env.pop("FLOWBRIDGE_SECRET_KEY", None)
        store = Store(env["FLOWBRIDGE_DB_URL"])
        set_connection(store, "erp_api", "sandbox", "http", {"base_url": sandbox.url("erp"), "token": TOKEN})
        set_connection(store, "files", "sandbox", "file", {"path": str(work / "files")})
        save_flow(store, FLOW, author="bench")
        store.close()
        (work / "files").mkdir()
        (work / "baseline.py").write_text(BASELINE)
        ours, theirs, first = [], [], 10_000_000
        try:
            for _ in range(args.tries):
                (work / "files" / "customers.jsonl").write_text(customers(first, args.records))
                ours.append(flowbridge_run(work, env, FLOW["id"], args.records))
                first += args.records
                (work / "theirs.jsonl").write_text(customers(first, args.records))
                theirs.append(
                    script_run(str(work / "baseline.py"), sandbox.url("erp"), TOKEN, str(work / "theirs.jsonl"))
                )
                first += args.records
        finally:
            sandbox.stop()
    report("new customers", args.records, args.tries, ours, theirs, "records")


if __name__ == "__main__":
    main()
