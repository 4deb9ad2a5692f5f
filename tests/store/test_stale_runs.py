"""Which runs a server starting up takes for left behind by a crash: those whose process is gone,
or is another by the same pid; not the runs of another server on this machine that is still up."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from app.services.interrupted import mark_interrupted
from app.store import runs
from app.store.models import Run, utcnow


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen]:
    """A live process of this machine, standing for another server."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _run(store, run_id: str, process: str | None, started_at: dt.datetime, status: str = "running") -> None:
    with store.session() as session:
        session.add(
            Run(id=run_id, flow_id="f", env="production", status=status, process=process, started_at=started_at)
        )
        session.commit()


def test_a_starting_server_leaves_a_live_servers_runs_alone_and_marks_the_rest(store, other_process) -> None:
    host = socket.gethostname()
    now = utcnow()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _run(store, "live", f"{host}:{other_process.pid}", now + dt.timedelta(seconds=5))
    _run(store, "queued-live", f"{host}:{other_process.pid}", now + dt.timedelta(seconds=5), status="queued")
    _run(store, "gone", f"{host}:{gone.stdout.strip()}", now)
    # the pid is alive, but that process began an hour after the run: the machine restarted since
    _run(store, "reused-pid", f"{host}:{other_process.pid}", now - dt.timedelta(hours=1))
    _run(store, "no-process", None, now, status="queued")

    assert mark_interrupted(store) == 3
    status = {
        run_id: runs.get_run(store, run_id).status
        for run_id in ("live", "queued-live", "gone", "reused-pid", "no-process")
    }
    assert status == {
        "live": "running",
        "queued-live": "queued",
        "gone": "interrupted",
        "reused-pid": "interrupted",
        "no-process": "interrupted",
    }


def test_runs_of_other_machines_are_judged_by_what_they_last_said(store) -> None:
    from app.store import workers
    from app.store.models import Worker

    now = utcnow()
    elsewhere = "other-machine:4242"
    _run(store, "silent", elsewhere, now - dt.timedelta(minutes=10))
    _run(store, "talking", elsewhere, now - dt.timedelta(minutes=10))
    _run(store, "never-said", "third-machine:7", now - dt.timedelta(minutes=10))  # `flowbridge run` there
    _run(store, "queued-dead-server", "dead-server:9", now, status="queued")
    _run(store, "queued-live-server", "live-server:9", now, status="queued")
    _run(store, "queued-for-workers", runs.WORKER_POOL, now - dt.timedelta(hours=2), status="queued")
    for run_id, said in (("silent", now - dt.timedelta(minutes=5)), ("talking", now - dt.timedelta(seconds=5))):
        runs.record_progress(store, run_id, totals={}, ledger={}, progress={"updated_at": said.isoformat()}, events=[])
    workers.beat(store, "live-server:9", 0, kind="server")
    with store.session() as session:
        session.add(Worker(name="dead-server:9", kind="server", seen_at=now - dt.timedelta(minutes=3)))
        session.commit()

    assert mark_interrupted(store) == 2
    assert {r: runs.get_run(store, r).status for r in ("silent", "queued-dead-server")} == {
        "silent": "interrupted",
        "queued-dead-server": "interrupted",
    }
    for left in ("talking", "never-said", "queued-live-server", "queued-for-workers"):
        assert runs.get_run(store, left).status in ("running", "queued"), left
