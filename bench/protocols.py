"""Writes through a protocol: 2,000 new parties into a real Tryton over JSON-RPC, as a user runs each side.

Flowbridge: `flowbridge run` of a flow reading a JSON Lines file and writing with write.jsonrpc
(each party looked for by its code, the new ones of a batch of 500 in one create call, each
party's outcome and link kept in the store). Baseline, in the same run: a hand-written script,
started the same way (`python script.py`), making the same calls with one httpx client — the
login, a search_read per party by its code, one create per 500 — and keeping nothing. Both sides
write fresh parties into the same Tryton, in turns, best of --tries; the ratio is Flowbridge's
parties/s over the script's.

    python bench/protocols.py [--records 2000] [--tries 3] [--url http://127.0.0.1:8000/db/]

Without --url it starts a Tryton of its own, as the tests do (tests/real/tryton.py: PostgreSQL on
127.0.0.1, about two minutes). The OData half of the issue's benchmark (orders into SAP CAP) is
not here yet.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--url", help="a running Tryton database's address (user admin, password admin)")
    args = parser.parse_args()
    tag = str(int(time.time()))  # fresh codes on a Tryton that holds earlier runs' parties
    with a_tryton(args.url) as url, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{work / 'store.db'}"}
        env.pop("FLOWBRIDGE_SECRET_KEY", None)
        store = Store(env["FLOWBRIDGE_DB_URL"])
        set_connection(store, "tryton", "sandbox", "jsonrpc", {"url": url, "username": "admin", "password": "admin"})
        set_connection(store, "files", "sandbox", "file", {"path": str(work / "files")})
        save_flow(store, FLOW, author="bench")
        store.close()
        (work / "files").mkdir()
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
