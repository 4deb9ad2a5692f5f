"""The demo CRM and ERP made together, as `flowbridge demo init` and the HTTP sandboxes use them."""

from __future__ import annotations

from pathlib import Path

from app.sandbox.crm_data import create_crm_database
from app.sandbox.erp_data import create_erp_database


def create_demo_databases(crm_path: Path, erp_path: Path, *, seed: int = 7, accounts: int = 600) -> None:
    """Write both demo databases; the ERP is derived from the CRM just written."""
    create_crm_database(crm_path, seed=seed, accounts=accounts)
    create_erp_database(erp_path, crm_path=crm_path, seed=seed)
