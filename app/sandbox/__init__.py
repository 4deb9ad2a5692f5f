"""Sandbox: demo CRM and ERP databases to try flows against.

The demo databases (SQLite files, deterministic for a seed):
- demo_databases: create_demo_databases, both at once (the ERP is derived from the CRM).
- crm_data / crm_accounts: the CRM file; its accounts, deliberately dirty, on their own.
- erp_data / erp_sales: the ERP file; its orders, invoices and payments.
- demo_schemas: the CRM's and ERP's tables, indexes and updated_at triggers.
- catalogue: the product catalogue both share, and picking products for a deal.
- demo_vocabulary, contact_details: the words, places and figures the data is made of.
- demo_clock: the fixed "now" all times are relative to. database_file: writing a file atomically.

The same databases as REST services:
- http_data: the resources each system serves, over its file. http_api: the FastAPI apps.
- http_serve: running them in background threads or in the foreground.
"""
