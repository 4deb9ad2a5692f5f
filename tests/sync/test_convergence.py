"""Property: whatever both systems do, and wherever a run dies, the two-way sync converges.

Hypothesis draws sequences of inserts, updates and deactivations on both sides, interleaved with
runs of both directions, some of which die between or inside batches (right after a batch reached
the target, before its link or cursor was kept). Each system edits only fields it owns or shares,
as field permissions in real CRMs and ERPs enforce. After a final run of each direction, the CRM
and the ERP agree on every field either side owns, and no record exists twice.
Examples: 40 by default, FLOWBRIDGE_PROPERTY_EXAMPLES to change it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.executor import RunRequest, execute
from app.engine.plan import compile_plan
from app.sandbox.demo_databases import create_demo_databases
from app.services.runs import StoreRunServices, new_run_id
from app.store import runs
from app.store.connections import set_connection
from app.store.database import Store
from app.store.models import Run

FLOWS = Path(__file__).resolve().parents[2] / "flows"
FORWARD = json.loads((FLOWS / "crm_accounts_to_erp_customers.json").read_text())
REVERSE = json.loads((FLOWS / "erp_customers_to_crm_accounts.json").read_text())
STATES = {k.strip().casefold(): v for k, v in FORWARD["value_maps"]["us_states"].items()}
WORDS = ["North", "Harbor", "Cedar", "Atlas", "Summit"]
EXAMPLES = int(os.environ.get("FLOWBRIDGE_PROPERTY_EXAMPLES", "40"))


class SimulatedCrash(BaseException):
    """The process dies here: nothing after this point happens, what was committed stays."""


class DyingServices(StoreRunServices):
    """Store services that die at the n-th bookkeeping step of a run."""

    def __init__(self, store: Store, run: Run, die_at: int) -> None:
        super().__init__(store, run)
        self.steps, self.die_at = 0, die_at

    def _step(self) -> None:
        self.steps += 1
        if self.steps == self.die_at:
            raise SimulatedCrash()

    def save_links(self, *args):  # after a batch reached the target, before its links are kept
        self._step()
        super().save_links(*args)

    def commit_cursor(self, *args):  # between batches
        self._step()
        super().commit_cursor(*args)


def run(store: Store, document: dict, die_at: int | None = None) -> None:
    plan = compile_plan(document)
    record = Run(id=new_run_id(), flow_id=plan.flow_id, env="sandbox")
    runs.start_run(store, record)
    services = DyingServices(store, record, die_at) if die_at else StoreRunServices(store, record)
    try:
        result = execute(plan, RunRequest(run_id=record.id, batch_size=4), services)
        assert result.error is None, result.error
    except SimulatedCrash:
        pass


text = st.sampled_from(WORDS).map(lambda w: f"{w} {w[::-1].title()}")
operations = st.one_of(
    st.tuples(st.just("crm_insert"), text, st.sampled_from(["ca", "Texas", " ny ", "WA"]), st.booleans()),
    st.tuples(
        st.just("crm_update"), st.integers(0, 40), st.sampled_from(["name", "street", "city", "phone", "state"]), text
    ),
    st.tuples(st.just("crm_deactivate"), st.integers(0, 40)),
    # Each system edits what it owns and what both own (the ERP never renames a CRM account).
    st.tuples(
        st.just("erp_update"),
        st.integers(0, 40),
        st.sampled_from(["street", "city", "state", "credit_limit", "payment_terms"]),
        text,
    ),
    st.tuples(st.just("erp_insert"), text),
    st.tuples(st.just("forward"), st.one_of(st.none(), st.integers(1, 6))),
    st.tuples(st.just("reverse"), st.one_of(st.none(), st.integers(1, 6))),
)


def apply(op: tuple, crm: Path, erp: Path) -> None:
    kind = op[0]
    if kind == "crm_insert":
        _, name, state, approved = op
        with sqlite3.connect(crm) as db:
            new_id = db.execute("SELECT MAX(id) + 1 FROM accounts").fetchone()[0]
            db.execute(
                "INSERT INTO accounts (id, name, email, phone, street, city, state, postcode, country, "
                "industry, credit_status, is_active, created_at, updated_at) VALUES "
                "(?, ?, ?, '555', '1 Main St', 'Austin', ?, '73301', 'US', 'Tools', ?, 1, "
                "strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'))",
                (
                    new_id,
                    f" {name} ",
                    f"{name.replace(' ', '.')}.{new_id}@Example.com ",
                    state,
                    "approved" if approved else "pending",
                ),
            )
    elif kind in ("crm_update", "crm_deactivate"):
        with sqlite3.connect(crm) as db:
            ids = [r[0] for r in db.execute("SELECT id FROM accounts ORDER BY id")]
            target = ids[op[1] % len(ids)]
            if kind == "crm_deactivate":
                db.execute("UPDATE accounts SET is_active = 0 WHERE id = ?", (target,))
            else:
                db.execute(f"UPDATE accounts SET {op[2]} = ? WHERE id = ?", (op[3], target))
    elif kind == "erp_update":
        with sqlite3.connect(erp) as db:
            numbers = [r[0] for r in db.execute("SELECT customer_number FROM customers ORDER BY customer_number")]
            value = len(op[3]) * 1000 if op[2] == "credit_limit" else op[3]
            db.execute(
                f"UPDATE customers SET {op[2]} = ? WHERE customer_number = ?", (value, numbers[op[1] % len(numbers)])
            )
    elif kind == "erp_insert":
        with sqlite3.connect(erp) as db:
            db.execute(
                "INSERT INTO customers (name, email, state, is_active, updated_at) VALUES (?, ?, 'Texas', 1, "
                "strftime('%Y-%m-%d %H:%M:%f', 'now'))",
                (op[1], f"{op[1].replace(' ', '.')}@erp.example"),
            )


def emails_twice(erp: Path) -> set[str]:
    """E-mails of more than one customer that came from the CRM."""
    with sqlite3.connect(erp) as db:
        return {
            r[0]
            for r in db.execute(
                "SELECT lower(trim(email)) FROM customers WHERE email IS NOT NULL "
                "AND crm_id IS NOT NULL GROUP BY lower(trim(email)) HAVING COUNT(*) > 1"
            )
        }


def assert_converged(crm: Path, erp: Path, twice_before: set[str]) -> None:
    with sqlite3.connect(crm) as c, sqlite3.connect(erp) as e:
        c.row_factory = e.row_factory = sqlite3.Row
        accounts = {r["id"]: r for r in c.execute("SELECT * FROM accounts")}
        customers = list(e.execute("SELECT * FROM customers"))
    by_crm_id: dict[int, list] = {}
    for customer in customers:
        if customer["crm_id"] is not None:
            by_crm_id.setdefault(customer["crm_id"], []).append(customer)
    assert all(len(v) == 1 for v in by_crm_id.values()), "an account exists twice in the ERP"
    # The demo's ERP starts with a few customers twice (as real ERPs do); the sync adds none.
    assert emails_twice(erp) <= twice_before, "the sync made a second customer for one e-mail"
    for crm_id, (customer,) in by_crm_id.items():
        account = accounts[crm_id]
        if account["credit_status"] != "approved":
            continue
        # The CRM owns names and contact details; the ERP owns credit terms; addresses are shared.
        assert customer["name"] == account["name"].strip()
        assert customer["phone"] == (account["phone"] or "").strip() or customer["phone"] == account["phone"]
        assert customer["is_active"] == account["is_active"]
        assert customer["street"] == account["street"].strip() and customer["city"] == account["city"].strip()
        assert customer["state"] == STATES.get(account["state"].strip().casefold(), account["state"])
        assert account["credit_limit"] == customer["credit_limit"]
        assert account["payment_terms"] == customer["payment_terms"]


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(operations, min_size=1, max_size=14))
def test_both_systems_agree_after_any_sequence_of_changes_runs_and_crashes(tmp_path_factory, ops):
    folder = tmp_path_factory.mktemp("convergence")
    crm, erp = folder / "crm.db", folder / "erp.db"
    create_demo_databases(crm, erp, accounts=24)
    twice_before = emails_twice(erp)
    store = Store(f"sqlite:///{folder / 'store.db'}")
    set_connection(store, "crm", "sandbox", "sql", {"url": f"sqlite:///{crm}"})
    set_connection(store, "erp", "sandbox", "sql", {"url": f"sqlite:///{erp}"})
    try:
        for op in ops:
            if op[0] in ("forward", "reverse"):
                run(store, FORWARD if op[0] == "forward" else REVERSE, die_at=op[1])
            else:
                apply(op, crm, erp)
        for document in (FORWARD, REVERSE, FORWARD):  # the final runs, nothing dies
            run(store, document)
        assert_converged(crm, erp, twice_before)
    finally:
        store.close()
