"""Orders with their items written to a real OData ERP (SAP CAP) survive any stop: rounds of about
500 won deals (6, or FLOWBRIDGE_CRASH_ROUNDS; each session draws new moments from a new seed), each
cut off at a random moment — the run killed with SIGKILL, or the ERP's server killed and started
again — and finished by a normal run. Every round ends with each order once with all its items
(none missing, none twice), the links equal to what the ERP holds, and the orders counted as
inserted exactly once across the two runs. CAP honours no idempotency key: it is the durable
outcome and the look-up by $filter that keep a lost answer from making an order twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.sandbox.crm_data import create_crm_database
from app.services.flows import import_flow_file
from app.store import runs, sync
from app.store.connections import set_connection
from app.store.database import Store
from app.store.models import WriteOutcome
from tests.ops.helpers import wait_for
from tests.real.cap import CapServer

FLOW = Path(__file__).resolve().parents[2] / "flows" / "crm_won_deals_to_odata_orders.json"
FLOW_ID = "crm_won_deals_to_odata_orders"
ROUNDS = int(os.environ.get("FLOWBRIDGE_CRASH_ROUNDS", "6"))
MODES = ("kill the run", "stop the ERP")

pytestmark = pytest.mark.slow


def held(cap: CapServer) -> dict[str, int]:
    """Deal id -> items, as the ERP holds them; a deal twice is a failure."""
    with sqlite3.connect(cap.database, timeout=30) as db:
        twice = db.execute(
            "SELECT crmDealId, COUNT(*) FROM erp_SalesOrders GROUP BY crmDealId HAVING COUNT(*) > 1"
        ).fetchall()
        assert twice == [], f"orders made twice: {twice[:10]}"
        return dict(
            db.execute(
                "SELECT o.crmDealId, (SELECT COUNT(*) FROM erp_SalesOrderItems i "
                "WHERE i.order_ID = o.ID) FROM erp_SalesOrders o"
            ).fetchall()
        )


def test_odata_orders_with_items_lose_and_duplicate_nothing_whatever_stops_them(cap, tmp_path):
    seed = int(os.environ.get("FLOWBRIDGE_CRASH_SEED", str(random.SystemRandom().randrange(10**6))))
    rng = random.Random(seed)
    print(f"seed {seed} (FLOWBRIDGE_CRASH_SEED={seed} replays these rounds)")
    erp = CapServer(tmp_path / "cap")  # its own ERP: the rounds empty it again and again
    erp.start()
    crm = tmp_path / "crm.db"
    create_crm_database(crm, accounts=3400)
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    store = Store(env["FLOWBRIDGE_DB_URL"])
    set_connection(store, "crm", "sandbox", "sql", {"url": f"sqlite:///{crm}"})
    set_connection(
        store, "erp_odata", "sandbox", "odata", {"base_url": erp.url, "retry_wait": 0.01, "retry_attempts": 3}
    )
    import_flow_file(store, FLOW)

    def run() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "run", FLOW_ID, "--full", "--json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finished(process: subprocess.Popen) -> dict[str, Any]:
        out, err = process.communicate(timeout=900)
        assert "Traceback" not in out + err, err[-3000:]
        return json.loads(out) if out.strip().startswith("{") else {"status": "killed"}

    def start_over() -> None:
        with sqlite3.connect(erp.database, timeout=30) as db:
            db.execute("DELETE FROM erp_SalesOrderItems")
            db.execute("DELETE FROM erp_SalesOrders")
        with store.session() as session:
            for row in session.query(WriteOutcome).filter(WriteOutcome.flow_id == FLOW_ID):
                session.delete(row)
            session.commit()
        for entity in ("order", "order_line"):
            sync.forget_links(
                store,
                "sandbox",
                entity,
                "crm",
                list(sync.all_links(store, "sandbox", entity, "crm", "erp_odata")),
                "erp_odata",
            )

    try:
        reference = finished(run())
        expected = held(erp)
        assert reference["status"] == "succeeded" and reference["totals"]["inserted"] == len(expected) > 400
        rows = []
        for number in range(1, ROUNDS + 1):
            start_over()
            before = {r.id for r in runs.list_runs(store, flow_id=FLOW_ID)}
            mode, cut_at = rng.choice(MODES), rng.randint(1, len(expected) - 1)
            interrupted = run()
            wait_for(
                lambda interrupted=interrupted, cut_at=cut_at: (
                    interrupted.poll() is not None or len(held(erp)) >= cut_at
                ),
                timeout=600,
                step=0.01,
                what="the run to be under way",
            )
            if mode == "kill the run":
                os.kill(interrupted.pid, signal.SIGKILL)
            else:
                erp.stop()
                time.sleep(rng.uniform(0, 0.5))
            finished(interrupted)
            if mode == "stop the ERP":
                erp.start()
            second = finished(run())
            assert second["status"] == "succeeded", second.get("error")
            now = held(erp)
            assert now == expected  # every order once, with all its items
            links = sync.all_links(store, "sandbox", "order", "crm", "erp_odata")
            with sqlite3.connect(erp.database) as db:
                assert links == dict(db.execute("SELECT crmDealId, ID FROM erp_SalesOrders").fetchall())
                assert sync.all_links(store, "sandbox", "order_line", "crm", "erp_odata") == dict(
                    db.execute("SELECT crmLineId, ID FROM erp_SalesOrderItems").fetchall()
                )
            cut, recovered = sorted(
                (r for r in runs.list_runs(store, flow_id=FLOW_ID) if r.id not in before), key=lambda r: r.started_at
            )
            first_count = (cut.totals or {}).get("inserted", 0)
            second_count = (recovered.totals or {}).get("inserted", 0)
            assert first_count + second_count == len(expected), (mode, cut.status, cut.totals, recovered.totals)
            rows.append((number, mode, cut_at, cut.status, first_count, second_count))
        print(f"{len(expected)} orders; per round: mode, cut after, first run, inserted by it, inserted by the next")
        for number, mode, cut_at, status, first_count, second_count in rows:
            print(
                f"  round {number:>2}: {mode:<14} at {cut_at:>3}  {status:<11} {first_count:>3} + {second_count:>3}"
                f" = {first_count + second_count}; missing 0, twice 0"
            )
    finally:
        erp.stop()
        store.close()
