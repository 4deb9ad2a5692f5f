"""Running the sandbox REST APIs: in background threads (tests, the web app) or in the foreground
(`flowbridge sandbox serve`), on chosen or free ports."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.sandbox.http_api import DEFAULT_TOKEN, Faults, _QuietDrops, create_app
from app.sandbox.http_data import SYSTEMS, SystemData, prepare_data


@dataclass
class ServedApp:
    """An ASGI app served by uvicorn from a background thread; `stop()` ends it."""

    url: str
    port: int
    server: Any = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


def serve_app(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    own_logging: bool = False,
    startup_timeout: float = 15.0,
    name: str = "api",
) -> ServedApp:
    """Serve `app` on host:port (0: a free port) from a daemon thread; returns once it listens.

    With `own_logging` uvicorn sets up its console logging (the CLI); otherwise the host's logging
    is left alone (tests, the web app)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    sock = _bind(host, port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        log_config=LOGGING_CONFIG if own_logging else None,  # uvicorn's default, or none of its own
    )
    _quieten()
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"serve-{name}")
    thread.start()
    served = ServedApp(f"http://{host}:{port}", port, server, thread)
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            served.stop()
            sock.close()
            from app.errors import FlowbridgeError

            raise FlowbridgeError(f"the {name} server on {host}:{port} did not start")
        time.sleep(0.01)
    return served


@dataclass
class RunningSandbox:
    """Both sandbox systems serving in this process; `stop()` (or leaving a `with`) ends them."""

    host: str
    token: str
    data: dict[str, SystemData]
    faults: dict[str, Faults]
    served: dict[str, ServedApp] = field(default_factory=dict)

    def url(self, system: str) -> str:
        return self.served[system].url

    @property
    def ports(self) -> dict[str, int]:
        return {system: served.port for system, served in self.served.items()}

    @property
    def crm_url(self) -> str:
        return self.url("crm")

    @property
    def erp_url(self) -> str:
        return self.url("erp")

    def set_faults(self, system: str, **settings: Any) -> None:
        self.faults[system].configure(settings)

    def reset(self) -> None:
        """The seeded data back, and no faults, in both systems."""
        for system in SYSTEMS:
            self.data[system].reset()
            self.faults[system].configure({})

    def stop(self, timeout: float = 10.0) -> None:
        for served in self.served.values():
            served.server.should_exit = True
        for served in self.served.values():
            served.thread.join(timeout)
        for data in self.data.values():
            data.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        from app.errors import FlowbridgeError

        raise FlowbridgeError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(128)
    return sock


def _quieten() -> None:
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in error_log.filters):
        error_log.addFilter(_QuietDrops())


def start_sandboxes(
    folder: Path,
    *,
    host: str = "127.0.0.1",
    crm_port: int = 0,
    erp_port: int = 0,
    token: str = DEFAULT_TOKEN,
    accounts: int = 600,
    seed: int = 7,
    fresh: bool = False,
    log_level: str = "warning",
    own_logging: bool = False,
) -> RunningSandbox:
    """Serve the sandbox CRM and ERP from background threads (port 0: a free port); returns once
    both listen. The data lives in `folder` (see prepare_data)."""
    data = prepare_data(folder, accounts=accounts, seed=seed, fresh=fresh)
    running = RunningSandbox(host, token, data, {s: Faults() for s in SYSTEMS})
    try:
        for system, port in (("crm", crm_port), ("erp", erp_port)):
            app = create_app(system, data[system], token=token, faults=running.faults[system])
            running.served[system] = serve_app(
                app,
                host=host,
                port=port,
                log_level=log_level,
                own_logging=own_logging,
                name=f"sandbox {system.upper()}",
            )
    except BaseException:
        running.stop()
        raise
    return running


def serve_forever(
    folder: Path, *, host: str, crm_port: int, erp_port: int, token: str, accounts: int = 600, fresh: bool = False
) -> None:
    """`flowbridge sandbox serve`: both systems until Ctrl+C."""
    running = start_sandboxes(
        folder,
        host=host,
        crm_port=crm_port,
        erp_port=erp_port,
        token=token,
        accounts=accounts,
        fresh=fresh,
        log_level="info",
        own_logging=True,
    )
    print(
        f"sandbox CRM on {running.crm_url}, ERP on {running.erp_url} (data in {Path(folder).resolve()}); "
        "Ctrl+C stops them",
        flush=True,
    )
    print(
        f"send Authorization: Bearer {token}; POST /_reset restores the seeded data, POST /_faults sets faults",
        flush=True,
    )
    try:
        while all(served.alive for served in running.served.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
