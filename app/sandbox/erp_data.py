"""Builds the demo ERP as a SQLite file from a demo CRM file: the whole catalogue with stock per
warehouse, customers as a previous sync left them, and orders and invoices (see erp_sales)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

from app.sandbox.catalogue import Product, product_catalogue
from app.sandbox.contact_details import random_phone, random_street
from app.sandbox.database_file import building_database
from app.sandbox.demo_clock import BASE_S, DAY, Clock, shared_clock
from app.sandbox.demo_schemas import ERP_SCHEMA, ERP_TRIGGERS
from app.sandbox.demo_vocabulary import CITIES, LAST_NAMES, PREFIXES, STATE_BY_TEXT, STATE_POOL, US_STATES, WAREHOUSES
from app.sandbox.erp_sales import Customer, insert_invoices, insert_orders

_CUSTOMER_COLUMNS = [
    "customer_number",
    "crm_id",
    "name",
    "email",
    "phone",
    "street",
    "city",
    "state",
    "postcode",
    "country",
    "credit_limit",
    "payment_terms",
    "is_active",
    "updated_at",
]


def create_erp_database(path: Path, *, crm_path: Path, seed: int = 7) -> None:
    """Write the demo ERP to `path` (replacing it). Reads the CRM at `crm_path` so that ~25% of
    its credit-approved accounts already exist as customers, as a previous sync left them."""
    path = Path(path)
    clock = shared_clock()
    crm = sqlite3.connect(Path(crm_path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        approved = crm.execute(
            "SELECT id, name, email, phone, street, city, state, postcode, country, is_active, "
            "created_at, updated_at FROM accounts WHERE credit_status = 'approved' ORDER BY id"
        ).fetchall()
        crm_stock = dict(crm.execute("SELECT sku, stock_on_hand FROM products"))
    finally:
        crm.close()

    with building_database(path) as conn:
        conn.executescript(ERP_SCHEMA)
        catalogue = product_catalogue()
        _insert_products(conn, random.Random(f"{seed}:erp-products"), catalogue, crm_stock, clock)
        customers = _insert_customers(conn, random.Random(f"{seed}:erp-customers"), approved, clock)
        orders = insert_orders(conn, random.Random(f"{seed}:erp-orders"), customers, catalogue, clock)
        insert_invoices(conn, random.Random(f"{seed}:erp-invoices"), customers, orders, clock)
        conn.executescript(ERP_TRIGGERS)


def _insert_products(
    conn: sqlite3.Connection, rng: random.Random, catalogue: list[Product], crm_stock: dict[str, int], clock: Clock
) -> None:
    products = []
    stock: list[tuple[int, str, int]] = []
    for product_id, product in enumerate(catalogue, 1):
        updated = BASE_S - rng.randint(1, 500) * DAY - rng.randint(0, DAY - 1)
        products.append(
            (
                product_id,
                product["sku"],
                product["name"],
                product["unit_price"],
                product["is_active"],
                clock.ts(updated),
            )
        )
        warehouses = sorted(rng.sample(WAREHOUSES, rng.randint(1, 3)), key=WAREHOUSES.index)
        quantities = []
        for _ in warehouses:
            # Inactive products are run down to zero; some active ones are out of stock too.
            empty = rng.random() < (0.8 if not product["is_active"] else 0.15)
            quantities.append(0 if empty else rng.randint(1, 400))
        # The CRM's copy must be stale: never equal to the ERP's real total.
        if sum(quantities) == crm_stock.get(product["sku"], -1):
            quantities[0] += 7
        stock.extend((product_id, warehouse, quantity) for warehouse, quantity in zip(warehouses, quantities))
    conn.executemany("INSERT INTO products VALUES (?,?,?,?,?,?)", products)
    conn.executemany("INSERT INTO stock_levels (product_id, warehouse, quantity) VALUES (?,?,?)", stock)


def _insert_customers(
    conn: sqlite3.Connection, rng: random.Random, approved: list[tuple[Any, ...]], clock: Clock
) -> list[Customer]:
    """~25% of approved CRM accounts as a previous sync left them, plus ~40 ERP-only customers."""
    r = rng.random
    terms = ["NET30"] * 5 + ["NET45"] * 2 + ["NET60"] * 2 + ["PREPAID"]
    limits = [5_000.0, 10_000.0, 15_000.0, 25_000.0, 50_000.0, 100_000.0]
    synced = [row for row in approved if r() < 0.25]
    # A few synced customers still carry the address from before the CRM was last edited.
    outdated = set(rng.sample(range(len(synced)), max(min(2, len(synced)), len(synced) // 16)))
    customers: list[Customer] = []
    for index, (
        crm_id,
        name,
        email,
        phone,
        street,
        city,
        state,
        postcode,
        country,
        active,
        created_at,
        updated_at,
    ) in enumerate(synced):
        code = STATE_BY_TEXT[state.strip().lower()]
        email = (email or "").strip().lower() or None
        updated = updated_at
        if index in outdated:
            street = random_street(r)
            postcode = postcode[:3] + f"{int(r() * 100):02d}"
            created_s, updated_s = clock.seconds(created_at), clock.seconds(updated_at)
            updated = clock.ts(created_s + int(r() * (updated_s - created_s)))
        customers.append(
            {
                "crm_id": crm_id,
                "name": name.strip(),
                "email": email,
                "phone": phone,
                "street": street,
                "city": city,
                "state": US_STATES[code],
                "postcode": postcode,
                "country": country,
                "credit_limit": limits[int(r() * len(limits))],
                "payment_terms": terms[int(r() * len(terms))],
                "is_active": active,
                "updated_at": updated,
                "code": code,
            }
        )
    surnames = rng.sample(LAST_NAMES, 30) + rng.sample(PREFIXES, 10)
    kinds = ["Hardware", "Supply Co", "Industrial", "& Sons", "Equipment", "Wholesale", "Trading Co", "Mechanical"]
    for index, surname in enumerate(surnames):
        code = STATE_POOL[int(r() * len(STATE_POOL))]
        city, area, zip3 = CITIES[code][int(r() * len(CITIES[code]))]
        kind = kinds[int(r() * len(kinds))]
        slug = "".join(ch for ch in f"{surname}{kind}".lower() if ch.isalnum())
        customers.append(
            {
                "crm_id": None,
                "name": f"{surname} {kind}",
                "email": f"ap@{slug}.com" if r() < 0.85 else None,
                "phone": random_phone(r, area),
                "street": random_street(r),
                "city": city,
                "state": US_STATES[code],
                "postcode": f"{zip3}{int(r() * 100):02d}",
                "country": "US",
                "credit_limit": limits[int(r() * len(limits))],
                "payment_terms": terms[int(r() * len(terms))],
                "is_active": 0 if index % 17 == 16 else 1,
                "updated_at": clock.ts(BASE_S - int(r() * 700 * DAY)),
                "code": code,
            }
        )
    # Customer numbers were handed out over time, not in CRM order.
    rng.shuffle(customers)
    for number, customer in enumerate(customers, 10_001):
        customer["customer_number"] = number
    conn.executemany(
        f"INSERT INTO customers ({', '.join(_CUSTOMER_COLUMNS)}) VALUES ({', '.join('?' * len(_CUSTOMER_COLUMNS))})",
        [tuple(c[k] for k in _CUSTOMER_COLUMNS) for c in customers],
    )
    return customers
