#!/usr/bin/env bash
# Installs Flowbridge in a virtualenv, creates the demo (SQLite CRM and ERP, connections, example
# flows) in ./demo with the store in ./flowbridge.db, and runs the example flows once.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/flowbridge demo init --dir demo
for flow in crm_accounts_to_erp_customers crm_won_deals_to_erp_orders erp_invoices_to_crm erp_stock_to_crm_products; do
    .venv/bin/flowbridge run "$flow" --env sandbox || true
done
