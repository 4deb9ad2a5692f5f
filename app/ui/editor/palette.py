"""The palette: node types grouped by family, and a search over them. Drag one onto the canvas (the
canvas script follows the pointer), click it to add it next to the last node, or type and press Enter."""

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
    """The node types by family, with a search over their titles, type names and descriptions;
    Enter in the search adds the first match (as a click on it would)."""
    shown: list[tuple[ui.element, str, str, str]] = []  # item, family, type, what the search reads
    families: dict[str, ui.label] = {}
    with ui.column().classes("fb-palette gap-0"):
        ui.label("Node types").classes("text-sm font-semibold px-1")
        ui.label("Drag onto the canvas").classes("fb-muted text-xs px-1")
        search = (
            ui.input(placeholder="Search  ( / )")
            .props("dense outlined clearable")
            .classes("w-full fb-palette-search")
            .mark("palette-search")
        )
        with search.add_slot("prepend"):
            ui.icon("search").classes("text-slate-400")
        nothing = ui.label().classes("fb-muted text-xs px-1 fb-palette-nothing")
        nothing.set_visibility(False)
        for family, types in groupby(node_type_catalog(context.node_types()), key=lambda t: t["family"]):
            families[family] = ui.label(FAMILY_TITLES.get(family, family)).classes("fb-palette-family")
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
                words = f"{node_type['title']} {node_type['type']} {family} {node_type['description']}".lower()
                shown.append((item, family, node_type["type"], words))

    def matches() -> list[str]:
        wanted = (search.value or "").lower().split()
        found, families_found = [], set()
        for item, family, type_name, words in shown:
            hit = all(word in words for word in wanted)
            item.set_visibility(hit)
            if hit:
                found.append(type_name)
                families_found.add(family)
        for family, label in families.items():
            label.set_visibility(family in families_found)
        nothing.text = f"No node type matches “{search.value}”"
        nothing.set_visibility(not found)
        return found

    def add_first(_: Any = None) -> None:
        found = matches()
        if found and (search.value or "").strip():
            on_click(found[0])
            search.set_value("")

    search.on_value_change(lambda _: matches())
    search.on("keydown.enter", add_first)
