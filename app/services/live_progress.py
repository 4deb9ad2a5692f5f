"""A running run's live view in the store, about every second, written from a thread of its own.

The run's thread posts what it has done so far each time a node starts on a batch (a cheap swap
of a reference); this thread writes the newest post, and the retries made so far, when they have
changed. So a page following the run sees it move even while one batch takes minutes (an API
answering errors that are retried one by one), and a run killed midway still shows how far it got.
What a batch boundary commits is written by the run itself at once (StoreRunServices.on_progress).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from app.store import runs
from app.store.database import Store

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
# Even when nothing changed, the view is written again this often: its `updated_at` then says the
# run's process is alive, which a server on another machine cannot see otherwise (store/runs.py).
HEARTBEAT_SECONDS = 10.0


def records_done(totals: dict[str, int]) -> int:
    """How many records a run has been through so far: those read, or for a run fed by its trigger
    (a webhook's records) those written, unchanged or failed."""
    outcomes = sum(totals.get(k, 0) for k in ("inserted", "updated", "unchanged", "failed"))
    return max(totals.get("read", 0), outcomes)


class LiveProgress:
    def __init__(
        self,
        store: Store,
        run_id: str,
        events: list[dict[str, Any]],
        *,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.run_id, self.events = store, run_id, events
        self.interval, self.clock = interval, clock
        self.started = clock()
        self.batches = 0
        self._posted: tuple[int, str, dict[str, Any], dict[str, int]] | None = None
        self._posts = 0
        self._written = (-1, 0)  # the post and the number of retries last written
        self._written_at = clock()
        self._done = threading.Event()
        self._writing = threading.Lock()  # the run's thread (boundaries) and this one's ticks
        self._thread = threading.Thread(target=self._follow, name=f"live-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def post(self, node_id: str, ledger: dict[str, Any], totals: dict[str, int]) -> None:
        """From the run's thread: `node_id` is at work now, and this is what the run did so far."""
        self._posts += 1
        self._posted = (self._posts, node_id, ledger, totals)

    def boundary(self, ledger: dict[str, Any], totals: dict[str, int]) -> None:
        """From the run's thread, at a batch boundary: written at once, not on the next tick."""
        self.batches += 1
        node = self._posted[1] if self._posted else ""
        self.post(node, ledger, totals)
        self._write()

    def close(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self._write()
            except Exception:  # a busy store misses one tick; the next one writes the newer state
                log.debug("writing the live progress of run %s failed", self.run_id, exc_info=True)

    def _write(self) -> None:
        with self._writing:
            self._write_newest()

    def _write_newest(self) -> None:
        posted, retries = self._posted, len(self.events)
        quiet = self.clock() - self._written_at < HEARTBEAT_SECONDS
        if posted is None or ((posted[0], retries) == self._written and quiet):
            return
        number, node_id, ledger, totals = posted
        elapsed = max(self.clock() - self.started, 1e-6)
        progress = {
            "node": node_id,
            "batches": self.batches,
            "elapsed": round(elapsed, 1),
            "records_per_second": round(records_done(totals) / elapsed, 1),
            "retries": retries,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        runs.record_progress(
            self.store, self.run_id, totals=totals, ledger=ledger, progress=progress, events=list(self.events)
        )
        self._written, self._written_at = (number, retries), self.clock()
