"""The side panel: the selected node's form (built from its type's schema), or the flow's own settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.services import designer
from app.services.designer import Checked
from app.services.designer import node_type as registered_type
from app.ui.editor.arrange import ARRANGEMENTS
from app.ui.editor.document_state import DocumentState, EditRefused
from app.ui.editor.io_view import io_view
from app.ui.editor.palette import FAMILY_ICONS
from app.ui.editor.schema_form import FormServices, SchemaForm
from app.ui.editor.value_maps import ValueMapsEditor
from app.ui.feedback import instant_spinner

ARRANGE_ICONS = {
    "left": "align_horizontal_left",
    "top": "align_vertical_top",
    "horizontal": "horizontal_distribute",
    "vertical": "vertical_distribute",
}


class SidePanel:
    def __init__(
        self,
        state: DocumentState,
        services: Callable[[str], FormServices],
        *,
        changed: Callable[[bool], None],
        test_node: Callable[[str], Any],
        delete_nodes: Callable[[list[str]], None],
        select_node: Callable[[str], None] | None = None,
        open_mapper: Callable[[str], Any] | None = None,
        emitted: Callable[[str], list[dict[str, Any]] | None] = lambda node_id: None,
        arrange: Callable[[str], Any] | None = None,
    ) -> None:
        self.state = state
        self.services = services  # node id -> the form's services for that node
        self.changed = changed  # called after an edit; True when the canvas must redraw
        self.test_node = test_node
        self.delete_nodes = delete_nodes
        self.select_node = select_node
        self.open_mapper = open_mapper
        self.emitted = emitted
        self.arrange = arrange
        self.selected: list[str] = []
        self.checked: Checked | None = None
        self.form: SchemaForm | None = None
        self.container = ui.column().classes("fb-side gap-3")
        self.problem_box: ui.column | None = None

    # --- what is shown ----------------------------------------------------------------------------

    def show(self, selected: list[str], checked: Checked | None) -> None:
        self.selected = [s for s in selected if self.state.node(s) is not None]
        self.checked = checked
        self.container.clear()
        with self.container:
            if len(self.selected) == 1:
                self._node_panel(self.state.node(self.selected[0]))
            elif self.selected:
                self._many_panel()
            else:
                self._flow_panel()

    def problems_changed(self, checked: Checked) -> None:
        """New validation results: refresh the problem list only, so typing keeps its focus."""
        self.checked = checked
        if self.problem_box is None:
            return
        self.problem_box.clear()
        with self.problem_box:
            self._problem_list()

    def _problem_list(self) -> None:
        checked = self.checked
        if checked is None:
            return
        if len(self.selected) == 1:
            placed = [(None, m) for m in checked.by_node.get(self.selected[0], [])]
        else:  # the whole flow's: each node's problems lead to the node
            placed = (
                [(None, m) for m in checked.general]
                + [(node_id, f"{node_id}: {m}") for node_id, messages in checked.by_node.items() for m in messages]
                + [(None, f"edge {index + 1}: {m}") for index, messages in checked.by_edge.items() for m in messages]
            )
        if not placed:
            if not self.selected and checked.valid:
                ui.label("✓ No problems: this flow can be switched on once saved.").classes("text-positive text-sm")
            return
        with ui.column().classes("fb-problem-box w-full gap-1 fb-panel-problems"):
            for node_id, message in placed[:12]:
                line = ui.label(f"• {message}")
                if node_id and self.select_node:
                    line.classes("cursor-pointer hover:underline").tooltip("Show this node")
                    line.on("click", lambda _, n=node_id: self.select_node(n))
            if len(placed) > 12:
                ui.label(f"… and {len(placed) - 12} more")

    # --- one node ---------------------------------------------------------------------------------

    def _node_panel(self, node: dict[str, Any]) -> None:
        node_type = registered_type(node.get("type"), self.state.types)
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            ui.icon(FAMILY_ICONS.get(node_type.family if node_type else "", "help")).classes(
                f"text-2xl fb-family-{node_type.family if node_type else 'unknown'}"
            )
            with ui.column().classes("gap-0 grow min-w-0"):
                ui.label(node_type.title if node_type else f"Unknown type '{node.get('type')}'").classes(
                    "text-base font-semibold"
                )
                ui.label(node_type.description if node_type else "").classes("fb-muted text-xs")
        with ui.row().classes("w-full gap-2 no-wrap"):
            instant_spinner(
                ui.button("Test node", icon="science", on_click=lambda: self.test_node(node["id"])),
                f"Testing up to '{node['id']}' on 20 sandbox records…",
            ).props("unelevated no-caps").classes("grow fb-test-node").tooltip(
                "Run the flow up to here on 20 sandbox records; nothing is written"
            )
            ui.button(icon="delete", on_click=lambda: self.delete_nodes([node["id"]])).props(
                "outline round color=negative"
            ).tooltip("Delete the node (Del)")
        self.problem_box = ui.column().classes("w-full gap-1")
        with self.problem_box:
            self._problem_list()
        name = (
            ui.input("Name on the canvas", value=node.get("name", ""))
            .props("dense outlined stack-label")
            .classes("w-full fb-node-name-input")
        )

        def rename_label(e: Any) -> None:
            if (e.value or "") == node.get("name", ""):
                return  # set to what the node holds already (a name following its config)
            self.state.edit(f"{node['id']}:name")
            node["name"] = e.value or ""
            if not node["name"]:
                node.pop("name")
            self.changed(False)

        name.on_value_change(rename_label)
        self.name_input = name
        node_id = (
            ui.input("Id", value=node["id"]).props("dense outlined stack-label").classes("w-full fb-node-id-input")
        )
        node_id.props('hint="Names the node in runs and expressions; a letter first, then letters, digits, _ or -"')

        def rename_id(_: Any = None) -> None:
            new = (node_id.value or "").strip()
            old = node["id"]
            if new == old:
                return
            try:
                self.state.rename_node(old, new)
            except EditRefused as refused:
                ui.notify(str(refused), type="warning")
                node_id.value = old
                return
            self.selected = [new]
            self.changed(True)
            ui.notify(f"Node renamed to '{new}'", type="positive")

        node_id.on("blur", rename_id)
        node_id.on("keydown.enter", rename_id)
        ui.separator()
        if node_type is None:
            ui.label("This node type is not installed; its config is kept as it is.").classes("fb-muted")
            return
        config = node.setdefault("config", {})
        if node_type.family != "trigger":
            io_view(self.services(node["id"]).samples, self.emitted(node["id"]))
        if node_type.type == "map" and self.open_mapper is not None:
            ui.button(
                "Field mapper", icon="swap_horiz", on_click=lambda: self.open_mapper and self.open_mapper(node["id"])
            ).props("outline no-caps").classes("w-full fb-open-mapper").tooltip(
                "Source fields beside the target's fields: drag one onto the other"
            )
        problems = self.checked.by_field.get(node["id"], {}) if self.checked else {}
        self.form = SchemaForm(
            node_type.config_schema,
            config,
            services=self.services(node["id"]),
            before_change=lambda path: self._before_config_change(node, path),
            on_change=lambda path: self._after_config_change(node),
            problems=problems,
        )
        self.form.render()

    def _before_config_change(self, node: dict[str, Any], path: str) -> None:
        self.state.edit(f"{node['id']}:{path}")
        self._summary_before = designer.summary_name(node, self.state.types)

    def _after_config_change(self, node: dict[str, Any]) -> None:
        """A name that said what the config said ("Every 15 minutes") follows the config; one the
        analyst wrote stays."""
        was, now = getattr(self, "_summary_before", None), designer.summary_name(node, self.state.types)
        if was and now and now != was and str(node.get("name") or "").strip().lower() == was.lower():
            node["name"] = now
            self.name_input.set_value(now)  # its handler records the same name again: no change
        self.changed(False)

    def _many_panel(self) -> None:
        ui.label(f"{len(self.selected)} nodes selected").classes("text-base font-semibold")
        ui.label(
            "Drag any of them to move them together; Ctrl+C / Ctrl+V copies them with the edges between them."
        ).classes("fb-muted text-sm")
        if self.arrange is not None:
            arrange = self.arrange
            with ui.row().classes("gap-1 fb-arrange-row"):
                for how, icon in ARRANGE_ICONS.items():
                    ui.button(icon=icon, on_click=lambda how=how: arrange(how)).props("outline dense").classes(
                        f"fb-panel-arrange-{how}"
                    ).tooltip(ARRANGEMENTS[how])
        ui.button(
            f"Delete {len(self.selected)} nodes", icon="delete", on_click=lambda: self.delete_nodes(list(self.selected))
        ).props("outline no-caps color=negative")

    # --- the flow itself --------------------------------------------------------------------------

    def _flow_panel(self) -> None:
        document = self.state.document
        ui.label("Flow settings").classes("text-base font-semibold")
        ui.label(
            "Select a node to configure it. Shift+drag selects several; Del deletes; Ctrl+Z undoes; ? lists every shortcut."
        ).classes("fb-muted text-xs")
        self.problem_box = ui.column().classes("w-full gap-1")
        with self.problem_box:
            self._problem_list()

        def set_field(key: str, value: Any) -> None:
            self.state.edit(f"flow:{key}")
            if value in (None, ""):
                document.pop(key, None)
            else:
                document[key] = value
            self.changed(False)

        ui.input("Name", value=document.get("name", "")).props("dense outlined stack-label").classes(
            "w-full fb-flow-name"
        ).on_value_change(lambda e: set_field("name", e.value))
        ui.label(f"Id: {document.get('id')}").classes("fb-muted text-xs")
        ui.textarea("Description", value=document.get("description", "")).props(
            'dense outlined stack-label autogrow input-style="max-height: 9rem"'
        ).classes("w-full").on_value_change(lambda e: set_field("description", e.value))

        def maps_title() -> str:
            return f"Value maps ({len(document.get('value_maps') or {})})"

        maps_panel = ui.expansion(maps_title(), icon="table_chart").classes("w-full fb-sub-object fb-value-maps-panel")

        def maps_changed(structural: bool) -> None:
            maps_panel.text = maps_title()  # the count follows adds and deletes
            self.changed(structural)

        with maps_panel:
            ValueMapsEditor(self.state, maps_changed).render()
