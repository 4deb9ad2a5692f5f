"""Writes through an API survive any stop: won deals become ERP sales orders through write.http, and
each round is cut off at a random moment — the run killed with SIGKILL, the ERP's process killed and
started again, or the connections cut after the ERP applied a call — then a normal run finishes the
job. Every round must end with each order once (none missing, none twice), the store's links equal
to the orders the ERP holds, and the orders counted as inserted exactly once across the two runs."""

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

import httpx
import pytest

from app.services.flows import import_flow_file
from app.store import sync
from app.store.connections import set_connection
from app.store.database import Store
from app.store.models import WriteOutcome
from tests.ops.helpers import wait_for
from tests.ops.test_webhooks_and_api import free_port

FLOWS = Path(__file__).resolve().parents[2] / "flows"
ORDERS = "crm_won_deals_to_erp_orders_http"
ACCOUNTS = 3400  # about 500 won deals that become orders
ROUNDS = int(os.environ.get("FLOWBRIDGE_CRASH_ROUNDS", "6"))
TOKEN = "crash-token"
MODES = ("kill the run", "stop the ERP", "cut the connections")


class SandboxProcess:
    """`flowbridge sandbox serve` in a process of its own, on fixed ports: it can be killed and
    started again on the same data."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.ports = {"crm": free_port(), "erp": free_port()}
        self.process: subprocess.Popen | None = None

    def url(self, system: str) -> str:
        return f"http://127.0.0.1:{self.ports[system]}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "sandbox",
                "serve",
                "--dir",
                str(self.folder),
                "--accounts",
                str(ACCOUNTS),
                "--crm-port",
                str(self.ports["crm"]),
                "--erp-port",
                str(self.ports["erp"]),
                "--token",
                TOKEN,
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: all(self._up(s) for s in self.ports), timeout=120, step=0.1, what="the sandbox APIs")

    def _up(self, system: str) -> bool:
        try:
            return httpx.get(f"{self.url(system)}/_health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def faults(self, settings: dict[str, Any]) -> None:
        httpx.post(
            f"{self.url('erp')}/_faults", json=settings, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ).raise_for_status()

    def erp(self, query: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.folder / "erp_api.db", timeout=30) as db:
            return db.execute(query, params).fetchall()

    def erp_write(self, statement: str) -> None:
        with sqlite3.connect(self.folder / "erp_api.db", timeout=30) as db:
            db.execute(statement)


def orders(sandbox: SandboxProcess) -> dict[int, tuple[str, int]]:
    """The ERP's orders made from CRM deals: deal id -> (order number, lines); a deal twice is a failure."""
    twice = sandbox.erp(
        "SELECT crm_opportunity_id, COUNT(*) FROM sales_orders WHERE crm_opportunity_id IS NOT NULL "
        "GROUP BY crm_opportunity_id HAVING COUNT(*) > 1"
    )
    assert twice == [], f"orders made twice: {twice[:10]}"
    return {
        deal: (str(number), lines)
        for deal, number, lines in sandbox.erp(
            "SELECT o.crm_opportunity_id, o.order_number, (SELECT COUNT(*) FROM sales_order_lines l "
            "WHERE l.order_number = o.order_number) FROM sales_orders o WHERE o.crm_opportunity_id IS NOT NULL"
        )
    }


