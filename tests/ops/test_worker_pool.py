"""Runs on a pool of `flowbridge worker` processes over a real PostgreSQL store, with a real
`flowbridge serve` in FLOWBRIDGE_RUN_QUEUE=workers accepting them: each accepted run is run once,
by a worker, one run of a flow at a time however many workers there are; `flowbridge workers` says
who is alive and what each runs; a worker that cannot reach the database says so in one line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from app.store.connections import set_connection
from app.store.database import Store
from app.store.models import Run
from tests.ops.helpers import flow, flowbridge, flows_with_their_own_tables, store_flow, wait_for
from tests.ops.test_server_crash import _up
from tests.ops.test_webhooks_and_api import free_port
from tests.sync.test_crash_recovery import customers, uninterrupted

FLOWS = ("pool_a", "pool_b")
MANUAL = {"type": "trigger.manual"}


def _start(url: str, folder: Path, name: str, *command: str) -> subprocess.Popen:
    return flowbridge(url, folder, name, *command, RUN_QUEUE="workers")


def _serve(url: str, folder: Path) -> tuple[subprocess.Popen, str]:
    """`flowbridge serve` with FLOWBRIDGE_RUN_QUEUE=workers, once it answers; and its base URL."""
    port = free_port()
    server = _start(url, folder, "serve", "serve", "--port", str(port))
    wait_for(lambda: _up(port), timeout=60, step=0.2, what="the server to answer")
    return server, f"http://127.0.0.1:{port}"


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        process.wait(timeout=30)


def _written_beyond(erp: Path, before: int, count: int) -> bool:
    """More than `count` customers written into the ERP since there were `before`."""
    with sqlite3.connect(erp, timeout=10) as db:
        return db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] - before > count


SYNC_RUN = "/api/flows/crm_accounts_to_erp_customers/run"


def _runs(store: Store, flow_id: str) -> list[Run]:
    with store.session() as session:
        return list(session.exec(select(Run).where(Run.flow_id == flow_id).order_by(Run.started_at)))


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # servers and workers share one secret key, as they share the store
    monkeypatch.setenv("FLOWBRIDGE_SECRET_KEY", Fernet.generate_key().decode())


@pytest.fixture
def demo_sync(postgres_url: str, tmp_path: Path, secret_key: None):
    """The demo's accounts sync (30,000 CRM accounts) on a PostgreSQL store: (store, the ERP's path,
    what an uninterrupted run leaves in the ERP, its customers before)."""
    import json

    from app.sandbox.crm_data import create_crm_database
    from app.sandbox.erp_data import create_erp_database
    from app.store.flows import save_flow
    from tests.ops.test_server_crash import FLOW

    crm, erp = tmp_path / "crm.db", tmp_path / "erp.db"
    create_crm_database(crm, accounts=30_000, with_related=False)
    create_erp_database(erp, crm_path=crm)
    reference = uninterrupted(crm, erp, tmp_path)
    store = Store(postgres_url)
    set_connection(store, "crm", "sandbox", "sql", {"url": f"sqlite:///{crm}"})
    set_connection(store, "erp", "sandbox", "sql", {"url": f"sqlite:///{erp}"})
    save_flow(store, json.loads(FLOW.read_text()), author="test")
    yield store, erp, reference, customers(f"sqlite:///{erp}")[0]
    store.close()


@pytest.mark.slow
def test_accepted_runs_are_run_once_by_the_workers_one_run_of_a_flow_at_a_time(
    postgres_url: str, tmp_path: Path, secret_key: None
) -> None:
    store = Store(postgres_url)
    flows_with_their_own_tables(store, tmp_path, FLOWS, MANUAL, "sandbox")
    server, base = _serve(postgres_url, tmp_path)
    started = [server]
    try:
        started += [_start(postgres_url, tmp_path, f"worker{n}", "worker", "--concurrency", "2") for n in (1, 2)]
        accepted = {flow_id: [] for flow_id in FLOWS}
        for n in range(1, 7):
            for flow_id in FLOWS:
                records = [{"id": n * 100 + i, "name": f"{flow_id} {n}.{i}"} for i in range(20)]
                reply = httpx.post(
                    f"{base}/api/flows/{flow_id}/run",
                    params={"env": "sandbox"},
                    json=records,
                    timeout=10,
                )
                assert reply.status_code == 202, reply.text
                accepted[flow_id].append(reply.json()["run_id"])
        wait_for(
            lambda: (
                all(r.status == "succeeded" for f in FLOWS for r in _runs(store, f))
                and sum(len(_runs(store, f)) for f in FLOWS) == 12
            ),
            timeout=90,
            step=0.2,
            what="the twelve runs to succeed",
        )
        scraped = httpx.get(f"{base}/metrics", timeout=10).text
        shown = httpx.get(f"{base}/api/runs/{accepted[FLOWS[0]][0]}", timeout=10).json()
        listed = subprocess.run(
            [sys.executable, "-m", "app.cli", "workers"],
            env={**os.environ, "FLOWBRIDGE_DB_URL": postgres_url},
            capture_output=True,
            text=True,
        )
    finally:
        _stop(started)
    by = set()
    for flow_id in FLOWS:
        ran = _runs(store, flow_id)
        assert sorted(r.id for r in ran) == sorted(accepted[flow_id]), "each accepted run ran once, and no other"
        by |= {r.process for r in ran}
        for earlier, later in zip(ran, ran[1:]):
            assert later.started_at >= earlier.finished_at, f"two runs of {flow_id} overlapped"
        with sqlite3.connect(tmp_path / f"{flow_id}.db") as db:
            assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 6 * 20
    server_pid = str(started[0].pid)
    assert all(not p.endswith(f":{server_pid}") for p in by), "the server ran none itself"
    workers = {p.rsplit(":", 1)[1] for p in by}
    assert workers <= {str(started[1].pid), str(started[2].pid)}
    assert listed.returncode == 0 and listed.stdout.count(" running") == 2, listed.stdout
    assert "flowbridge_workers_alive 2.0" in scraped
    assert shown["ran_on"].rsplit(":", 1)[1] in workers, "the run says which worker ran it"
    store.close()


def test_a_worker_that_cannot_reach_the_database_says_so_in_one_line_and_tries_again(tmp_path: Path) -> None:
    unreachable = f"postgresql://flowbridge@127.0.0.1:{free_port()}/nowhere"
    worker = _start(unreachable, tmp_path, "worker", "worker")
    try:
        log = tmp_path / "worker.log"
        wait_for(lambda: log.read_text().count("trying again") >= 2, timeout=20, what="two tries said")
    finally:
        worker.terminate()
        worker.wait(timeout=10)
    lines = log.read_text().splitlines()
    assert lines[0].startswith("flowbridge worker: cannot open the store at postgresql://flowbridge@127.0.0.1:")
    assert "Connection refused" in lines[0]
    assert "trying again in 1 s" in lines[0] and "trying again in 2 s" in lines[1]
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
def test_a_worker_killed_mid_run_has_its_run_taken_up_again_and_every_record_lands_once(
    postgres_url: str, tmp_path: Path, demo_sync: tuple
) -> None:
    import signal

    store, erp, reference, before = demo_sync
    server, base = _serve(postgres_url, tmp_path)
    started = [server]
    try:
        workers = [_start(postgres_url, tmp_path, f"worker{n}", "worker", "--concurrency", "1") for n in (1, 2)]
        started += workers
        first = httpx.post(base + SYNC_RUN, params={"env": "sandbox"}, timeout=10).json()["run_id"]
        wait_for(lambda: _written_beyond(erp, before, 8_000), timeout=120, step=0.1, what="the run well under way")
        runner = _runs(store, "crm_accounts_to_erp_customers")[0].process or ""
        killed = next(w for w in workers if runner.endswith(f":{w.pid}"))
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        assert customers(f"sqlite:///{erp}")[0] < reference[0], "the kill came after the run had finished"
        wait_for(
            lambda: any(r.status in ("succeeded", "partial") for r in _runs(store, "crm_accounts_to_erp_customers")),
            timeout=150,
            step=0.5,
            what="the run taken up again by the other worker to finish",
        )
    finally:
        _stop(started)
    ran = {r.id: r for r in _runs(store, "crm_accounts_to_erp_customers")}
    assert ran[first].status == "interrupted"
    again = next(r for r in ran.values() if r.id != first)
    assert len(ran) == 2 and again.status in ("succeeded", "partial")  # the demo's few refused accounts
    assert ran[first].process != again.process, "taken up by the other worker"
    survivor = next(n for n, w in zip((1, 2), workers) if w is not killed)
    assert "was cut off with its worker" in (tmp_path / f"worker{survivor}.log").read_text()
    assert customers(f"sqlite:///{erp}") == reference, "every account once, none lost, none twice"


@pytest.mark.slow
def test_a_run_on_a_worker_stopped_from_the_api_is_cancelled_and_the_next_run_finishes_the_job(
    postgres_url: str, tmp_path: Path, demo_sync: tuple
) -> None:
    store, erp, reference, before = demo_sync
    server, base = _serve(postgres_url, tmp_path)
    started = [server]
    try:
        started.append(_start(postgres_url, tmp_path, "worker", "worker"))
        run_url = base + SYNC_RUN
        first = httpx.post(run_url, params={"env": "sandbox"}, timeout=10).json()["run_id"]
        wait_for(lambda: _written_beyond(erp, before, 3_000), timeout=120, step=0.1, what="the run under way")
        assert httpx.post(f"{base}/api/runs/{first}/stop", timeout=10).status_code == 200
        asked = time.monotonic()
        wait_for(lambda: _status(base, first) == "cancelled", timeout=10, step=0.1, what="the run cancelled")
        took = time.monotonic() - asked
        assert customers(f"sqlite:///{erp}")[0] < reference[0], "the stop came after the run had finished"
        again = httpx.post(run_url, params={"env": "sandbox"}, timeout=10).json()["run_id"]
        wait_for(lambda: _status(base, again) in ("succeeded", "partial"), timeout=150, step=0.5, what="the next run")
    finally:
        _stop(started)
    assert took < 5, f"cancelled {took:.1f} s after Stop"
    assert customers(f"sqlite:///{erp}") == reference, "the next run wrote the rest, each account once"


def _status(base: str, run_id: str) -> str:
    return str(httpx.get(f"{base}/api/runs/{run_id}", timeout=10).json()["status"])


@pytest.mark.slow
def test_scheduled_ticks_go_to_the_workers(postgres_url: str, tmp_path: Path, secret_key: None) -> None:
    from app.services import switches
    from app.services.access import admin

    store = Store(postgres_url)
    target = tmp_path / "ticks.db"
    with sqlite3.connect(target) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    set_connection(store, "dst", "production", "sql", {"url": f"sqlite:///{target}"})
    flow_id = store_flow(store, flow("ticks", {"type": "trigger.schedule", "config": {"interval": {"seconds": 2}}}))
    server, _ = _serve(postgres_url, tmp_path)
    started = [server]
    try:
        worker = _start(postgres_url, tmp_path, "worker", "worker")
        started.append(worker)
        switches.switch(store, flow_id, True, who=admin("test"))
        wait_for(
            lambda: len([r for r in _runs(store, flow_id) if r.status == "succeeded"]) >= 3,
            timeout=30,
            what="three ticks run",
        )
        switches.switch(store, flow_id, False, who=admin("test"))
    finally:
        _stop(started)
    done = [r for r in _runs(store, flow_id) if r.status == "succeeded"]
    assert {r.process for r in done} == {f"{r.process.rsplit(':', 1)[0]}:{worker.pid}" for r in done if r.process}
    assert all(r.trigger == "schedule" for r in done)
    store.close()


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"]])
def test_workers_on_a_sqlite_store_are_refused_in_one_sentence(tmp_path: Path, command: list[str]) -> None:
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}", "FLOWBRIDGE_RUN_QUEUE": "workers"}
    env.pop("PYTEST_CURRENT_TEST", None)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "FLOWBRIDGE_RUN_QUEUE=workers needs a PostgreSQL store" in done.stderr
    assert "Traceback" not in done.stderr


class _Cuttable:
    """A TCP relay on 127.0.0.1 to PostgreSQL that the test can cut (every connection dropped, new
    ones refused) and mend: a network that drops, between a worker and its store."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        import socket
        import threading

        self.upstream, self.open, self.links = upstream, True, []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._threading = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

    def cut(self) -> None:
        import socket

        self.open = False
        for link in self.links:
            try:
                link.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.links = []

    def mend(self) -> None:
        self.open = True


