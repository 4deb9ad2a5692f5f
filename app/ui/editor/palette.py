"""The palette: node types grouped by family. Drag one onto the canvas (the canvas script follows the
pointer), or click it to add it next to the last node."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Any

from nicegui import ui

from app.services.designer import node_type_catalog
from app.ui import context

FAMILY_TITLES = {
    "trigger": "Start",
    "read": "Read",
    "filter": "Filter",
    "map": "Map",
    "transform": "Transform",
    "write": "Write",
}
FAMILY_ICONS = {
    "trigger": "bolt",
    "read": "download",
    "filter": "filter_alt",
    "map": "swap_horiz",
    "transform": "auto_fix_high",
    "write": "upload",
}


def palette(on_click: Callable[[str], Any]) -> None:
    with ui.column().classes("fb-palette gap-0"):
        ui.label("Node types").classes("text-sm font-semibold px-1")
        ui.label("Drag onto the canvas").classes("fb-muted text-xs px-1")
        for family, types in groupby(node_type_catalog(context.node_types()), key=lambda t: t["family"]):
            ui.label(FAMILY_TITLES.get(family, family)).classes("fb-palette-family")
            for node_type in types:
                item = (
                    ui.element("div")
                    .classes(f"fb-palette-item fb-family-{family}")
                    .props(
                        f'data-fb-type="{node_type["type"]}" data-fb-family="{family}" data-fb-title="{node_type["title"]}"'
                    )
                )
                with item:
                    ui.icon(FAMILY_ICONS.get(family, "circle"))
                    ui.label(node_type["title"])
                item.tooltip(node_type["description"])
                item.on("click", lambda _, t=node_type["type"]: on_click(t))
