"""The demo CRM/ERP generator on real SQLite files: size, dirt, consistency, determinism."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from app.sandbox.catalogue import product_catalogue
from app.sandbox.crm_data import create_crm_database
from app.sandbox.demo_clock import BASE_TIME
from app.sandbox.demo_databases import create_demo_databases
from app.sandbox.demo_schemas import CRM_SCHEMA, CRM_TRIGGERS, ERP_SCHEMA, ERP_TRIGGERS
from app.sandbox.demo_vocabulary import US_STATES
from app.sandbox.erp_data import create_erp_database

BASE_DAY = BASE_TIME.strftime("%Y-%m-%d")
REQUIRED_STATES = ["CA", "NY", "TX", "WA", "IL", "FL", "MA", "CO", "GA", "OR"]


def net(quantity: int, unit_price: float, discount_pct: float) -> float:
    return quantity * unit_price * (1 - discount_pct / 100)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("demo")
    crm, erp = folder / "crm.db", folder / "erp.db"
    create_demo_databases(crm, erp, seed=7)
    return crm, erp


@pytest.fixture(scope="module")
def crm(demo):
    conn = sqlite3.connect(demo[0])
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def erp(demo):
    conn = sqlite3.connect(demo[1])
    yield conn
    conn.close()


def scalar(conn: sqlite3.Connection, sql: str, *args):
    return conn.execute(sql, args).fetchone()[0]


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# --- CRM: volume and clean parts -----------------------------------------------------------------


def test_crm_has_accounts_with_one_to_three_contacts(crm):
    assert scalar(crm, "SELECT count(*) FROM accounts") == 600
    assert scalar(crm, "SELECT count(DISTINCT account_id) FROM contacts") >= 500
    per_account = crm.execute("SELECT count(*) FROM contacts GROUP BY account_id").fetchall()
    assert {n for (n,) in per_account} == {1, 2, 3}


def test_every_account_has_a_name_and_valid_timestamps(crm):
    assert scalar(crm, "SELECT count(*) FROM accounts WHERE name IS NULL OR trim(name) = ''") == 0
    rows = crm.execute("SELECT created_at, updated_at FROM accounts").fetchall()
    for created, updated in rows:
        assert len(created) == len(updated) == 19 and created[10] == " "
        assert created < updated <= BASE_TIME.strftime("%Y-%m-%d %H:%M:%S")


def test_crm_invoices_start_empty(crm):
    assert scalar(crm, "SELECT count(*) FROM invoices") == 0


# --- CRM: the dirt -------------------------------------------------------------------------------


def test_states_are_spelled_many_ways(crm):
    spellings = {s for (s,) in crm.execute("SELECT DISTINCT state FROM accounts")}
    for code in REQUIRED_STATES:
        full = US_STATES[code]
        for spelling in (code, code.lower(), full, f" {full} ", full.upper()):
            assert spelling in spellings, spelling
    # ...but every spelling still means one of the published states.
    known = {c.lower() for c in US_STATES} | {f.lower() for f in US_STATES.values()}
    assert {s.strip().lower() for s in spellings} <= known


def test_some_names_have_surrounding_spaces(crm):
    padded = scalar(crm, "SELECT count(*) FROM accounts WHERE name <> trim(name)")
    assert 0.05 * 600 <= padded <= 0.16 * 600


def test_emails_are_messy(crm):
    missing = scalar(crm, "SELECT count(*) FROM accounts WHERE email IS NULL")
    assert 0.04 * 600 <= missing <= 0.12 * 600
    assert scalar(crm, "SELECT count(*) FROM accounts WHERE email = ''") >= 1
    assert scalar(crm, "SELECT count(*) FROM accounts WHERE email <> lower(email)") >= 10
    assert scalar(crm, "SELECT count(*) FROM accounts WHERE email <> trim(email)") >= 10


def test_duplicate_accounts_differ_only_in_email_case_or_spaces(crm):
    groups = defaultdict(list)
    for acc_id, name, email in crm.execute(
        "SELECT id, name, email FROM accounts WHERE trim(coalesce(email, '')) <> '' ORDER BY id"
    ):
        groups[email.strip().lower()].append((acc_id, name, email))
    duplicates = [rows for rows in groups.values() if len(rows) > 1]
    assert 0.02 * 600 <= sum(len(rows) - 1 for rows in duplicates) <= 0.08 * 600
    for rows in duplicates:
        assert len({name.strip().lower() for _, name, _ in rows}) == 1
        first_email = rows[0][2]  # the original: each later copy spells its e-mail differently
        assert all(email != first_email for _, _, email in rows[1:])


def test_credit_statuses_and_inactive_accounts(crm):
    counts = dict(crm.execute("SELECT credit_status, count(*) FROM accounts GROUP BY 1"))
    assert set(counts) == {"approved", "pending", "rejected"}
    assert 0.5 < counts["approved"] / 600 < 0.7
    assert 0.17 < counts["pending"] / 600 < 0.33
    assert 0.08 < counts["rejected"] / 600 < 0.22
    assert 1 <= scalar(crm, "SELECT count(*) FROM accounts WHERE is_active = 0") <= 40


# --- CRM: opportunities and products -------------------------------------------------------------


def test_opportunity_amount_is_the_sum_of_its_lines(crm):
    lines = defaultdict(list)
    for opp_id, line_no, qty, price, discount in crm.execute(
        "SELECT opportunity_id, line_no, quantity, unit_price, discount_pct "
        "FROM opportunity_lines ORDER BY opportunity_id, line_no"
    ):
        lines[opp_id].append((line_no, qty, price, discount))
    opportunities = crm.execute("SELECT id, stage, amount FROM opportunities").fetchall()
    assert 450 <= len(opportunities) <= 800
    for opp_id, _stage, amount in opportunities:
        opp_lines = lines[opp_id]
        assert 1 <= len(opp_lines) <= 5
        assert [line[0] for line in opp_lines] == list(range(1, len(opp_lines) + 1))
        assert amount == round(sum(net(q, p, d) for _, q, p, d in opp_lines), 2)
    amounts = sorted(amount for _, _, amount in opportunities)
    assert amounts[0] < 400 and amounts[-1] > 25_000 and amounts[-1] < 60_000


def test_opportunity_stages_lines_discounts_and_taxes(crm):
    stages = dict(crm.execute("SELECT stage, count(*) FROM opportunities GROUP BY 1"))
    total = sum(stages.values())
    assert 0.28 < stages["won"] / total < 0.42
    assert 0.18 < stages["lost"] / total < 0.32
    for stage in ("won", "lost"):
        assert (
            scalar(
                crm,
                "SELECT count(DISTINCT o.id) FROM opportunities o "
                "JOIN opportunity_lines l ON l.opportunity_id = o.id "
                "WHERE o.stage = ?",
                stage,
            )
            == stages[stage]
        )
    discounts = {d for (d,) in crm.execute("SELECT DISTINCT discount_pct FROM opportunity_lines")}
    assert discounts == {0.0, 5.0, 10.0, 12.5}
    taxes = {t for (t,) in crm.execute("SELECT DISTINCT tax_pct FROM opportunity_lines")}
    assert {0.0, 7.25, 8.875} <= taxes
    # Won and lost deals closed in the past, open ones close in the future.
    assert scalar(crm, "SELECT max(close_date) FROM opportunities WHERE stage <> 'open'") < BASE_DAY
    assert scalar(crm, "SELECT min(close_date) FROM opportunities WHERE stage = 'open'") > BASE_DAY


def test_opportunity_lines_use_the_erp_catalogue(crm, erp):
    erp_products = {
        sku: (name, price)
        for sku, name, price in erp.execute("SELECT sku, name, unit_price FROM products WHERE is_active = 1")
    }
    for sku, description, price in crm.execute("SELECT sku, description, unit_price FROM opportunity_lines"):
        assert erp_products[sku] == (description, price)


def test_crm_products_are_a_stale_third_of_the_active_catalogue(crm, erp):
    active = scalar(erp, "SELECT count(*) FROM products WHERE is_active = 1")
    crm_products = crm.execute("SELECT sku, name, list_price, stock_on_hand FROM products").fetchall()
    assert abs(len(crm_products) - active / 3) <= 2
    for sku, name, price, stock in crm_products:
        erp_name, erp_price, erp_active, erp_stock = erp.execute(
            "SELECT p.name, p.unit_price, p.is_active, sum(s.quantity) FROM products p "
            "JOIN stock_levels s ON s.product_id = p.id WHERE p.sku = ? GROUP BY p.id",
            (sku,),
        ).fetchone()
        assert (name, price, erp_active) == (erp_name, erp_price, 1)
        assert stock != erp_stock


# --- ERP -----------------------------------------------------------------------------------------


def test_erp_customers_mirror_a_quarter_of_approved_accounts(crm, erp):
    approved = scalar(crm, "SELECT count(*) FROM accounts WHERE credit_status = 'approved'")
    rows = erp.execute(
        "SELECT customer_number, crm_id, name, email, street, state, credit_limit, "
        "payment_terms FROM customers ORDER BY customer_number"
    ).fetchall()
    assert rows[0][0] == 10001
    assert [r[0] for r in rows] == list(range(10001, 10001 + len(rows)))
    synced = [r for r in rows if r[1] is not None]
    assert 0.18 * approved <= len(synced) <= 0.32 * approved
    assert 35 <= len(rows) - len(synced) <= 45
    moved = 0
    for _number, crm_id, name, email, street, state, limit, terms in rows:
        assert name == name.strip() and name
        assert state in US_STATES.values()
        assert email is None or email == email.strip().lower()
        assert limit > 0 and terms in {"NET30", "NET45", "NET60", "PREPAID"}
        if crm_id is None:
            continue
        account = crm.execute(
            "SELECT name, email, street, state, credit_status FROM accounts WHERE id = ?", (crm_id,)
        ).fetchone()
        assert account[4] == "approved"
        assert name == account[0].strip()
        assert email == ((account[1] or "").strip().lower() or None)
        code = next(c for c, full in US_STATES.items() if full == state)
        assert account[3].strip().lower() in {code.lower(), state.lower()}
        moved += street != account[2]
    assert 2 <= moved <= 0.15 * len(synced)  # a few outdated addresses


def test_erp_products_and_stock(erp):
    products = erp.execute("SELECT id, sku, is_active FROM products ORDER BY id").fetchall()
    assert len(products) == 60
    assert [sku for _, sku, _ in products] == [f"SKU-{1001 + i}" for i in range(60)]
    assert sum(1 for *_, active in products if not active) == 10
    per_product = erp.execute("SELECT product_id, count(*) FROM stock_levels GROUP BY 1").fetchall()
    assert len(per_product) == 60 and {n for _, n in per_product} <= {1, 2, 3}
    assert {w for (w,) in erp.execute("SELECT DISTINCT warehouse FROM stock_levels")} == {"EAST", "WEST", "CENTRAL"}
    assert scalar(erp, "SELECT count(*) FROM stock_levels WHERE quantity = 0") >= 5
    assert scalar(erp, "SELECT count(*) FROM stock_levels WHERE quantity > 0") >= 60


def test_catalogue_matches_the_erp_products(erp):
    catalogue = product_catalogue()
    rows = erp.execute("SELECT sku, name, unit_price, is_active FROM products ORDER BY id").fetchall()
    assert rows == [(p["sku"], p["name"], p["unit_price"], p["is_active"]) for p in catalogue]


def test_erp_orders_have_lines_and_consistent_totals(erp):
    orders = erp.execute(
        "SELECT o.order_number, o.crm_opportunity_id, c.crm_id, o.net_total, "
        "o.tax_total, o.gross_total FROM sales_orders o JOIN customers c "
        "USING (customer_number) ORDER BY o.order_number"
    ).fetchall()
    assert len(orders) == 30 and orders[0][0] == 500001
    for number, opp_id, crm_id, net_total, tax_total, gross_total in orders:
        assert opp_id is None and crm_id is None
        lines = erp.execute(
            "SELECT line_no, quantity, unit_price, discount_pct, tax_pct, "
            "line_total, crm_line_id FROM sales_order_lines "
            "WHERE order_number = ? ORDER BY line_no",
            (number,),
        ).fetchall()
        assert [line[0] for line in lines] == list(range(1, len(lines) + 1)) and lines
        for _, qty, price, discount, _tax, line_total, crm_line_id in lines:
            assert line_total == round(net(qty, price, discount), 2) and crm_line_id is None
        assert net_total == round(sum(line[5] for line in lines), 2)
        assert abs(tax_total - sum(line[5] * line[4] / 100 for line in lines)) < 0.006
        assert gross_total == round(net_total + tax_total, 2)


def test_erp_invoices_and_payments(erp):
    invoices = erp.execute(
        "SELECT i.invoice_number, c.crm_id, i.order_number, i.issued_on, i.due_on, i.total, "
        "coalesce(sum(p.amount), 0), count(p.id), max(p.paid_on) FROM invoices i "
        "JOIN customers c USING (customer_number) LEFT JOIN payments p USING (invoice_number) "
        "GROUP BY i.invoice_number ORDER BY i.invoice_number"
    ).fetchall()
    assert len(invoices) == 200
    assert [i[0] for i in invoices] == [f"INV-2026-{n:05d}" for n in range(1, 201)]
    with_crm = sum(1 for i in invoices if i[1] is not None)
    assert 150 <= with_crm < 200  # mostly CRM-linked customers, some ERP-only
    assert any(i[2] is not None for i in invoices)  # some bill an ERP order
    states = defaultdict(int)
    for _number, _crm_id, _order, issued, due, total, paid, n_payments, last_paid in invoices:
        assert issued <= due and issued < BASE_DAY and total > 0
        assert paid <= total + 0.005
        if n_payments == 0:
            states["overdue" if due < BASE_DAY else "unpaid, not due"] += 1
        elif abs(paid - total) < 0.005:
            states["paid"] += 1
            assert n_payments in (1, 2) and issued <= last_paid <= BASE_DAY
        else:
            states["partly"] += 1
    assert states["paid"] >= 60 and states["partly"] >= 20 and states["overdue"] >= 20
    assert states["unpaid, not due"] >= 1
    # Invoices for ERP orders bill exactly the order's gross total.
    assert (
        scalar(
            erp,
            "SELECT count(*) FROM invoices i JOIN sales_orders o USING (order_number) WHERE i.total <> o.gross_total",
        )
        == 0
    )


# --- Integrity, determinism, file handling -------------------------------------------------------


def test_foreign_keys_are_valid(crm, erp):
    assert crm.execute("PRAGMA foreign_key_check").fetchall() == []
    assert erp.execute("PRAGMA foreign_key_check").fetchall() == []
    assert crm.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert erp.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_files_are_ordinary_databases(demo):
    for path in demo:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        conn.close()
        assert sorted(p.name for p in path.parent.iterdir()) == ["crm.db", "erp.db"]


def test_same_seed_same_content_and_other_seed_differs(demo, tmp_path):
    create_demo_databases(tmp_path / "crm.db", tmp_path / "erp.db", seed=7)
    assert dump(tmp_path / "crm.db") == dump(demo[0])
    assert dump(tmp_path / "erp.db") == dump(demo[1])
    create_demo_databases(tmp_path / "crm8.db", tmp_path / "erp8.db", seed=8)
    assert dump(tmp_path / "crm8.db") != dump(demo[0])
    assert dump(tmp_path / "erp8.db") != dump(demo[1])


def test_existing_file_is_overwritten(demo, tmp_path):
    path = tmp_path / "crm.db"
    path.write_bytes(b"not a database")
    create_crm_database(path, seed=3, accounts=50)
    create_crm_database(path, seed=7)
    assert dump(path) == dump(demo[0])


def test_without_related_only_accounts_and_products(demo, tmp_path):
    path = tmp_path / "crm.db"
    create_crm_database(path, seed=7, with_related=False)
    conn, full = sqlite3.connect(path), sqlite3.connect(demo[0])
    try:
        for table in ("contacts", "opportunities", "opportunity_lines", "invoices"):
            assert scalar(conn, f"SELECT count(*) FROM {table}") == 0
        # Accounts and products do not depend on whether related rows were generated.
        for table in ("accounts", "products"):
            sql = f"SELECT * FROM {table} ORDER BY 1"
            assert conn.execute(sql).fetchall() == full.execute(sql).fetchall()
    finally:
        conn.close()
        full.close()


@pytest.mark.parametrize("accounts", [0, 5, 60])
def test_small_databases_are_consistent(tmp_path, accounts):
    crm_path, erp_path = tmp_path / "crm.db", tmp_path / "erp.db"
    create_crm_database(crm_path, seed=11, accounts=accounts)
    create_erp_database(erp_path, crm_path=crm_path, seed=11)
    for path in (crm_path, erp_path):
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.close()
    erp = sqlite3.connect(erp_path)
    assert scalar(erp, "SELECT count(*) FROM invoices") == 200
    erp.close()


def test_schema_strings_match_the_generated_files(demo):
    for schema, triggers, path in ((CRM_SCHEMA, CRM_TRIGGERS, demo[0]), (ERP_SCHEMA, ERP_TRIGGERS, demo[1])):
        empty = sqlite3.connect(":memory:")
        empty.executescript(schema)
        empty.executescript(triggers)
        generated = sqlite3.connect(path)
        query = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        assert empty.execute(query).fetchall() == generated.execute(query).fetchall()
        empty.close()
        generated.close()


def test_both_systems_stamp_updated_at_when_a_row_changes(demo):
    for path, table, key in ((demo[0], "accounts", "id"), (demo[1], "customers", "customer_number")):
        with sqlite3.connect(path) as db:
            before = db.execute(f"SELECT {key}, updated_at FROM {table} LIMIT 1").fetchone()
            db.execute(f"UPDATE {table} SET name = name || ' X' WHERE {key} = ?", (before[0],))
            after = db.execute(f"SELECT updated_at FROM {table} WHERE {key} = ?", (before[0],)).fetchone()[0]
        assert after > before[1]
