"""Runs started by the web server run in a child process, with a memory and a time limit.

A flow is written by people, and its records come from systems nobody here controls: however well
expressions are capped, a run may still ask for more memory or time than the server can give (a
hostile API answering a 5 GB page, a lookup table of millions of rows). In its own process such a
run can only end itself: the child's address space is capped (RLIMIT_AS), the parent stops it when
its time is up, and the web pages and the scheduler keep answering either way.

The child does exactly what the run would have done in the server (services.runs.run_flow: the run
row, ledger, dead letters, cursors and links in the store) and hands its RunResult back through a
pipe. A child that is stopped or dies leaves its run marked failed with the reason; batches it
committed stay committed, and the cursor is where its last committed batch left it, so the next run
goes on from there and nothing is lost. The CLI needs none of this: `flowbridge run` is a process of
its own already.

Children are forked from a fork server that imported the engine once, so a small run costs a fork,
not an interpreter start.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from app.engine.executor import RunResult
from app.errors import FlowbridgeError
from app.store.database import Store

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 2048
DEFAULT_TIME_LIMIT_SECONDS = 6 * 3600
STOP_GRACE_SECONDS = 5  # after SIGTERM, before SIGKILL
PRELOAD = ["app.services.run_child"]  # imported once by the fork server: every child starts warm


@dataclass(frozen=True)
class RunLimits:
    """How much one run may take: its process' address space, and its time."""

    memory_mb: int = DEFAULT_MEMORY_MB
    seconds: float = DEFAULT_TIME_LIMIT_SECONDS

    @classmethod
    def from_environment(cls) -> RunLimits:
        """FLOWBRIDGE_RUN_MEMORY_MB and FLOWBRIDGE_RUN_TIME_LIMIT_SECONDS, else the defaults."""
        try:
            memory = int(os.environ.get("FLOWBRIDGE_RUN_MEMORY_MB") or DEFAULT_MEMORY_MB)
            seconds = float(os.environ.get("FLOWBRIDGE_RUN_TIME_LIMIT_SECONDS") or DEFAULT_TIME_LIMIT_SECONDS)
        except ValueError as error:
            raise FlowbridgeError(f"FLOWBRIDGE_RUN_MEMORY_MB / FLOWBRIDGE_RUN_TIME_LIMIT_SECONDS: {error}") from None
        return cls(memory, seconds)

    def for_document(self, document: dict[str, Any]) -> RunLimits:
        """A flow may ask for less time (settings.max_run_minutes), never for more than the server gives."""
        minutes = (document.get("settings") or {}).get("max_run_minutes")
        if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and minutes > 0:
            return RunLimits(self.memory_mb, min(self.seconds, minutes * 60))
        return self


def _context() -> Any:
    if sys.platform.startswith("linux") or sys.platform == "darwin":
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


_CONTEXT = _context()
# Set once by the process that wants its runs isolated (`flowbridge serve`); None runs them in place.
_limits: RunLimits | None = None


def isolate_runs(limits: RunLimits | None) -> None:
    """From now on, run_flow in this process runs each run in a child under `limits` (None: in place)."""
    global _limits
    _limits = limits


def limits_here() -> RunLimits | None:
    return _limits


def run_in_child(store: Store, run_id: str, limits: RunLimits, options: dict[str, Any]) -> tuple[RunResult, dict]:
    """Run `services.runs.run_flow(store, **options)` in a child process under `limits`.

    Returns its RunResult and what it kept for `keep_into`. A child stopped for its time, or dead
    (out of memory, killed), gives a failed RunResult saying so, and its run is marked failed."""
    from app.services.run_child import child_main

    receiving, sending = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=child_main,
        args=(sending, store.url, limits.memory_mb, options),
        name=f"flowbridge-run-{run_id}",
        daemon=True,
    )
    child.start()
    sending.close()
    deadline = time.monotonic() + limits.seconds
    answer: Any = None
    try:
        while answer is None:
            left = deadline - time.monotonic()
            if left <= 0:
                _stop(child)
                return _stopped(
                    store, run_id, f"it ran longer than its limit of {_duration(limits.seconds)} and was stopped"
                ), {}
            if receiving.poll(min(left, 1.0)):
                try:
                    answer = receiving.recv()
                except EOFError:  # the child died without a word
                    break
            elif not child.is_alive() and not receiving.poll(0):
                break
    finally:
        receiving.close()
    child.join(STOP_GRACE_SECONDS)
    if answer is None:
        _stop(child)
        return _stopped(store, run_id, _death(child.exitcode, limits)), {}
    kind, value, kept = answer
    if kind == "error":
        return _stopped(store, run_id, value), {}
    return value, kept


def _stop(child: Any) -> None:
    if child.is_alive():
        child.terminate()
        child.join(STOP_GRACE_SECONDS)
    if child.is_alive():
        child.kill()
        child.join(STOP_GRACE_SECONDS)


def _death(exitcode: int | None, limits: RunLimits) -> str:
    if exitcode is not None and exitcode < 0:
        import signal

        name = signal.Signals(-exitcode).name if -exitcode in signal.Signals._value2member_map_ else str(-exitcode)
        return f"its process was ended by {name} (perhaps for using more than {limits.memory_mb:,} MB)"
    return (
        f"its process ended (exit code {exitcode}) before it could say how the run went; a run may use "
        f"{limits.memory_mb:,} MB"
    )


def _stopped(store: Store, run_id: str, why: str) -> RunResult:
    """Mark the run failed with `why` (its child cannot any more): the failed RunResult."""
    from app.engine.ledger import Ledger
    from app.store import runs, write_outcomes
    from app.store.models import utcnow

    message = (
        f"run {run_id} did not finish: {why}; what its committed batches wrote stays, and the next run "
        "goes on from the last committed position"
    )
    log.warning(message)
    write_outcomes.settle_run(store, run_id)  # what its writes to APIs had done, record by record
    run = runs.get_run(store, run_id)
    totals = dict(run.totals or {})  # what it recorded as its batches committed, and those records
    finished = utcnow()
    runs.finish_run(store, run_id, status="failed", totals=totals, error=message, ledger={}, finished_at=finished)
    return RunResult(run_id, run.flow_id, run.env, "failed", run.started_at, finished, Ledger([]), totals, message)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
