"""The demo CRM's and ERP's SQL: tables, indexes and the triggers that stamp updated_at.

Kept to types and constraints PostgreSQL also understands, except AUTOINCREMENT. No ';' inside
comments so callers may split these strings on ';' (the triggers hold semicolons: kept apart).
"""

from __future__ import annotations

CRM_TABLES = """
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT,
    email TEXT NULL,
    phone TEXT,
    street TEXT,
    city TEXT,
    state TEXT,
    postcode TEXT,
    country TEXT,
    industry TEXT,
    credit_status TEXT NOT NULL CHECK (credit_status IN ('approved', 'pending', 'rejected')),
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    credit_limit DOUBLE PRECISION,
    payment_terms TEXT
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    title TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sku TEXT NOT NULL UNIQUE,
    name TEXT,
    list_price DOUBLE PRECISION,
    stock_on_hand INTEGER,
    is_active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT
);
CREATE TABLE opportunities (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT,
    stage TEXT NOT NULL CHECK (stage IN ('open', 'won', 'lost')),
    amount DOUBLE PRECISION NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    close_date TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE opportunity_lines (
    id INTEGER PRIMARY KEY,
    opportunity_id INTEGER NOT NULL REFERENCES opportunities(id),
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    description TEXT,
    quantity INTEGER NOT NULL,
    unit_price DOUBLE PRECISION NOT NULL,
    discount_pct DOUBLE PRECISION NOT NULL DEFAULT 0,
    tax_pct DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_number TEXT NOT NULL UNIQUE,
    account_id INTEGER REFERENCES accounts(id),
    issued_on TEXT,
    due_on TEXT,
    total DOUBLE PRECISION,
    amount_paid DOUBLE PRECISION,
    payment_status TEXT,
    updated_at TEXT
);
"""

# Like real systems, the demo's CRM and ERP stamp a row's updated_at whenever it changes (SQLite
# triggers; kept apart from the schemas because they hold semicolons).
_TOUCH = """
CREATE TRIGGER {table}_touch AFTER UPDATE ON {table} FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE {table} SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE {key} = NEW.{key};
END;
"""
CRM_TRIGGERS = _TOUCH.format(table="accounts", key="id")
ERP_TRIGGERS = _TOUCH.format(table="customers", key="customer_number")

# Indexes are separate so the generator can build them after the bulk insert (much faster).
CRM_INDEXES = """
CREATE INDEX ix_accounts_updated_at ON accounts (updated_at);
"""

CRM_SCHEMA = CRM_TABLES + CRM_INDEXES

ERP_SCHEMA = """
CREATE TABLE customers (
    customer_number INTEGER PRIMARY KEY AUTOINCREMENT,
    crm_id INTEGER UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    street TEXT,
    city TEXT,
    state TEXT,
    postcode TEXT,
    country TEXT,
    credit_limit DOUBLE PRECISION,
    payment_terms TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    unit_price DOUBLE PRECISION NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT
);
CREATE TABLE stock_levels (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id),
    warehouse TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    UNIQUE (product_id, warehouse)
);
CREATE TABLE sales_orders (
    order_number INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_number INTEGER NOT NULL REFERENCES customers(customer_number),
    crm_opportunity_id INTEGER UNIQUE,
    order_date TEXT,
    currency TEXT NOT NULL DEFAULT 'USD',
    status TEXT NOT NULL DEFAULT 'open',
    net_total DOUBLE PRECISION,
    tax_total DOUBLE PRECISION,
    gross_total DOUBLE PRECISION,
    updated_at TEXT
);
CREATE TABLE sales_order_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_number INTEGER NOT NULL REFERENCES sales_orders(order_number),
    line_no INTEGER NOT NULL,
    crm_line_id INTEGER UNIQUE,
    sku TEXT NOT NULL,
    description TEXT,
    quantity INTEGER NOT NULL,
    unit_price DOUBLE PRECISION NOT NULL,
    discount_pct DOUBLE PRECISION NOT NULL DEFAULT 0,
    tax_pct DOUBLE PRECISION NOT NULL DEFAULT 0,
    line_total DOUBLE PRECISION NOT NULL
);
CREATE TABLE invoices (
    invoice_number TEXT PRIMARY KEY,
    customer_number INTEGER NOT NULL REFERENCES customers(customer_number),
    order_number INTEGER REFERENCES sales_orders(order_number),
    issued_on TEXT,
    due_on TEXT,
    total DOUBLE PRECISION NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    updated_at TEXT
);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    invoice_number TEXT NOT NULL REFERENCES invoices(invoice_number),
    paid_on TEXT,
    amount DOUBLE PRECISION NOT NULL,
    method TEXT
);
"""
