"""`flowbridge worker` (one process of the pool that runs queued runs) and `flowbridge workers`."""

from __future__ import annotations

import argparse
import sys
import time

from app.cli.common import EXIT_OK, UsageError, the_root
from app.errors import StoreUnreachable

FIRST_WAIT, LONGEST_WAIT = 1.0, 30.0  # seconds between tries to reach the store, doubling


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    import sqlalchemy as sa
    from procrastinate.exceptions import ConnectorException

    from app.services import worker_pool

    if args.concurrency < 1:
        raise UsageError(f"--concurrency is how many runs at a time, 1 or more, not {args.concurrency}")
    # What a worker says on the terminal besides its start line, one line each: a dead worker's
    # run taken up again, a store that did not answer (the log file keeps them too).
    say = logging.StreamHandler(sys.stderr)
    say.setFormatter(logging.Formatter("flowbridge worker: %(message)s"))
    logging.getLogger(worker_pool.__name__).addHandler(say)

    wait = FIRST_WAIT
    while True:
        root = the_root()
        try:
            worker_pool.run_worker(
                root,
                args.concurrency,
                on_start=lambda name: print(f"worker {name}: running up to {args.concurrency} runs at a time"),
            )
            return EXIT_OK
        # the store's server down or gone away, at start or while working: wait, then start again
        except (StoreUnreachable, sa.exc.OperationalError, ConnectorException, OSError) as error:
            print(
                f"flowbridge worker: {worker_pool.unreachable(error)}; trying again in {wait:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        finally:
            root.stop()
        time.sleep(wait)
        wait = min(LONGEST_WAIT, wait * 2)


def cmd_workers(args: argparse.Namespace) -> int:
    from app.services import worker_pool

    found = worker_pool.alive(the_root().store)
    if not found:
        print("no worker alive (start one: flowbridge worker --concurrency 4)")
    for worker, going in found:
        print(
            f"{worker.name}  up since {worker.started_at:%Y-%m-%d %H:%M:%S} UTC  "
            f"last heard {worker.seen_at:%H:%M:%S}  {len(going)} of {worker.concurrency} running"
        )
        for run in going:
            print(f"    run {run.id} of {run.flow_id} ({run.env}) since {run.started_at:%H:%M:%S}")
    return EXIT_OK
