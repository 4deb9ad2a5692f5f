"""Builds the demo CRM as a SQLite file, deterministic for a seed: accounts (see crm_accounts),
their contacts and opportunities with lines, and part of the product catalogue."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.sandbox.catalogue import pick_lines, product_catalogue
from app.sandbox.contact_details import random_phone
from app.sandbox.crm_accounts import ACCOUNT_COLUMNS, AccountInfo, account_rows
from app.sandbox.database_file import building_database
from app.sandbox.demo_clock import BASE_S, DAY, Clock, shared_clock
from app.sandbox.demo_schemas import CRM_INDEXES, CRM_TABLES, CRM_TRIGGERS
from app.sandbox.demo_vocabulary import CITIES, DEAL_KINDS, FIRST_NAMES, LAST_NAMES, TAX_RATES, TITLES


def create_crm_database(path: Path, *, seed: int = 7, accounts: int = 600, with_related: bool = True) -> None:
    """Write the demo CRM to `path` (replacing it): accounts, and unless `with_related` is False
    also contacts and opportunities with lines. Products are always seeded, invoices left empty."""
    path = Path(path)
    clock = shared_clock()
    with building_database(path) as conn:
        conn.executescript(CRM_TABLES)
        # One Random per table, so accounts come out the same with or without related rows.
        info: list[AccountInfo] | None = [] if with_related else None
        conn.executemany(
            f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            account_rows(random.Random(f"{seed}:accounts"), accounts, clock, info),
        )
        conn.executescript(CRM_INDEXES)
        conn.executescript(CRM_TRIGGERS)
        _insert_products(conn, random.Random(f"{seed}:products"), clock)
        if info is not None:
            conn.executemany(
                "INSERT INTO contacts VALUES (?,?,?,?,?,?,?,?)",
                _contact_rows(random.Random(f"{seed}:contacts"), info, clock),
            )
            _insert_opportunities(conn, random.Random(f"{seed}:opportunities"), info, clock)


def _contact_rows(rng: random.Random, info: list[AccountInfo], clock: Clock) -> Iterator[tuple[Any, ...]]:
    r = rng.random
    contact_id = 0
    for acc_id, code, created, _short, domain in info:
        x = r()
        n = 1 if x < 0.4 else 2 if x < 0.8 else 3
        for _ in range(n):
            contact_id += 1
            first = FIRST_NAMES[int(r() * len(FIRST_NAMES))]
            last = LAST_NAMES[int(r() * len(LAST_NAMES))]
            email = f"{first}.{last}@{domain}.com".lower() if r() < 0.9 else None
            cities = CITIES[code]
            phone = random_phone(r, cities[int(r() * len(cities))][1])
            title = TITLES[int(r() * len(TITLES))]
            updated = created + int(r() * (BASE_S - created))
            yield (contact_id, acc_id, first, last, email, phone, title, clock.ts(updated))


def _insert_products(conn: sqlite3.Connection, rng: random.Random, clock: Clock) -> None:
    """About a third of the active catalogue, with stock figures last refreshed months ago."""
    active = [p for p in product_catalogue() if p["is_active"]]
    chosen = sorted(rng.sample(active, round(len(active) / 3)), key=lambda p: p["sku"])
    rows = []
    for product in chosen:
        updated = BASE_S - (90 + rng.randint(0, 300)) * DAY - rng.randint(0, DAY - 1)
        rows.append((product["sku"], product["name"], product["unit_price"], rng.randint(0, 350), 1, clock.ts(updated)))
    conn.executemany(
        "INSERT INTO products (sku, name, list_price, stock_on_hand, is_active, updated_at) VALUES (?,?,?,?,?,?)", rows
    )


def _insert_opportunities(conn: sqlite3.Connection, rng: random.Random, info: list[AccountInfo], clock: Clock) -> None:
    r = rng.random
    active = sorted((p for p in product_catalogue() if p["is_active"]), key=lambda p: p["unit_price"])
    discounts = [0.0] * 11 + [5.0] * 4 + [10.0] * 3 + [12.5] * 2
    opps: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    line_id = 0
    for acc_id, code, created, short, _domain in info:
        x = r()
        n_opps = 0 if x < 0.3 else 1 if x < 0.72 else 2 if x < 0.92 else 3
        for _ in range(n_opps):
            opp_id = len(opps) + 1
            x = r()
            stage = "won" if x < 0.35 else "lost" if x < 0.60 else "open"
            if stage == "open":
                close = BASE_S + (5 + int(r() * 175)) * DAY
                updated = max(created, BASE_S - int(r() * 90 * DAY))
            else:
                # Closed in the past, but not before the account existed.
                close = max(BASE_S - (1 + int(r() * 400)) * DAY, created + 7 * DAY)
                close = min(close, BASE_S - DAY)
                updated = min(close + int(r() * 3 * DAY), BASE_S)
            # Log-uniform target between 200 and 50,000 so small and large deals both occur.
            target = 200 * 250 ** r()
            x = r()
            n_lines = 1 if x < 0.25 else 2 if x < 0.5 else 3 if x < 0.72 else 4 if x < 0.88 else 5
            amount = 0.0
            tax_rate = TAX_RATES[code]
            for line_no, (product, qty) in enumerate(pick_lines(rng, target, n_lines, active), 1):
                line_id += 1
                discount = discounts[int(r() * 20)]
                # Services are not taxed, and ~10% of customers are tax-exempt resellers.
                tax = tax_rate if product["taxable"] and r() >= 0.1 else 0.0
                price = product["unit_price"]
                amount += qty * price * (1 - discount / 100)
                lines.append((line_id, opp_id, line_no, product["sku"], product["name"], qty, price, discount, tax))
            kind = DEAL_KINDS[int(r() * len(DEAL_KINDS))]
            opps.append(
                (
                    opp_id,
                    acc_id,
                    f"{short} - {kind}",
                    stage,
                    round(amount, 2),
                    "USD",
                    clock.day(close),
                    clock.ts(updated),
                )
            )
    conn.executemany("INSERT INTO opportunities VALUES (?,?,?,?,?,?,?,?)", opps)
    conn.executemany("INSERT INTO opportunity_lines VALUES (?,?,?,?,?,?,?,?,?)", lines)
