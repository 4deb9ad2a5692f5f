"""The web app: wires the pages, the shared styles and the store together, and runs the server.

`flowbridge serve` calls `serve()`. NiceGUI's test `user` fixture runs this file as its main file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from nicegui import app, ui

from app.api.server import install_routes, start_scheduler, stop_scheduler
from app.store.database import Store
from app.ui import context
from app.ui.canvas.flow_canvas import vendor_css

THEME = Path(__file__).parent / "theme.css"
# Tailwind's utilities compiled ahead of time (scripts/build_tailwind.sh) instead of NiceGUI's in-page
# compiler, which costs every page load about half a second on a large flow.
TAILWIND = Path(__file__).parent / "tailwind.css"
log = logging.getLogger("flowbridge.ui")


def create_app(store: Store | None = None) -> None:
    """Register every page on NiceGUI's app; the store defaults to FLOWBRIDGE_DB_URL or ./flowbridge.db."""
    context.use_store(store or Store())
    # The pages register themselves with @ui.page when imported.
    from app.ui import editor_page, flows_page, runs_page  # noqa: F401
    from app.ui import dead_letters_page, health_page, sandbox_page  # noqa: F401
    from app.ui import replay_page, tests_page  # noqa: F401
    from app.ui import sign_in_page

    sign_in_page.install()  # once users exist, pages need a signed-in browser

    ui.add_css(TAILWIND.read_text() + "\n" + vendor_css() + "\n" + THEME.read_text(), shared=True)
    app.on_exception(_log_exception)
    install_routes(app, context.store)  # the REST API and /hooks/{flow_id}


def _log_exception(error: Exception) -> None:
    # Handlers are wrapped by feedback.guarded; anything else is logged, and told as one sentence
    # when there is a page to tell it on (never as a traceback).
    log.error("unhandled error in the web app: %s", error, exc_info=error)
    try:
        ui.notify(f"Something went wrong inside Flowbridge ({type(error).__name__}); the details are in the "
                  "server log", type="negative")
    except RuntimeError:  # no page is being served (a background task): the log has it
        pass


def serve(host: str = "127.0.0.1", port: int = 8080, store_url: str | None = None) -> None:
    """Start the web app and block until it is stopped (Ctrl+C)."""
    create_app(Store(store_url) if store_url else None)
    app.on_startup(lambda: start_scheduler(context.store()))
    app.on_shutdown(stop_scheduler)
    ui.run(host=host, port=port, title="Flowbridge", favicon="🔀", reload=False, show=False,
           show_welcome_message=True, storage_secret=os.environ.get("FLOWBRIDGE_SECRET_KEY") or "flowbridge-ui",
           reconnect_timeout=10, tailwind=False)


if __name__ in {"__main__", "__mp_main__"}:
    create_app()
    ui.run(title="Flowbridge", reload=False, show=False, storage_secret="flowbridge-ui", tailwind=False)
