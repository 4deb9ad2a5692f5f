"""Webhook burst: 200 calls (3 records each) at once against POST /hooks/{flow_id}.

Flowbridge's side: the real API router on uvicorn, a webhook flow (map -> write.sql into SQLite)
switched on; each call is authenticated, stored as a queued run and answered 202, then the flow's
queue runs it. Baseline, measured in the same run: a hand-written FastAPI endpoint on the same
server that checks the token and inserts the records into SQLite itself, answering 200 when done.
Prints calls/s until every call was answered and until every record was written, both ratios,
and whether 200 calls fit in 10 s (the issue's bar).

    python bench/webhook_burst.py [--calls 200] [--workers 8]
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.api.server import install_routes  # noqa: E402
from app.composition import Flowbridge, Settings  # noqa: E402
from app.services import switches  # noqa: E402
from app.services.access import admin  # noqa: E402
from app.services.webhooks import secret_for  # noqa: E402
from app.store.database import Store  # noqa: E402
from tests.ops.helpers import count, flow, store_flow, target  # noqa: E402

RECORDS_PER_CALL = 3


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def burst(url: str, token: str, calls: int, workers: int) -> float:
    """Seconds until every call was answered with 2xx."""
    client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=workers))  # kept-alive connections

    def call(n: int) -> int:
        body = [{"id": n * 10 + k, "name": f"r{n}-{k}"} for k in range(RECORDS_PER_CALL)]
        return client.post(url, json=body, headers={"X-Flowbridge-Token": token}).status_code

    started = time.perf_counter()
    with client, ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(call, range(calls)))
    seconds = time.perf_counter() - started
    if any(code >= 300 for code in codes):
        raise SystemExit(f"refused calls: {sorted(set(codes))}")
    return seconds


def until(condition: Callable[[], bool], started: float) -> float:
    while not condition():
        time.sleep(0.01)
    return time.perf_counter() - started


def flowbridge_side(folder: Path, calls: int, workers: int) -> tuple[float, float]:
    store = Store(f"sqlite:///{folder / 'store.db'}")
    path = target(store, folder)
    flow_id = store_flow(store, flow("burst", {"type": "trigger.webhook", "config": {"auth": "token"}}))
    switches.switch(store, flow_id, True, who=admin("bench"))
    app = FastAPI()
    root = Flowbridge(Settings(), store=store)
    install_routes(app, root)
    with serving(app) as base:
        started = time.perf_counter()
        answered = burst(f"{base}/hooks/{flow_id}", secret_for(store, flow_id), calls, workers)
        written = until(lambda: count(path) == calls * RECORDS_PER_CALL, started)
        root.queues.drain()
    store.close()
    return answered, written


def baseline_side(folder: Path, calls: int, workers: int) -> tuple[float, float]:
    path = folder / "baseline.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    lock = threading.Lock()
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request, x_flowbridge_token: str = Header("")) -> dict:
        if x_flowbridge_token != "secret":
            raise HTTPException(401)
        records = await request.json()
        with lock, sqlite3.connect(path, timeout=30) as db:
            db.executemany("INSERT OR REPLACE INTO items (id, name) VALUES (:id, :name)", records)
        return {"ok": True}

    with serving(app) as base:
        started = time.perf_counter()
        answered = burst(f"{base}/hook", "secret", calls, workers)
        written = until(lambda: count(path) == calls * RECORDS_PER_CALL, started)
    return answered, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fb-webhooks-") as folder:
        base_answered, base_written = baseline_side(Path(folder), args.calls, args.workers)
        fb_answered, fb_written = flowbridge_side(Path(folder), args.calls, args.workers)
    n = args.calls
    print(f"{n} calls x {RECORDS_PER_CALL} records, {args.workers} clients at once")
    print(
        f"  baseline (hand-written endpoint writing SQLite): all answered {base_answered:.2f} s "
        f"({n / base_answered:,.0f} calls/s), all written {base_written:.2f} s"
    )
    print(
        f"  flowbridge (/hooks: stored, 202, run per call):  all answered {fb_answered:.2f} s "
        f"({n / fb_answered:,.0f} calls/s), all written {fb_written:.2f} s"
    )
    print(
        f"  ratio answered {base_answered / fb_answered:.2f}, written {base_written / fb_written:.2f} "
        "(flowbridge speed / baseline speed)"
    )
    print(
        f"  {n} calls within 10 s: {'yes' if fb_written <= 10 else 'NO'} ({fb_written:.2f} s until every record was written)"
    )


if __name__ == "__main__":
    main()
