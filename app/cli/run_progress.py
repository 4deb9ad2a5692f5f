"""`flowbridge run` on a terminal: one line that follows the run, and Ctrl+C that stops it cleanly.

The line reads what every other view reads, the run's live progress in the store (see
services/live_progress.py), so the terminal shows what the Runs page shows. Nothing of it is
printed with --json or when the output is not a terminal (a pipe, a log file, cron).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from app.services import run_reads, run_stops

if TYPE_CHECKING:
    from app.services.access import Principal
    from app.store.database import Store

REFRESH_SECONDS = 0.5
CLEAR_LINE = "\r\033[K"


def progress_text(run: Any) -> str:
    """'read 1,200 · written 1,150 · failed 3 · 240 records/s · 5.0 s · batch 2, at write'."""
    totals, progress = run.totals or {}, run.progress or {}
    written = sum(totals.get(k, 0) for k in ("inserted", "updated", "unchanged"))
    parts = [f"read {totals.get('read', 0):,}", f"written {written:,}"]
    if totals.get("failed"):
        parts.append(f"failed {totals['failed']:,}")
    if progress:
        parts.append(f"{progress.get('records_per_second', 0):,.0f} records/s")
        parts.append(f"{progress.get('elapsed', 0):.1f} s")
        at = f"batch {progress.get('batches', 0) + 1}"
        parts.append(at + (f", at {progress['node']}" if progress.get("node") else ""))
        if progress.get("retries"):
            parts.append(f"{progress['retries']:,} retries")
    if run.stop_requested_at is not None:
        parts.append("stopping at the end of this batch")
    return " · ".join(parts)


class ProgressLine:
    """A thread that rewrites one terminal line with the run's progress until closed."""

    def __init__(self, store: Store, run_id: str, out: TextIO) -> None:
        self.store, self.run_id, self.out = store, run_id, out
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="progress-line", daemon=True)
        self._shown = False

    def __enter__(self) -> ProgressLine:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        if self._shown:
            self.out.write(CLEAR_LINE)
            self.out.flush()

    def _follow(self) -> None:
        while not self._done.wait(REFRESH_SECONDS):
            try:
                run = run_reads.run(self.store, self.run_id)
            except Exception:  # not stored yet, or the store busy: the next look will do
                continue
            if run.status != "running" or not run.progress:  # nothing to say before its first batch starts
                continue
            self.out.write(CLEAR_LINE + progress_text(run))
            self.out.flush()
            self._shown = True


@contextmanager
def stopped_by_ctrl_c(store: Store, run_id: str, who: Principal) -> Iterator[None]:
    """The first Ctrl+C asks the run to stop at its next batch boundary (nothing lost); a second one
    interrupts it at once, as before."""
    asked = False

    def ask(signum: int, frame: Any) -> None:
        nonlocal asked
        if asked:
            raise KeyboardInterrupt
        asked = True
        try:
            run_stops.stop_run(store, who, run_id)
            sys.stderr.write("\nstopping at the end of this batch (Ctrl+C again to interrupt now)\n")
        except Exception:  # not started yet, or over: interrupting is all that is left
            raise KeyboardInterrupt from None

    previous = signal.signal(signal.SIGINT, ask)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