def test_writes_through_an_api_lose_and_duplicate_nothing_whatever_stops_them(tmp_path: Path) -> None:
    seed = int(os.environ.get("FLOWBRIDGE_CRASH_SEED", str(random.SystemRandom().randrange(10**6))))
    rng = random.Random(seed)
    print(f"seed {seed} (FLOWBRIDGE_CRASH_SEED={seed} replays these rounds)")
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    sandbox = SandboxProcess(tmp_path / "sandbox", env)
    sandbox.start()
    store = Store(env["FLOWBRIDGE_DB_URL"])
    for system in ("crm", "erp"):
        set_connection(
            store,
            f"{system}_api",
            "sandbox",
            "http",
            {"base_url": sandbox.url(system), "token": TOKEN, "retry_wait": 0.01, "retry_attempts": 3},
        )
    for name in ("crm_accounts_to_erp_customers_http", ORDERS):
        import_flow_file(store, FLOWS / f"{name}.json")

    def run(*options: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "run", ORDERS, "--full", "--json", *options],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finished(process: subprocess.Popen) -> dict[str, Any]:
        out, err = process.communicate(timeout=600)
        assert "Traceback" not in out + err, err[-3000:]
        return json.loads(out) if out.strip().startswith("{") else {"status": "killed"}

    def start_over() -> None:
        sandbox.erp_write(
            "DELETE FROM sales_order_lines WHERE order_number IN "
            "(SELECT order_number FROM sales_orders WHERE crm_opportunity_id IS NOT NULL)"
        )
        sandbox.erp_write("DELETE FROM sales_orders WHERE crm_opportunity_id IS NOT NULL")
        with store.session() as session:
            for row in session.query(WriteOutcome).filter(WriteOutcome.flow_id == ORDERS):
                session.delete(row)
            session.commit()
        sync.forget_links(
            store,
            "sandbox",
            "order",
            "crm_api",
            list(sync.all_links(store, "sandbox", "order", "crm_api", "erp_api")),
            "erp_api",
        )

    try:
        customers = subprocess.run(
            [sys.executable, "-m", "app.cli", "run", "crm_accounts_to_erp_customers_http", "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert json.loads(customers.stdout)["status"] in ("succeeded", "partial")
        reference = finished(run())  # uninterrupted: what every round must end with
        expected = orders(sandbox)
        assert reference["totals"]["inserted"] == len(expected) > 400
        kept = {}
        for number in range(1, ROUNDS + 1):
            start_over()
            before = {r.id for r in _runs(store)}
            mode, cut_at = rng.choice(MODES), rng.randint(1, len(expected) - 1)
            interrupted = run()
            wait_for(
                lambda interrupted=interrupted, cut_at=cut_at: (
                    interrupted.poll() is not None
                    or sandbox.erp("SELECT COUNT(*) FROM sales_orders WHERE crm_opportunity_id IS NOT NULL")[0][0]
                    >= cut_at
                ),
                timeout=300,
                step=0.005,
                what="the run to be under way",
            )
            if mode == "kill the run":
                os.kill(interrupted.pid, signal.SIGKILL)
            elif mode == "stop the ERP":
                sandbox.kill()
                time.sleep(rng.uniform(0, 0.5))
            else:  # every other call's answer is lost after the ERP applied it
                sandbox.faults({"drop_rate": 0.5, "seed": number})
            finished(interrupted)
            if mode == "stop the ERP":
                sandbox.start()
            elif mode == "cut the connections":
                sandbox.faults({})
            second = finished(run())
            assert second["status"] in ("succeeded", "partial"), second.get("error")
            now = orders(sandbox)
            # Every order, once, with its lines (the ERP numbers them anew): none missing, none twice.
            assert {deal: lines for deal, (_, lines) in now.items()} == {
                deal: lines for deal, (_, lines) in expected.items()
            }
            links = sync.all_links(store, "sandbox", "order", "crm_api", "erp_api")
            assert links == {str(deal): number for deal, (number, _) in now.items()}
            [cut, recovered] = sorted((r for r in _runs(store) if r.id not in before), key=lambda r: r.started_at)
            inserted = (cut.totals or {}).get("inserted", 0) + (recovered.totals or {}).get("inserted", 0)
            assert inserted == len(expected), (mode, cut.status, cut.totals, recovered.totals)
            kept[number] = (
                mode,
                cut_at,
                cut.status,
                (cut.totals or {}).get("inserted", 0),
                (recovered.totals or {}).get("inserted", 0),
            )
        print(f"{len(expected)} orders; per round: mode, cut after, first run, inserted by it, inserted by the next")
        for number, row in kept.items():
            print(
                f"  round {number:>2}: {row[0]:<20} at {row[1]:>3}  {row[2]:<11} {row[3]:>3} + {row[4]:>3}"
                f" = {row[3] + row[4]}; missing 0, twice 0"
            )
    finally:
        sandbox.kill()
        store.close()


def _runs(store: Store) -> list[Any]:
    from app.store import runs

    return runs.list_runs(store, flow_id=ORDERS)


pytestmark = pytest.mark.slow
