"""The sandbox CRM and ERP REST APIs this process serves: start, stop, reset, faults.

`flowbridge serve --sandboxes DIR` starts them with the web app; the Sandbox page can start them
later, reset their data and switch faults on and off, so a tester can try a flow's error handling
without a terminal. One pair per process, on the ports the demo's crm_api and erp_api connections
name (8701, 8702).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import FlowbridgeError
from app.sandbox.http_data import SYSTEMS, ApiError
from app.sandbox.http_serve import RunningSandbox, start_sandboxes
from app.services import access

DEMO_PORTS = {"crm": 8701, "erp": 8702}
DEFAULT_FOLDER = Path("sandbox-data")

_lock = threading.Lock()
_running: RunningSandbox | None = None
_folder: Path | None = None


@dataclass(frozen=True)
class SandboxState:
    running: bool
    folder: str | None
    urls: dict[str, str]
    faults: dict[str, dict[str, Any]]  # per system: its settings and what it did ("counts")


def state() -> SandboxState:
    with _lock:
        if _running is None:
            return SandboxState(False, str(_folder) if _folder else None, {}, {})
        return SandboxState(
            True,
            str(_folder),
            {s: _running.url(s) for s in SYSTEMS},
            {s: _running.faults[s].as_dict() for s in SYSTEMS},
        )


def start(
    folder: Path | None = None, ports: dict[str, int] | None = None, *, who: access.Principal | None
) -> SandboxState:
    """Serve both systems (their data in `folder`, seeded the first time); `who` must be allowed to
    run in the sandbox."""
    global _running, _folder
    access.require(who, "run", "sandbox")
    ports = ports or DEMO_PORTS
    with _lock:
        if _running is None:
            target = Path(folder or _folder or DEFAULT_FOLDER)
            try:
                _running = start_sandboxes(target, crm_port=ports["crm"], erp_port=ports["erp"])
            except OSError as error:  # a port taken by another program, say
                raise FlowbridgeError(
                    f"could not start the sandbox APIs on ports {ports['crm']} and "
                    f"{ports['erp']}: {error.strerror or error}"
                ) from None
            _folder = target
    return state()


def stop(*, who: access.Principal | None) -> None:
    """Stop serving both systems (flows calling them fail until they start again)."""
    access.require(who, "run", "sandbox")
    shut_down()


def shut_down() -> None:
    """Stop them as the process ends (no one asks: the server itself is going)."""
    global _running
    with _lock:
        if _running is not None:
            _running.stop()
            _running = None


def reset(*, who: access.Principal | None) -> None:
    """The seeded data back and every fault off, in both systems."""
    access.require(who, "run", "sandbox")
    with _lock:
        _require()
        _running.reset()  # type: ignore[union-attr]


def set_faults(system: str, settings: dict[str, Any], *, who: access.Principal | None) -> None:
    """Replace one system's faults (missing settings go back to none); refused values say why."""
    access.require(who, "run", "sandbox")
    if system not in SYSTEMS:
        raise FlowbridgeError(f"unknown sandbox system '{system}'; use crm or erp")
    with _lock:
        _require()
        try:
            _running.set_faults(system, **settings)  # type: ignore[union-attr]
        except ApiError as error:  # the sandbox's own check names the setting
            raise FlowbridgeError(error.detail) from None


def _require() -> None:
    if _running is None:
        raise FlowbridgeError("the sandbox APIs are not running in this server; start them first")
