"""A sync cut off in the middle (SIGKILL, or a target that stops taking connections) is finished by
the next run with nothing lost and nothing written twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from app.engine.executor import RunRequest, execute
from app.engine.plan import compile_plan
from app.sandbox.crm_data import create_crm_database
from app.sandbox.erp_data import create_erp_database
from app.services.runs import StoreRunServices, new_run_id, run_flow
from app.store import runs
from app.store.connections import set_connection
from app.store.database import Store
from app.store.models import Run
from tests.conftest import POSTGRES_ADMIN_URL
from tests.sync.systems import make_systems

FLOW = Path(__file__).resolve().parents[2] / "flows" / "crm_accounts_to_erp_customers.json"


def customers(erp_url: str) -> tuple[int, set[tuple]]:
    """The ERP's customers: how many rows, and the synced ones' fields (not their ERP numbers)."""
    engine = sa.create_engine(erp_url)
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar()
        synced = {
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT crm_id, name, email, phone, street, city, state, postcode, is_active FROM customers "
                    "WHERE crm_id IS NOT NULL"
                )
            )
        }
    engine.dispose()
    return total, synced


def uninterrupted(crm: Path, erp: Path, tmp_path: Path) -> tuple[int, set[tuple]]:
    """What the same sync gives on copies of the same databases when nothing stops it."""
    folder = tmp_path / "reference"
    folder.mkdir()
    shutil.copyfile(crm, folder / "crm.db")
    shutil.copyfile(erp, folder / "erp.db")
    store = Store(f"sqlite:///{folder / 'store.db'}")
    set_connection(store, "crm", "sandbox", "sql", {"url": f"sqlite:///{folder / 'crm.db'}"})
    set_connection(store, "erp", "sandbox", "sql", {"url": f"sqlite:///{folder / 'erp.db'}"})
    assert run_flow(store, json.loads(FLOW.read_text())).error is None
    store.close()
    return customers(f"sqlite:///{folder / 'erp.db'}")


def test_a_run_killed_with_sigkill_is_finished_by_the_next_run(tmp_path):
    crm, erp = tmp_path / "crm.db", tmp_path / "erp.db"
    create_crm_database(crm, accounts=30_000, with_related=False)
    create_erp_database(erp, crm_path=crm)
    reference = uninterrupted(crm, erp, tmp_path)
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)
    store = Store(env["FLOWBRIDGE_DB_URL"])
    set_connection(store, "crm", "sandbox", "sql", {"url": f"sqlite:///{crm}"})
    set_connection(store, "erp", "sandbox", "sql", {"url": f"sqlite:///{erp}"})
    before = customers(f"sqlite:///{erp}")[0]

    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", str(FLOW), "--batch-size", "200"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    written = 0
    while time.monotonic() < deadline:  # kill it once a good part, but not all, is written
        with sqlite3.connect(erp, timeout=10) as db:
            written = db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] - before
        if written > 3000:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert 3000 < written < reference[0] - before, "the kill did not land in the middle of the run"
    # The killed run shows what it had done: its ledger was recorded as its batches committed
    # (at most the batch in flight is not counted yet).
    [killed] = runs.list_runs(store)
    assert killed.totals["inserted"] >= written - 200 > 0
    assert runs.run_ledger(store, killed.id)

    store.close()
    store = Store(env["FLOWBRIDGE_DB_URL"])
    result = run_flow(store, json.loads(FLOW.read_text()))
    assert result.error is None
    assert customers(f"sqlite:///{erp}") == reference  # nothing lost, nothing written twice


def test_a_target_that_stops_taking_connections_mid_run_is_caught_up_next_time(store, tmp_path, database_factory):
    systems = make_systems(store, tmp_path, "postgresql", database_factory, accounts=3000)
    database = sa.make_url(systems.erp_url).database
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    class RefuseAfterThreeBatches(StoreRunServices):
        written_batches = 0

        def on_batch(self, node_id, records, outcome):
            if node_id == "customers":
                self.written_batches += 1
                if self.written_batches == 3:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")
                        conn.exec_driver_sql(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
                        )

    document = json.loads(FLOW.read_text())
    plan = compile_plan(document)
    run = Run(id=new_run_id(), flow_id=plan.flow_id, env="sandbox")
    runs.start_run(store, run)
    try:
        cut = execute(plan, RunRequest(run_id=run.id, batch_size=100), RefuseAfterThreeBatches(store, run))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")
    assert cut.status == "failed" and "connection 'erp' (sandbox)" in cut.error
    assert cut.ledger.nodes["customers"].written.get("inserted", 0) > 0  # some batches were in

    again = run_flow(store, document)
    assert again.error is None
    admin.dispose()
    # The same sync on SQLite copies of the same demo, never interrupted, ends in the same state.
    assert customers(systems.erp_url) == uninterrupted(tmp_path / "crm.db", tmp_path / "erp.db", tmp_path)
