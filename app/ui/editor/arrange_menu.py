"""The toolbar's Arrange menu (tidy up, align, distribute, a sticky note) and the quick-add dialog a
double-click on the empty canvas opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.services.designer import node_type_catalog
from app.ui import context
from app.ui.editor.arrange import ARRANGEMENTS

STICKY_NOTE = "+sticky-note"  # the quick-add choice that is a note, not a node type (no type starts with '+')


def arrange_menu(*, tidy_up: Callable[[], Any], arrange: Callable[[str], Any], add_note: Callable[[], Any]) -> None:
    """Built inside the button that opens it."""
    with ui.menu().classes("fb-arrange-menu"):
        ui.menu_item("Tidy up the whole flow  (Shift+Alt+T)", on_click=tidy_up).classes("fb-tidy-up").mark("tidy-up")
        ui.separator()
        for how, title in ARRANGEMENTS.items():
            ui.menu_item(f"{title} (the selected)", on_click=lambda how=how: arrange(how)).classes(
                f"fb-arrange-{how}"
            ).mark(f"arrange-{how}")
        ui.separator()
        ui.menu_item("Add a sticky note  (Shift+S)", on_click=add_note).classes("fb-add-note").mark("add-note")


def quick_add_dialog(on_pick: Callable[[str], Any]) -> None:
    """A searchable list of the node types and a sticky note; the one picked is added where the
    canvas was double-clicked."""
    # titles only: "Filter" must find the Filter node, not every node of the filter family
    choices = {t["type"]: t["title"] for t in node_type_catalog(context.node_types())}
    choices[STICKY_NOTE] = "Sticky note (a comment on the canvas)"
    with ui.dialog() as dialog, ui.card().classes("w-[28rem] fb-quick-add"):
        ui.label("Add here").classes("text-lg font-semibold")

        def picked(event: Any) -> None:
            if event.value:
                dialog.close()
                on_pick(event.value)

        ui.select(choices, label="Node type or note (type to search)", with_input=True, on_change=picked).props(
            "dense outlined autofocus"
        ).classes("w-full").mark("quick-add-select")
    dialog.open()
