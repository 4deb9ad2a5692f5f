"""Tuning for a process that exists for one run (`flowbridge run`, a run's child of the server)."""

from __future__ import annotations

import gc


def settle_before_the_run() -> None:
    """Move everything loaded so far (modules, mappings, schemas: it lives as long as the process)
    out of the garbage collector's sight. A run makes millions of short-lived objects; without this
    each full collection also walks the hundreds of thousands of objects the imports made, which
    measured 10–15% of a write-through-an-API run (bench/api_writes.py). Not for the web server:
    what it would freeze is never collected."""
    gc.collect()
    gc.freeze()