@pytest.mark.slow
def test_a_worker_whose_store_drops_away_says_so_and_works_again_when_it_is_back(
    postgres_url: str, tmp_path: Path, secret_key: None
) -> None:
    import sqlalchemy as sa

    from app.services import operations
    from app.services.access import admin
    from app.services.worker_queue import WorkerQueue

    store = Store(postgres_url)
    flows_with_their_own_tables(store, tmp_path, FLOWS[:1], MANUAL, "sandbox")
    queue = WorkerQueue(store)
    url = sa.make_url(postgres_url)
    relay = _Cuttable((url.host or "127.0.0.1", url.port or 5432))
    through_relay = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    worker = _start(through_relay, tmp_path, "worker", "worker")
    log = tmp_path / "worker.log"
    try:
        wait_for(lambda: "running up to" in log.read_text(), timeout=30, what="the worker to start")
        relay.cut()
        wait_for(lambda: "trying again" in log.read_text(), timeout=60, what="the worker to say the store is gone")
        relay.mend()
        wait_for(lambda: log.read_text().count("running up to") >= 2, timeout=60, what="the worker to start again")
        run_id = operations.queue_flow_run(
            store, FLOWS[0], [{"id": 1, "name": "back"}], queues=queue, env="sandbox", who=admin("test")
        )
        wait_for(lambda: _runs(store, FLOWS[0])[0].status == "succeeded", timeout=30, what="a run after the drop")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        relay.listener.close()
    said = log.read_text()
    assert "Traceback" not in said, said[-2000:]
    assert [r.id for r in _runs(store, FLOWS[0])] == [run_id]
    store.close()


def test_a_worker_asked_for_no_runs_at_a_time_is_told_what_the_option_takes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--concurrency", "0"],
        env={**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "flowbridge: --concurrency is how many runs at a time, 1 or more, not 0"
