"""The canvas element: Vue Flow in a NiceGUI element, its files served by the app itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import ui

VENDOR = Path(__file__).parent / "vendor"
CSS_FILES = ("css/core-style.css", "css/core-theme-default.css", "css/controls-style.css", "css/minimap-style.css")


class FlowCanvas(
    ui.element,
    component="flow_canvas.js",
    esm={
        "@vue-flow/core": "vendor/vue-flow-core",
        "@vue-flow/background": "vendor/vue-flow-background",
        "@vue-flow/controls": "vendor/vue-flow-controls",
        "@vue-flow/minimap": "vendor/vue-flow-minimap",
        "@dagrejs/dagre": "vendor/dagre",
    },
):
    """Draws a graph ({nodes, edges} in Vue Flow's shape) and emits what the user does with it.

    Events: add, connect, moved, remove, selection, shortcut, drawn, ready; note (a sticky note's
    text or colour), quickadd (a double-click on the empty canvas, or a note to add), tidied (the
    positions of a tidy-up).
    """

    def __init__(self, graph: dict[str, Any], flow_id: str, *, readonly: bool = False) -> None:
        super().__init__()
        self._props["graph"] = graph
        self._props["flow-id"] = f"canvas-{flow_id}"
        self._props["readonly"] = readonly
        self.classes("w-full h-full")

    def set_graph(self, graph: dict[str, Any]) -> None:
        self._props["graph"] = graph  # a page reload draws the same thing
        self.run_method("setGraph", graph)

    def patch_nodes(self, patches: dict[str, dict[str, Any]]) -> None:
        if patches:
            self.run_method("patchNodes", patches)

    def decorate_edges(self, decorations: dict[str, dict[str, Any]]) -> None:
        self.run_method("setEdgeDecorations", decorations)

    def select_nodes(self, node_ids: list[str]) -> None:
        self.run_method("selectNodes", node_ids)

    def show_node(self, node_id: str) -> None:
        self.run_method("showNode", node_id)

    def tidy_up(self) -> None:
        self.run_method("tidyUp")

    def add_note_in_view(self) -> None:
        self.run_method("addNoteInView")

    def focus_note(self, note_id: str) -> None:
        self.run_method("focusNote", note_id)

    def fit(self, after_resize: bool = False) -> None:
        self.run_method("fit", after_resize)


def vendor_css() -> str:
    """Vue Flow's own style sheets, added once to every page that has a canvas."""
    return "\n".join((VENDOR / name).read_text() for name in CSS_FILES)
