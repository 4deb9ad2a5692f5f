"""Runs on a pool of workers: 200 small runs (a webhook's size: 5 records mapped and written) of 8
flows, on a PostgreSQL store, by 1, 2 and 4 `flowbridge worker` processes; and the same 200 runs one
after another in one process, as `flowbridge serve` runs them without workers.

Each pool is started and alive before the clock starts; the clock runs from the first run accepted
(stored and queued in one transaction, as a server does) to the last one ended. Printed: runs/s for
each, the speed-up from 1 to 2 and 4 workers, and what the queue adds to a run (1 worker against
the same runs in one process, one at a time).

    python bench/workers.py [--runs 200] [--flows 8] [--workers 1,2,4] [--admin-url postgresql://postgres@127.0.0.1/postgres]

On several machines: start `FLOWBRIDGE_DB_URL=postgresql://HOST/DB FLOWBRIDGE_SECRET_KEY=… flowbridge
worker --concurrency 2` on each, and a server with FLOWBRIDGE_RUN_QUEUE=workers; this script's pool
is the same command, on this machine.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

os.environ.setdefault("FLOWBRIDGE_SECRET_KEY", Fernet.generate_key().decode())  # shared with the workers

from app.services import operations  # noqa: E402
from app.services.access import admin  # noqa: E402
from app.services.worker_queue import WorkerQueue  # noqa: E402
from app.store.connections import set_connection  # noqa: E402
from app.store.database import Store  # noqa: E402
from app.store.flows import save_flow  # noqa: E402
from app.store.models import Run, Worker  # noqa: E402

RECORDS = 5


def flow(flow_id: str) -> dict:
    return {
        "schema_version": 1,
        "id": flow_id,
        "name": flow_id,
        "nodes": [
            {"id": "start", "type": "trigger.webhook", "config": {"auth": "token"}},
            {
                "id": "shape",
                "type": "map",
                "config": {"fields": {"id": "{{ record.id }}", "name": "{{ record.name | trim | title }}"}},
            },
            {
                "id": "write",
                "type": "write.sql",
                "config": {"connection": f"dst_{flow_id}", "table": "items", "key": "id"},
            },
        ],
        "edges": [{"from": "start", "to": "shape"}, {"from": "shape", "to": "write"}],
    }


def fresh_store(admin_url: str, folder: Path, flows: int) -> tuple[Store, str, Callable[[], None], list[str]]:
    name = f"fb_bench_{secrets.token_hex(4)}"
    server = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    ids = []
    for n in range(flows):
        flow_id = f"bench_hook_{n}"
        target = folder / f"{name}_{n}.db"
        with sqlite3.connect(target) as db:
            db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        set_connection(store, f"dst_{flow_id}", "production", "sql", {"url": f"sqlite:///{target}"})
        save_flow(store, flow(flow_id), author="bench")
        ids.append(flow_id)

    def drop() -> None:
        store.close()
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.dispose()

    return store, url, drop, ids


def payload(n: int) -> list[dict]:
    return [{"id": n * RECORDS + i, "name": f"  customer {n}.{i} "} for i in range(RECORDS)]


def ended(store: Store) -> int:
    with store.session() as session:
        return session.exec(
            sa.select(sa.func.count()).select_from(Run).where(Run.status.in_(["succeeded", "failed", "partial"]))
        ).one()[0]


def pool(admin_url: str, folder: Path, workers: int, runs: int, flows: int) -> float:
    """runs/s of `runs` accepted runs on `workers` worker processes."""
    store, url, drop, ids = fresh_store(admin_url, folder, flows)
    env = {**os.environ, "FLOWBRIDGE_DB_URL": url}
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--concurrency", "1"],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        queue = WorkerQueue(store)
        until(lambda: _alive(store) == workers, 60, "the workers to start")
        time.sleep(1)  # each has its first look at the queue behind it
        began = time.perf_counter()
        for n in range(runs):
            operations.queue_flow_run(
                store, ids[n % flows], payload(n), queues=queue, env="production", who=admin("bench")
            )
        until(lambda: ended(store) == runs, 600, "the runs to end")
        took = time.perf_counter() - began
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)
        drop()
    return runs / took


def in_process(admin_url: str, folder: Path, runs: int, flows: int) -> float:
    """runs/s of the same runs one after another in this process, as a server without workers."""
    store, _, drop, ids = fresh_store(admin_url, folder, flows)
    try:
        began = time.perf_counter()
        for n in range(runs):
            operations.start_stored_flow(
                store, ids[n % flows], trigger="webhook", payload=payload(n), who=admin("bench"), wait=True
            )
        took = time.perf_counter() - began
        assert ended(store) == runs
    finally:
        drop()
    return runs / took


def _alive(store: Store) -> int:
    with store.session() as session:
        return session.exec(sa.select(sa.func.count()).select_from(Worker).where(Worker.stopped_at == None)).one()[0]  # noqa: E711


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench/workers.py: waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--flows", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1/postgres")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="fb-bench-workers-") as tmp:
        folder = Path(tmp)
        alone = in_process(args.admin_url, folder, args.runs, args.flows)
        print(f"in one process, one run after another: {alone:6.1f} runs/s ({1000 / alone:.1f} ms a run)")
        rates = {}
        for n in counts:
            rates[n] = pool(args.admin_url, folder, n, args.runs, args.flows)
            print(f"{n} worker{'s' if n > 1 else ' '}:                             {rates[n]:6.1f} runs/s")
    if 1 in rates:
        for n in counts:
            if n > 1:
                print(f"1 -> {n} workers: {rates[n] / rates[1]:.2f}x" + ("  (target >= 1.6x)" if n == 2 else ""))
        print(f"the queue adds {1000 / rates[1] - 1000 / alone:+.1f} ms a run (1 worker against one process)")


if __name__ == "__main__":
    main()
