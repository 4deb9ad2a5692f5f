"""The demo ERP's sales: orders entered in the ERP directly, and invoices with their payments."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime
from typing import Any

from app.sandbox.catalogue import Product, pick_lines
from app.sandbox.demo_clock import BASE_S, BASE_TIME, DAY, Clock
from app.sandbox.demo_vocabulary import TAX_RATES, TERMS_DAYS

# A customer row by column name, plus "code" (its state code); see erp_data.
Customer = dict[str, Any]
# An order: "order_number", "customer", "status", "order_s" (order time in seconds) and "gross".
Order = dict[str, Any]


def insert_orders(
    conn: sqlite3.Connection, rng: random.Random, customers: list[Customer], catalogue: list[Product], clock: Clock
) -> list[Order]:
    """~30 orders for ERP-only customers (entered in the ERP directly, so no CRM opportunity)."""
    r = rng.random
    erp_only = [c for c in customers if c["crm_id"] is None and c["is_active"]]
    active = sorted((p for p in catalogue if p["is_active"]), key=lambda p: p["unit_price"])
    statuses = ["open"] * 3 + ["shipped"] * 2 + ["invoiced"] * 5
    drafts = []
    for _ in range(30):
        customer = erp_only[int(r() * len(erp_only))]
        order_s = BASE_S - (1 + int(r() * 200)) * DAY - int(r() * 8 * 3600)
        drafts.append((order_s, customer))
    drafts.sort(key=lambda d: (d[0], d[1]["customer_number"]))  # numbers follow order dates
    orders: list[Order] = []
    order_rows: list[tuple[Any, ...]] = []
    line_rows: list[tuple[Any, ...]] = []
    for order_number, (order_s, customer) in enumerate(drafts, 500_001):
        net = tax_total = 0.0
        target = 300 * 100 ** r()  # log-uniform, 300 to 30,000
        picks = pick_lines(rng, target, rng.randint(1, 4), active)
        for line_no, (product, qty) in enumerate(picks, 1):
            discount = [0.0, 0.0, 0.0, 5.0, 10.0][int(r() * 5)]
            tax = TAX_RATES[customer["code"]] if product["taxable"] else 0.0
            line_total = round(qty * product["unit_price"] * (1 - discount / 100), 2)
            net += line_total
            tax_total += line_total * tax / 100
            line_rows.append(
                (
                    order_number,
                    line_no,
                    None,
                    product["sku"],
                    product["name"],
                    qty,
                    product["unit_price"],
                    discount,
                    tax,
                    line_total,
                )
            )
        net, tax_total = round(net, 2), round(tax_total, 2)
        status = statuses[int(r() * len(statuses))]
        gross = round(net + tax_total, 2)
        updated = min(order_s + int(r() * 10 * DAY), BASE_S)
        order_rows.append(
            (
                order_number,
                customer["customer_number"],
                None,
                clock.day(order_s),
                "USD",
                status,
                net,
                tax_total,
                gross,
                clock.ts(updated),
            )
        )
        orders.append(
            {"order_number": order_number, "customer": customer, "status": status, "order_s": order_s, "gross": gross}
        )
    conn.executemany("INSERT INTO sales_orders VALUES (?,?,?,?,?,?,?,?,?,?)", order_rows)
    conn.executemany(
        "INSERT INTO sales_order_lines (order_number, line_no, crm_line_id, sku, "
        "description, quantity, unit_price, discount_pct, tax_pct, line_total) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        line_rows,
    )
    return orders


def insert_invoices(
    conn: sqlite3.Connection, rng: random.Random, customers: list[Customer], orders: list[Order], clock: Clock
) -> None:
    """~200 invoices, mostly for CRM-linked customers; each paid, partly paid or unpaid."""
    r = rng.random
    linked = [c for c in customers if c["crm_id"] is not None]
    erp_only = [c for c in customers if c["crm_id"] is None]
    # Issued during 2026 (the numbering year), up to the day before BASE_TIME.
    year_start = BASE_S - (BASE_TIME - datetime(BASE_TIME.year, 1, 1)).days * DAY
    invoices: list[tuple[int, Customer, int | None, float]] = []  # (issued seconds, customer, order, total)
    for order in orders:
        if order["status"] == "invoiced":
            issued = min(order["order_s"] + int(r() * 5 * DAY), BASE_S - DAY)
            invoices.append((issued, order["customer"], order["order_number"], order["gross"]))
    # The rest have no order: ERP-only customers until there are 30 invoices, then CRM-linked ones.
    billed: list[Customer] = []
    while len(invoices) + len(billed) < 30:
        billed.append(erp_only[int(r() * len(erp_only))])
    while len(invoices) + len(billed) < 200:
        billed.append((linked or erp_only)[int(r() * len(linked or erp_only))])
    for customer in billed:
        issued = year_start + int(r() * (BASE_S - DAY - year_start))
        invoices.append((issued, customer, None, round(150 * 250 ** r(), 2)))
    invoices.sort(key=lambda inv: (inv[0], inv[1]["customer_number"]))

    methods = ["ACH", "ACH", "WIRE", "CHECK", "CARD"]
    invoice_rows: list[tuple[Any, ...]] = []
    payment_rows: list[tuple[Any, ...]] = []
    for index, (issued, customer, order_number, total) in enumerate(invoices, 1):
        number = f"INV-{BASE_TIME.year}-{index:05d}"
        due = issued + TERMS_DAYS[customer["payment_terms"]] * DAY
        x = r()
        if x < 0.5:  # paid in full, in one or two instalments that sum exactly to the total
            first = round(total * (0.3 + 0.4 * r()), 2) if r() < 0.3 else total
            amounts = [first] if first == total else [first, round(total - first, 2)]
        elif x < 0.7:  # partly paid
            amounts = [round(total * (0.2 + 0.6 * r()), 2)]
        else:  # unpaid: overdue when its due date has passed BASE_TIME
            amounts = []
        paid_s = issued
        for amount in amounts:
            paid_s = min(paid_s + int(r() * (TERMS_DAYS[customer["payment_terms"]] + 20) * DAY), BASE_S)
            payment_rows.append((number, clock.day(paid_s), amount, methods[int(r() * len(methods))]))
        invoice_rows.append(
            (
                number,
                customer["customer_number"],
                order_number,
                clock.day(issued),
                clock.day(due),
                total,
                "USD",
                clock.ts(paid_s),
            )
        )
    conn.executemany("INSERT INTO invoices VALUES (?,?,?,?,?,?,?,?)", invoice_rows)
    conn.executemany("INSERT INTO payments (invoice_number, paid_on, amount, method) VALUES (?,?,?,?)", payment_rows)
