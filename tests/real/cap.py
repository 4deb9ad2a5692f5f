"""SAP's Cloud Application Programming Model serving an OData v4 ERP (tests/real/cap_erp: sales
orders with their items) for the tests: @sap/cds 9 from npm (Node 20), on SQLite.

node_modules is kept in .real-systems/cap (installed once, about three minutes: better-sqlite3 is
compiled); each test session deploys the model into a folder of its own and serves it on a free
port. `stop()` and `start()` kill and restart the server on the same data (the crash test)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx

from tests.serving import comes_up

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(__file__).resolve().parent / "cap_erp"
MODULES = ROOT / ".real-systems" / "cap"
SERVICE = "/odata/v4/erp"


def sales_orders_write(batch_size: int, **more: object) -> dict[str, object]:
    """write.odata's config for the model's sales orders with their items, keyed by the CRM's ids."""
    return {
        "connection": "erp",
        "entity_set": "SalesOrders",
        "key": "crmDealId",
        "children": [{"field": "items", "key": "crmLineId"}],
        "batch_size": batch_size,
        **more,
    }


class CapUnavailable(Exception):
    """CAP could not be installed or started here; the message says why."""


def _run(command: list[str], what: str, cwd: Path, timeout: float) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise CapUnavailable(f"{what} failed: {(done.stderr or done.stdout).strip()[-1500:]}")


def _installed() -> Path:
    if shutil.which("npm") is None:
        raise CapUnavailable("npm is not installed (Node.js 20 and npm are needed for SAP CAP)")
    marker = MODULES / ".installed"
    if not marker.exists() or marker.read_text() != (MODEL / "package.json").read_text():
        MODULES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MODEL / "package.json", MODULES / "package.json")
        _run(["npm", "install", "--no-audit", "--no-fund"], "installing @sap/cds from npm", MODULES, 1200)
        # npm 11 skips install scripts: better-sqlite3 is built here with node-gyp and the system headers.
        _run(["npm", "rebuild", "better-sqlite3"], "building better-sqlite3", MODULES, 1200)
        marker.write_text((MODEL / "package.json").read_text())
    return MODULES / "node_modules"


class CapServer:
    """The OData ERP in `folder`: its URL, and the database file it keeps its rows in."""

    def __init__(self, folder: Path) -> None:
        modules = _installed()
        self.folder = folder
        shutil.copytree(MODEL, folder, dirs_exist_ok=True)
        if not (folder / "node_modules").exists():
            (folder / "node_modules").symlink_to(modules, target_is_directory=True)
        _run(["npx", "cds-deploy"], "deploying the CDS model", folder, 300)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SERVICE}"

    @property
    def database(self) -> Path:
        return self.folder / "db.sqlite"

    def start(self) -> None:
        log = (self.folder / "cds.log").open("a")
        self.process = subprocess.Popen(
            ["npx", "cds-serve", "--port", str(self.port)],
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not comes_up(
            lambda: httpx.get(f"{self.url}/$metadata", timeout=2).status_code == 200, self.process, timeout=120
        ):
            raise CapUnavailable(f"cds-serve did not start: {(self.folder / 'cds.log').read_text()[-1500:]}")

    def stop(self) -> None:
        """Kill the server (its whole process group: npx and node), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None
