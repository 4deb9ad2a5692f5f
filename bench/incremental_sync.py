"""What change tracking buys: re-runs and incremental runs of crm_accounts_to_erp_customers.

Generates N CRM accounts (default 100,000), then times, on the two-way flow as shipped:
  1. the first full run into an empty ERP (every account read, matched, written, linked);
  2. a re-run with nothing changed, as the scheduler would start it (the cursor reads only ties);
  3. a re-run reading all N again (its cursor reset), where every account is found unchanged by
     the sync's known values and skipped before mapping or writing;
  4. after 1% of the accounts change, the incremental run: it reads only those.
and prints each ratio against the first full run. Targets (issue 3): re-run on unchanged >= 3x,
incremental after 1% changed >= 20x.

    python bench/incremental_sync.py [--n 100000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sandbox.crm_data import create_crm_database  # noqa: E402
from app.sandbox.demo_schemas import ERP_SCHEMA, ERP_TRIGGERS  # noqa: E402
from app.services.runs import run_flow  # noqa: E402
from app.store.connections import set_connection  # noqa: E402
from app.store.database import Store  # noqa: E402
from app.store.runs import reset_cursors  # noqa: E402

FLOW = json.loads((ROOT / "flows" / "crm_accounts_to_erp_customers.json").read_text())


def timed(store: Store, label: str) -> tuple[float, dict]:
    started = time.perf_counter()
    result = run_flow(store, FLOW)
    seconds = time.perf_counter() - started
    if result.error:
        raise SystemExit(f"{label}: {result.error}")
    return seconds, result.totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="CRM accounts to generate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fb-incremental-") as folder:
        work = Path(folder)
        crm, erp = work / "crm.db", work / "erp.db"
        create_crm_database(crm, accounts=args.n, with_related=False)
        with sqlite3.connect(erp) as db:
            db.executescript(ERP_SCHEMA)
            db.executescript(ERP_TRIGGERS)
        store = Store(f"sqlite:///{work / 'store.db'}")
        set_connection(store, "crm", "sandbox", "sql", {"url": f"sqlite:///{crm}"})
        set_connection(store, "erp", "sandbox", "sql", {"url": f"sqlite:///{erp}"})

        full, full_totals = timed(store, "first full run")
        rerun, rerun_totals = timed(store, "re-run")
        reset_cursors(store, FLOW["id"], "sandbox")
        reread, reread_totals = timed(store, "re-run reading everything")
        changed = args.n // 100
        with sqlite3.connect(crm) as db:
            # An hour after the clock and after every stamp: the next run's cursor reads these rows.
            db.execute(
                "UPDATE accounts SET phone = phone || ' ext 1', updated_at = strftime('%Y-%m-%d %H:%M:%S', "
                "MAX(datetime('now'), (SELECT MAX(updated_at) FROM accounts)), '+1 hour') "
                "WHERE id IN (SELECT id FROM accounts ORDER BY id LIMIT ?)",
                (changed,),
            )
        incremental, incremental_totals = timed(store, "incremental run")
        store.close()

    print(f"accounts:                       {args.n:,}")
    print(f"first full run:                 {full:.2f} s  {full_totals}")
    print(
        f"re-run, nothing changed:        {rerun:.3f} s  read {rerun_totals['read']:,}  "
        f"ratio {full / rerun:.1f}x (target >= 3x)"
    )
    print(
        f"re-run reading all, unchanged:  {reread:.2f} s  read {reread_totals['read']:,}, unchanged "
        f"{reread_totals['unchanged']:,}, written {reread_totals['inserted'] + reread_totals['updated']}  "
        f"ratio {full / reread:.1f}x (target >= 3x)"
    )
    print(
        f"1% changed, incremental run:    {incremental:.3f} s  read {incremental_totals['read']:,} "
        f"(changed {changed:,})  ratio {full / incremental:.1f}x (target >= 20x)"
    )


if __name__ == "__main__":
    main()
