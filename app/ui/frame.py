"""The frame every page shares: a header with the product name, the navigation and the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

PREVIEW_ENVIRONMENT = "sandbox"
NAV = (("Flows", "/", "account_tree"), ("Runs", "/runs", "receipt_long"),
       ("Dead letters", "/dead-letters", "report"), ("Health", "/health", "monitor_heart"))


@contextmanager
def frame(title: str, *, active: str = "Flows", full_height: bool = False, wide: bool = False) -> Iterator[None]:
    """Page title, header and a content column; `full_height` for the editor's canvas layout, `wide`
    for pages with a graph or charts."""
    ui.page_title(f"{title} · Flowbridge")
    ui.colors(primary="#2563eb", secondary="#0f172a", accent="#7c3aed", positive="#059669", negative="#dc2626",
              warning="#d97706")
    with ui.header().classes("fb-header items-center no-wrap gap-6 px-5 py-0"):
        with ui.link(target="/").classes("fb-brand no-underline items-center flex gap-2"):
            ui.icon("hub").classes("text-2xl")
            ui.label("Flowbridge").classes("text-lg font-semibold tracking-tight")
        with ui.row().classes("gap-1 no-wrap"):
            for name, target, icon in NAV:
                with ui.link(target=target).classes(
                        "fb-nav no-underline flex items-center gap-1" + (" fb-nav-active" if name == active else "")):
                    ui.icon(icon).classes("text-lg")
                    ui.label(name)
        ui.space()
        with ui.element("div").classes("fb-env-badge flex items-center gap-1"):
            ui.icon("science").classes("text-base")
            ui.label(f"Environment: {PREVIEW_ENVIRONMENT}")
        ui.tooltip("Tests and previews read the sandbox systems and write nothing; "
                   "runs started here use the sandbox unless you pick production.")
    width = "max-w-7xl" if wide else "max-w-6xl"
    content = "fb-page-full" if full_height else f"fb-page w-full {width} mx-auto p-6 gap-4"
    with ui.column().classes(content):
        yield
