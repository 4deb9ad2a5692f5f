"""The frame every page shares: a header with the product name, the navigation and the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from app.ui import session

PREVIEW_ENVIRONMENT = "sandbox"  # where tests of a node and previews read (they write nothing)
WHERE_ROLES_RUN = {"admin": "sandbox and production", "analyst": "sandbox", "tester": "sandbox", "viewer": "nowhere"}
NAV = (
    ("Flows", "/", "account_tree"),
    ("Runs", "/runs", "receipt_long"),
    ("Dead letters", "/dead-letters", "report"),
    ("Health", "/health", "monitor_heart"),
    ("Sandbox", "/sandbox", "science"),
    ("Connections", "/connections", "cable"),
)


@contextmanager
def frame(title: str, *, active: str = "Flows", full_height: bool = False, wide: bool = False) -> Iterator[None]:
    """Page title, header and a content column; `full_height` for the editor's canvas layout, `wide`
    for pages with a graph or charts."""
    ui.page_title(f"{title} · Flowbridge")
    ui.colors(
        primary="#2563eb",
        secondary="#0f172a",
        accent="#7c3aed",
        positive="#059669",
        negative="#dc2626",
        warning="#d97706",
    )
    with ui.header().classes("fb-header items-center no-wrap gap-6 px-5 py-0"):
        with ui.link(target="/").classes("fb-brand no-underline items-center flex gap-2"):
            ui.icon("hub").classes("text-2xl")
            ui.label("Flowbridge").classes("text-lg font-semibold tracking-tight")
        with ui.row().classes("gap-1 no-wrap"):
            for name, target, icon in NAV:
                with ui.link(target=target).classes(
                    "fb-nav no-underline flex items-center gap-1" + (" fb-nav-active" if name == active else "")
                ):
                    ui.icon(icon).classes("text-lg")
                    ui.label(name)
        ui.space()
        _who_is_here()
    width = "max-w-7xl" if wide else "max-w-6xl"
    content = "fb-page-full" if full_height else f"fb-page w-full {width} mx-auto p-6 gap-4"
    with ui.column().classes(content):
        yield


def _who_is_here() -> None:
    """The signed-in user and their role (with where they may run), or that the server is open."""
    who = session.principal()
    with ui.element("div").classes("fb-env-badge flex items-center gap-1").mark("who-is-here"):
        if session.is_open():
            ui.icon("lock_open").classes("text-base")
            ui.label("Open demo: everyone is admin")
            ui.tooltip(
                "No user is defined on this server; `flowbridge user add NAME --role ROLE` adds one and "
                "from then on everyone signs in. Previews and node tests read the sandbox and write nothing."
            )
            return
        ui.icon("person").classes("text-base")
        ui.label(f"{who.name} · {who.role}" if who else "not signed in")
        if who:
            ui.tooltip(f"As {who.role} you may run flows in: {WHERE_ROLES_RUN.get(who.role, 'nowhere')}.")
            from app.ui.sign_in_page import sign_out

            ui.button(icon="logout", on_click=sign_out).props("flat round dense size=sm").classes(
                "fb-sign-out"
            ).tooltip("Sign out").mark("sign-out")
