"""The web app: wires the pages, the shared styles and the store together, and runs the server.

`flowbridge serve` calls `serve()`. NiceGUI's test `user` fixture runs this file as its main file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import Request
from nicegui import app, ui
from starlette.middleware.base import BaseHTTPMiddleware

from app.api.server import install_routes
from app.composition import Flowbridge, Settings
from app.services import sign_ins
from app.ui import context
from app.ui.canvas.flow_canvas import vendor_css

THEME = Path(__file__).parent / "theme.css"
# Tailwind's utilities compiled ahead of time (scripts/build_tailwind.sh) instead of NiceGUI's in-page
# compiler, which costs every page load about half a second on a large flow.
TAILWIND = Path(__file__).parent / "tailwind.css"
log = logging.getLogger("flowbridge.ui")


def create_app(root: Flowbridge | None = None) -> Flowbridge:
    """Register every page on NiceGUI's app, working on `root` (by default one built from the
    environment: FLOWBRIDGE_DB_URL or ./flowbridge.db)."""
    root = root or Flowbridge(Settings.from_environment())
    context.use(root)
    # The pages register themselves with @ui.page when imported.
    from app.ui import (  # noqa: F401
        connections_page,
        dead_letters_page,
        editor_page,
        flows_page,
        health_page,
        not_found_page,
        replay_page,
        runs_page,
        sandbox_page,
        sign_in_page,
        tests_page,
    )

    sign_in_page.install()  # once users exist, pages need a signed-in browser
    not_found_page.install()

    ui.add_css(TAILWIND.read_text() + "\n" + vendor_css() + "\n" + THEME.read_text(), shared=True)
    app.add_middleware(NoFraming)
    app.on_exception(_log_exception)
    install_routes(app, root)  # the REST API and /hooks/{flow_id}
    return root


class NoFraming(BaseHTTPMiddleware):
    """No other site may frame these pages (clickjacking) or sniff a type the answer does not say."""

    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _log_exception(error: Exception) -> None:
    # Handlers are wrapped by feedback.guarded; anything else is logged, and told as one sentence
    # when there is a page to tell it on (never as a traceback).
    log.error("unhandled error in the web app: %s", error, exc_info=error)
    try:
        ui.notify(
            f"Something went wrong inside Flowbridge ({type(error).__name__}); the details are in the server log",
            type="negative",
        )
    except RuntimeError:  # no page is being served (a background task): the log has it
        pass


def serve(host: str = "127.0.0.1", port: int = 8080, store_url: str | None = None) -> None:
    """Start the web app and block until it is stopped (Ctrl+C)."""
    from app.services import isolation

    root = create_app(Flowbridge(Settings.from_environment(store_url)))
    root.queues  # noqa: B018  (opened now: FLOWBRIDGE_RUN_QUEUE=workers on a store that cannot take it stops here)
    # Every run this server starts runs in a child process with a memory and a time limit, so no
    # flow can take the pages or the scheduler down (FLOWBRIDGE_RUN_ISOLATION=0 runs them in place).
    if root.settings.isolate_runs:
        isolation.isolate_runs(isolation.RunLimits.from_environment())
    app.on_startup(lambda: _start_schedules(root))
    app.on_shutdown(root.stop)
    ui.run(
        host=host,
        port=port,
        title="Flowbridge",
        favicon="🔀",
        reload=False,
        show=False,
        show_welcome_message=True,
        storage_secret=sign_ins.cookie_key(root.store),
        reconnect_timeout=10,
        tailwind=False,
    )


def _start_schedules(root: Flowbridge) -> None:
    root.start_scheduler()
    if root.scheduler is not None:
        log.info("scheduler started: %s", ", ".join(root.scheduler.job_ids()) or "no scheduled flows on")


if __name__ in {"__main__", "__mp_main__"}:
    _root = create_app()
    ui.run(
        title="Flowbridge", reload=False, show=False, storage_secret=sign_ins.cookie_key(_root.store), tailwind=False
    )
