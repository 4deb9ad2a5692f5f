"""`flowbridge demo init`: demo CRM and ERP databases, their connections, and the example flows."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.sandbox.demo_databases import create_demo_databases
from app.sandbox.http_api import DEFAULT_CRM_PORT, DEFAULT_ERP_PORT, DEFAULT_TOKEN
from app.sandbox.http_serve import serve_forever
from app.services.flows import example_flow_files, import_flow_file
from app.store.connections import ENVIRONMENTS, set_connection
from app.store.database import Store


def init_demo(
    store: Store, folder: Path, *, accounts: int = 600, made_before: tuple[Path, Path] | None = None
) -> list[str]:
    """Create (or re-create) the demo; returns what was done, a line each. `made_before`: CRM and
    ERP databases generated earlier, copied instead of generated again (the test suite makes them once)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    report = []
    sandbox_crm, sandbox_erp = folder / "crm_sandbox.db", folder / "erp_sandbox.db"
    if made_before is not None:
        for made, path in zip(made_before, (sandbox_crm, sandbox_erp)):
            shutil.copyfile(made, path)
    else:
        create_demo_databases(sandbox_crm, sandbox_erp, accounts=accounts)
    for env in ENVIRONMENTS:
        for system, seeded in (("crm", sandbox_crm), ("erp", sandbox_erp)):
            path = folder / f"{system}_{env}.db"
            if path != seeded:
                shutil.copyfile(seeded, path)  # each environment gets its own copy
            set_connection(store, system, env, "sql", {"url": f"sqlite:///{path}"})
            report.append(f"connection {system} ({env}) -> {path}")
        for system, port in (("crm", DEFAULT_CRM_PORT), ("erp", DEFAULT_ERP_PORT)):
            # The HTTP sandboxes (`flowbridge sandbox serve`); the demo has no other API to offer.
            url = f"http://127.0.0.1:{port}"
            set_connection(
                store, f"{system}_api", env, "http", {"base_url": url, "auth": "bearer", "token": DEFAULT_TOKEN}
            )
            report.append(f"connection {system}_api ({env}) -> {url} (start it with `flowbridge sandbox serve`)")
        files = folder / f"files_{env}"
        files.mkdir(exist_ok=True)
        set_connection(store, "files", env, "file", {"path": str(files)})
        report.append(f"connection files ({env}) -> {files}")
    for path in example_flow_files():
        flow_id, version = import_flow_file(store, path, author="demo", comment="example flow")
        report.append(f"flow {flow_id} version {version}")
    return report


# `flowbridge sandbox serve`: the demo CRM and ERP over HTTP until interrupted (the CLI asks the
# services, not the sandbox; the signature is the sandbox's own).
serve_sandbox = serve_forever
