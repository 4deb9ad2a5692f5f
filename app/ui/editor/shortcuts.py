"""The `?` sheet: every keyboard and mouse shortcut of the editor, in one dialog."""

from __future__ import annotations

from nicegui import ui

# (keys, what they do), in the order a person meets them; the canvas script and the editor's
# on_shortcut are where each is handled.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("/", "Search the node types; Enter adds the first match"),
    ("Ctrl+S", "Save a new version"),
    ("Ctrl+Z", "Undo"),
    ("Ctrl+Shift+Z  or  Ctrl+Y", "Redo"),
    ("Ctrl+C", "Copy the selected nodes"),
    ("Ctrl+X", "Cut the selected nodes"),
    ("Ctrl+V", "Paste"),
    ("Ctrl+D", "Duplicate the selected nodes"),
    ("Ctrl+A", "Select every node"),
    ("Delete  or  Backspace", "Delete what is selected"),
    ("Shift+drag", "Select several nodes"),
    ("Ctrl+click", "Add a node to the selection"),
    ("Double-click the empty canvas", "Quick-add: search a node type (or a note) to put there"),
    ("Shift+S", "Add a sticky note in the middle of the view"),
    ("Shift+Alt+T", "Tidy up: lay the whole flow out left to right"),
    ("Drag the empty canvas", "Pan"),
    ("Mouse wheel", "Zoom"),
    ("The search button", "Find a node by its name"),
    ("?", "This sheet"),
)


def shortcuts_sheet() -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[30rem] fb-shortcuts"):
        ui.label("Keyboard shortcuts").classes("text-lg font-semibold")
        ui.label("On the canvas; in a text field the keys keep their usual meaning (Ctrl+S still saves).").classes(
            "fb-muted text-xs"
        )
        with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1"):
            for keys, meaning in SHORTCUTS:
                ui.label(keys).classes("font-mono text-sm fb-shortcut-keys")
                ui.label(meaning).classes("text-sm")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
    dialog.open()
