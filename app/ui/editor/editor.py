"""The editor: a toolbar, the palette, the canvas, the side panel and the test results, around one document.

Every gesture goes to DocumentState (the document is the source of truth); after it the document is
validated again and the canvas shows the problems on the nodes and edges they concern.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from nicegui import app, background_tasks, run, ui

from app.services import designer, door, flow_reads, previews, run_reads, systems
from app.services.designer import Checked, VersionConflict
from app.services.dry_runs import dry_run as dry_run_document
from app.services.runs import new_run_id
from app.ui import context, session
from app.ui.canvas.flow_canvas import FlowCanvas
from app.ui.canvas.graph import (
    canvas_graph,
    edge_decorations,
    layout_missing,
    live_edge_counts,
    node_data,
    note_canvas_id,
)
from app.ui.editor.arrange import arranged, why_not
from app.ui.editor.arrange_menu import STICKY_NOTE, arrange_menu, quick_add_dialog
from app.ui.editor.document_state import DocumentState, EditRefused
from app.ui.editor.dry_run import dry_run_menu, refusal, show_dry_run
from app.ui.editor.field_mapper import DROP_INTO_FIELDS, FieldMapper
from app.ui.editor.history_dialog import open_history
from app.ui.editor.palette import palette
from app.ui.editor.schema_form import FormServices
from app.ui.editor.shortcuts import shortcuts_sheet
from app.ui.editor.side_panel import SidePanel
from app.ui.editor.side_resizer import SCRIPT as RESIZE_SIDE_PANEL
from app.ui.editor.side_resizer import side_resizer
from app.ui.editor.test_results import show_results
from app.ui.feedback import guarded, instant_spinner, spinner_done, tell_error
from app.ui.numbers import totals_text

LIVE_SECONDS = 1.0  # how often the canvas shows a run's counts while it goes

# Asks before leaving the page with unsaved changes.
LEAVE_GUARD = """
<script>
window.addEventListener('beforeunload', (event) => {
  if (window.fbDirty) { event.preventDefault(); event.returnValue = ''; }
});
</script>"""


class Editor:
    def __init__(self, document: dict[str, Any], *, based_on: int, is_new: bool) -> None:
        layout_missing(document)
        self.state = DocumentState(document, based_on, context.node_types())
        self.is_new = is_new
        self.checked: Checked = designer.check_document(document, context.node_types())
        self.samples: dict[str, asyncio.Future] = {}
        self.selected: list[str] = []
        self.counts_shown = False
        self.revision = 0  # counts edits, so a slow validation of an older document is not shown
        self.checking = False
        self.last_test: Any = None  # the latest Test node result, and the document it ran on
        self.tested_document = ""
        self.stale_mark: ui.label | None = None

    # --- building the page ------------------------------------------------------------------------

    def build(self) -> None:
        ui.add_head_html(LEAVE_GUARD + DROP_INTO_FIELDS + RESIZE_SIDE_PANEL)
        self._toolbar()
        with ui.row().classes("fb-workspace no-wrap gap-0"):
            palette(self.add_from_click)
            with ui.element("div").classes("fb-canvas-wrap"):
                self.canvas = FlowCanvas(
                    canvas_graph(self.state.document, self.checked, self.state.types), self.state.document["id"]
                )
            side_resizer()
            self.panel = SidePanel(
                self.state,
                self.form_services,
                changed=self.changed,
                test_node=self.test_node,
                delete_nodes=self.delete_nodes,
                select_node=self.select_node,
                open_mapper=self.open_mapper,
                emitted=self.emitted,
                arrange=self.arrange,
            )
        self.results = ui.column().classes("fb-results w-full gap-0")
        self.results.set_visibility(False)
        # Dialogs live here, not inside whatever was clicked: a dialog opened from another dialog
        # must outlive the first one closing.
        self.dialogs = ui.element("div")
        self.canvas.on("add", self.on_add)
        self.canvas.on("connect", self.on_connect)
        self.canvas.on("moved", self.on_moved)
        self.canvas.on("remove", self.on_remove)
        self.canvas.on("selection", self.on_selection)
        self.canvas.on("shortcut", self.on_shortcut)
        self.canvas.on("note", self.on_note)
        self.canvas.on("quickadd", self.on_quick_add)
        self.canvas.on("tidied", self.on_tidied)
        self.panel.show([], self.checked)
        self._refresh_status()

    def _toolbar(self) -> None:
        with ui.row().classes("fb-toolbar w-full items-center no-wrap gap-2"):
            ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/")).props("flat round dense").tooltip(
                "All flows"
            )
            # A long name is cut with an ellipsis (the whole of it in the tooltip), never pushing the
            # toolbar's buttons out of shape.
            with ui.column().classes("gap-0 min-w-0").style("max-width: 34vw"):
                self.title = ui.label(self.state.document.get("name", "")).classes(
                    "text-base font-semibold truncate fb-title w-full"
                )
                with self.title:
                    self.title_tip = ui.tooltip(self.state.document.get("name", ""))
                self.subtitle = ui.label().classes("fb-muted text-xs fb-version")
            with ui.label().classes("fb-chip fb-status cursor-pointer") as self.status_chip:
                self.status_tip = ui.tooltip("")  # one tooltip, its text set by _refresh_status
            self.status_chip.on("click", lambda: self._show_selection([]))
            ui.space()
            self.undo_button = (
                ui.button(icon="undo", on_click=self.undo).props("flat round dense").tooltip("Undo (Ctrl+Z)")
            )
            self.redo_button = (
                ui.button(icon="redo", on_click=self.redo).props("flat round dense").tooltip("Redo (Ctrl+Shift+Z)")
            )
            ui.button(icon="fit_screen", on_click=lambda: self.canvas.fit()).props("flat round dense").tooltip(
                "Fit to view"
            )
            ui.button(icon="search", on_click=self.find_node_dialog).props("flat round dense").classes(
                "fb-find-node-button"
            ).mark("find-node").tooltip("Find a node by its name")
            with (
                ui.button(icon="auto_awesome_mosaic")
                .props("flat round dense")
                .classes("fb-arrange-button")
                .mark("arrange")
            ):
                ui.tooltip("Arrange: tidy up, align, distribute; add a sticky note")
                arrange_menu(tidy_up=self.tidy_up, arrange=self.arrange, add_note=self.add_note_in_view)
            ui.separator().props("vertical")
            self.test_button = (
                instant_spinner(
                    ui.button("Test node", icon="science", on_click=self.test_selected),
                    "Testing on 20 sandbox records…",
                )
                .props("flat no-caps")
                .classes("fb-toolbar-test")
                .tooltip("Run the flow up to the selected node on 20 sandbox records; nothing is written")
            )
            dry_run_menu(self.dry_run)
            with ui.button("Run", icon="play_arrow").props("flat no-caps").classes("fb-run"):
                with ui.menu():
                    instant_spinner(
                        ui.menu_item("Run now in the sandbox", on_click=lambda: self.run_saved("sandbox")),
                        "Running in the sandbox…",
                    ).classes("fb-run-sandbox").mark("run-sandbox")
                    ui.menu_item("Run now in production…", on_click=lambda: self.confirm_production())
            ui.button(icon="history", on_click=self.history).props("flat round dense").classes(
                "fb-history-button"
            ).mark("history").tooltip("History: versions, compare, restore")
            ui.button(icon="download", on_click=self.export).props("flat round dense").mark("export").tooltip(
                "Export JSON"
            )
            self.save_button = (
                ui.button("Save", icon="save", on_click=self.save_dialog)
                .props("unelevated no-caps")
                .classes("fb-save")
                .mark("save")
            )
            if session.why_not("edit") is None:
                self.save_button.tooltip("Save a new version (Ctrl+S)")
            session.gate(self.save_button, "edit")  # a viewer or tester sees it may not, before editing

    # --- after every change -----------------------------------------------------------------------

    def changed(self, redraw: bool) -> None:
        """The document changed: draw it now, validate it in the background, mark it unsaved.

        Validating a 200-node flow takes about 0.1 s: the canvas and the form answer first, and the
        problems follow as soon as they are known (only the latest edit's are shown).
        """
        self.revision += 1
        if redraw:
            self.canvas.set_graph(canvas_graph(self.state.document, self.checked, self.state.types))
        self.counts_shown = False
        if self.stale_mark is not None:  # results of another document say so (undo back: not stale)
            self.stale_mark.set_visibility(json.dumps(self.state.document) != self.tested_document)
        self.title.text = self.state.document.get("name", "")
        self.title_tip.text = self.title.text
        self._refresh_status()
        if not self.checking:
            self.checking = True
            background_tasks.create(self._check(), name="validate the flow")

    async def _check(self) -> None:
        try:
            while True:
                # Let the answer to the gesture reach the browser first (the check's thread holds the
                # GIL); this also lets a burst of keystrokes become one check.
                await asyncio.sleep(0.04)
                revision = self.revision
                document = json.loads(json.dumps(self.state.document))  # a snapshot the thread can read
                checked = await run.io_bound(designer.check_document, document, context.node_types())
                if revision == self.revision:
                    with self.dialogs:  # a background task has no slot of its own: use the page's
                        self._show_problems(checked)
                    return
        except Exception as error:  # validation never raises on a document; this is a bug: say so
            tell_error(error, "check the flow")
        finally:
            self.checking = False

    def _show_problems(self, checked: Checked) -> None:
        self.checked = checked
        self.canvas.patch_nodes(
            {
                n["id"]: node_data(n, checked.by_node.get(n["id"], []), self.state.types)
                for n in self.state.nodes
                if isinstance(n, dict) and "id" in n
            }
        )
        self.canvas.decorate_edges(edge_decorations(self.state.document, checked, types=self.state.types))
        self.panel.problems_changed(checked)
        self._refresh_status()

    def _refresh_status(self) -> None:
        problems = len(self.checked.problems)
        if problems:
            self.status_chip.text = f"{problems} problem{'s' if problems != 1 else ''}"
            self.status_chip.classes(replace="fb-chip fb-status cursor-pointer fb-chip-draft")
            self.status_tip.text = "Saved as a draft until fixed: a draft cannot be switched on. Click for the list."
        else:
            self.status_chip.text = "Valid"
            self.status_chip.classes(replace="fb-chip fb-status cursor-pointer fb-chip-ok")
            self.status_tip.text = "No problems: it can be run and switched on"
        saved = "not saved yet" if self.state.based_on == 0 else f"version {self.state.based_on}"
        self.subtitle.text = f"{self.state.document.get('id')} · {saved}" + (
            " · unsaved changes" if self.state.dirty else ""
        )
        self.undo_button.set_enabled(bool(self.state.undo_stack))
        self.redo_button.set_enabled(bool(self.state.redo_stack))
        self.test_button.set_enabled(len(self.selected_nodes) == 1)
        ui.run_javascript(f"window.fbDirty = {json.dumps(self.state.dirty)}")

    # --- canvas gestures --------------------------------------------------------------------------

    @guarded("add the node")
    def on_add(self, event: Any) -> None:
        node = self.state.add_node(event.args["type"], event.args["x"], event.args["y"])
        self.changed(True)
        self._show_selection([node["id"]])
        self.canvas.select_nodes([node["id"]])

    @guarded("add the node")
    def add_from_click(self, type_name: str) -> None:
        placed = [n.get("position", {}) for n in self.state.nodes if isinstance(n, dict)]
        x = max((p.get("x", 0) for p in placed), default=-200) + 260
        y = placed[-1].get("y", 120) if placed else 120
        self.on_add(type("Click", (), {"args": {"type": type_name, "x": x, "y": y}})())

    def on_connect(self, event: Any) -> None:
        args = event.args
        try:
            self.state.connect(args["source"], args.get("sourceHandle"), args["target"])
        except EditRefused as refused:
            ui.notify(str(refused), type="warning")
            return
        self.changed(True)

    def on_moved(self, event: Any) -> None:
        self.state.move(event.args)
        self._refresh_status()

    @property
    def selected_nodes(self) -> list[str]:
        """The selection without its sticky notes."""
        return [s for s in self.selected if self.state.node(s) is not None]

    # --- arranging and notes ----------------------------------------------------------------------

    def tidy_up(self) -> None:
        if not self.state.nodes:
            ui.notify("The flow has no nodes to tidy up yet", type="info")
            return
        self.canvas.tidy_up()  # the canvas knows each card's height; it answers with 'tidied'

    def on_tidied(self, event: Any) -> None:
        if self.state.move(event.args):
            self.changed(True)
            self.canvas.fit()
            ui.notify("Tidied up (Ctrl+Z puts it back)")
        else:
            ui.notify("Already tidy: nothing moved", type="info")

    def arrange(self, how: str) -> None:
        cards = {s: card.get("position") for s in self.selected if (card := self.state.card(s)) is not None}
        cards = {s: p for s, p in cards.items() if isinstance(p, dict)}
        refused = why_not(how, len(cards))
        if refused:
            ui.notify(refused, type="info")
            return
        if self.state.move(arranged(cards, how)):
            self.changed(True)
            self.canvas.select_nodes(self.selected)

    def add_note_in_view(self) -> None:
        self.canvas.add_note_in_view()  # the canvas knows what is in view; it answers with 'quickadd'

    def on_quick_add(self, event: Any) -> None:
        x, y = event.args["x"], event.args["y"]
        if event.args.get("note"):
            self.add_note(x, y)
            return
        if session.why_not("edit") is not None:
            return  # a viewer's double-click adds nothing (Save says why if they try to keep an edit)
        quick_add_dialog(lambda choice: self.add_note(x, y) if choice == STICKY_NOTE else self._add_at(choice, x, y))

    def _add_at(self, type_name: str, x: float, y: float) -> None:
        self.on_add(type("QuickAdd", (), {"args": {"type": type_name, "x": x, "y": y}})())

    @guarded("add the sticky note")
    def add_note(self, x: float, y: float) -> None:
        note = self.state.add_note(x, y)
        self.changed(True)
        self.selected = [note_canvas_id(note["id"])]
        self.canvas.select_nodes(self.selected)
        self.canvas.focus_note(note["id"])

    def on_note(self, event: Any) -> None:
        try:
            changed = self.state.change_note(
                event.args["id"], text=event.args.get("text"), color=event.args.get("color")
            )
        except EditRefused as refused:
            ui.notify(str(refused), type="warning")
            return
        if changed:
            # typing is drawn by the note itself; a colour is drawn by the canvas again
            self.changed(event.args.get("color") is not None)

    def on_remove(self, event: Any) -> None:
        if self.state.remove(event.args.get("nodes", []), event.args.get("edges", [])):
            self.selected = [s for s in self.selected if self.state.card(s) is not None]
            self.changed(False)
            self._show_selection(self.selected)

    def delete_nodes(self, node_ids: list[str]) -> None:
        if self.state.remove(node_ids, []):
            self.changed(True)
            self._show_selection([])
            ui.notify(
                f"Deleted {len(node_ids)} node{'s' if len(node_ids) != 1 else ''} (Ctrl+Z brings "
                f"{'them' if len(node_ids) != 1 else 'it'} back)"
            )

    def select_node(self, node_id: str) -> None:
        self.canvas.select_nodes([node_id])
        self._show_selection([node_id])

    def on_selection(self, event: Any) -> None:
        nodes = list(event.args.get("nodes", []))
        if nodes == self.selected and self.panel.selected == [n for n in nodes if self.state.node(n)]:
            return  # the panel already shows it: keep the form (and its focus) as it is
        self._show_selection(nodes)

    def find_node_dialog(self) -> None:
        """A node picked by name (or id) from a searchable list, shown and selected on the canvas."""
        names = {
            n["id"]: f"{n.get('name') or n['id']} ({n['id']})"
            for n in self.state.nodes
            if isinstance(n, dict) and isinstance(n.get("id"), str)
        }
        if not names:
            ui.notify("The flow has no nodes yet", type="info")
            return
        with ui.dialog() as dialog, ui.card().classes("w-[28rem] fb-find-node"):
            ui.label("Find a node").classes("text-lg font-semibold")

            def picked(event: Any) -> None:
                if event.value:
                    dialog.close()
                    self.canvas.show_node(event.value)
                    self._show_selection([event.value])

            ui.select(names, label="Name or id", with_input=True, on_change=picked).props(
                "dense outlined autofocus"
            ).classes("w-full").mark("find-node-select")
        dialog.open()

    def _show_selection(self, node_ids: list[str]) -> None:
        self.selected = list(node_ids)
        self.panel.show(self.selected, self.checked)
        self._refresh_status()

    def on_shortcut(self, event: Any) -> None:
        action = event.args.get("action")
        selection = event.args.get("selection", {}).get("nodes", [])
        if action == "undo":
            self.undo()
        elif action == "redo":
            self.redo()
        elif action == "save":
            self.save_dialog()
        elif action == "help":
            shortcuts_sheet()
        elif action == "tidy":
            self.tidy_up()
        elif action in ("copy", "cut", "duplicate"):
            count = self.state.copy(selection)
            if not count:
                ui.notify("Select nodes to copy first", type="info")
                return
            if action == "cut":
                self.delete_nodes(selection)
            elif action == "duplicate":
                self.paste()
            else:
                ui.notify(f"Copied {count} node{'s' if count != 1 else ''}")
        elif action == "paste":
            self.paste()
        elif action == "select_all":
            ids = [n["id"] for n in self.state.nodes if isinstance(n, dict) and "id" in n]
            self.canvas.select_nodes(ids)
            self._show_selection(ids)

    def paste(self) -> None:
        pasted = self.state.paste()
        if not pasted:
            ui.notify("Nothing to paste: copy nodes with Ctrl+C first", type="info")
            return
        self.changed(True)
        self.canvas.select_nodes(pasted)
        self._show_selection(pasted)
        ui.notify(f"Pasted {len(pasted)} node{'s' if len(pasted) != 1 else ''}")

    def undo(self) -> None:
        if self.state.undo():
            self._after_history()
        else:
            ui.notify("Nothing to undo", type="info")

    def redo(self) -> None:
        if self.state.redo():
            self._after_history()
        else:
            ui.notify("Nothing to redo", type="info")

    def _after_history(self) -> None:
        self.changed(True)
        self._show_selection([s for s in self.selected if self.state.card(s) is not None])
        self.canvas.select_nodes(self.selected)

    # --- forms ------------------------------------------------------------------------------------

    def form_services(self, node_id: str) -> FormServices:
        store = context.store()

        async def tables(connection: str) -> list[str]:
            return await run.io_bound(systems.tables, store, connection)

        async def columns(connection: str, table: str) -> list[str]:
            return await run.io_bound(systems.columns, store, connection, table)

        async def required_columns(connection: str, table: str) -> list[str]:
            return await run.io_bound(systems.required_columns, store, connection, table)

        return FormServices(
            connection_names=lambda: systems.connection_names(store),
            tables=tables,
            columns=columns,
            required_columns=required_columns,
            samples=lambda: self.sample_records(node_id),
            value_maps=lambda: self.state.document.get("value_maps") or {},
        )

    def emitted(self, node_id: str) -> list[dict[str, Any]] | None:
        """What a node sent on in the latest test, while that test is of the document as it is."""
        if self.last_test is None or json.dumps(self.state.document) != self.tested_document:
            return None
        found = self.last_test.node(node_id)
        return [r for records in found.ports.values() for r in records] if found else None

    async def open_mapper(self, node_id: str) -> None:
        """The map node's field mapper, in a dialog; the side panel shows what it changed on close."""
        with self.dialogs:
            mapper = FieldMapper(
                self.state,
                node_id,
                self.form_services(node_id),
                changed=self.changed,
                closed=lambda: self._show_selection(list(self.selected)),
            )
            await mapper.open()

    async def sample_records(self, node_id: str) -> tuple[list[dict[str, Any]], str | None]:
        """The records that reach a node in a test, computed once per shape of what lies upstream."""
        upstream = previews._part(self.state.document, previews._ancestors(self.state.document, node_id))
        key = f"{node_id}:{json.dumps(upstream, sort_keys=True, default=str)}"
        if key not in self.samples:
            # Let the form that asks reach the browser first: the test run's thread competes for the GIL.
            await asyncio.sleep(0.06)
        if key not in self.samples:
            document = copy.deepcopy(self.state.document)
            self.samples[key] = asyncio.ensure_future(
                run.io_bound(previews.sample_inputs, context.store(), document, node_id, types=context.node_types())
            )
        try:
            return await asyncio.shield(self.samples[key])
        except Exception as error:  # no samples is not an error of the form: say why, once
            return [], str(error)

    # --- test, run, save, history, export ---------------------------------------------------------

    def test_selected(self) -> None:
        if len(self.selected_nodes) != 1:
            ui.notify("Select one node to test", type="info")
            return
        background = self.test_node(self.selected_nodes[0])
        return background

    @guarded("test the node")
    async def test_node(self, node_id: str) -> None:
        if not session.permit("run", "sandbox"):
            spinner_done()
            return
        tested = json.dumps(self.state.document)
        try:
            result = await run.io_bound(
                previews.test_node,
                context.store(),
                json.loads(tested),
                node_id,
                types=context.node_types(),
            )
        finally:
            spinner_done()
        opened = not self.results.visible
        self.last_test, self.tested_document = result, tested
        self.stale_mark = show_results(self.results, result, on_close=lambda: self.canvas.fit(after_resize=True))
        if opened:
            self.canvas.fit(after_resize=True)  # the canvas got shorter: keep every node in sight
        if not result.ok:
            ui.notify(result.message, type="warning", multi_line=True)
            return
        ui.notify(f"Test of '{node_id}': {result.message}", type="positive", multi_line=True)
        self._show_counts(
            {n.node_id: n.counts for n in result.nodes},
            {(e["from"], e["port"], e["to"]): e["count"] for e in result.edges},
        )

    async def _follow_run(self, run_id: str, document: dict[str, Any]) -> None:
        """While a run goes: each node's counts so far on the canvas, each edge's records."""
        ledger = await run.io_bound(run_reads.live_ledger, context.store(), run_id)
        if ledger:
            self._show_counts(ledger, live_edge_counts(document, ledger, self.state.types))

    def _show_counts(self, by_node: dict[str, dict[str, Any]], by_edge: dict[tuple[str, str, str], int]) -> None:
        patches = {
            n["id"]: {"counts": by_node.get(n["id"])} for n in self.state.nodes if isinstance(n, dict) and "id" in n
        }
        self.canvas.patch_nodes(patches)
        self.canvas.decorate_edges(edge_decorations(self.state.document, self.checked, by_edge, self.state.types))
        self.counts_shown = True

    @guarded("dry-run the flow")
    async def dry_run(self, env: str) -> None:
        """Run the flow as drawn without writing, and show what it would change."""
        if not session.permit("run", env):
            spinner_done()
            return
        document = json.loads(json.dumps(self.state.document))  # a snapshot the thread can read
        try:
            report = await run.io_bound(
                dry_run_document,
                context.store(),
                document,
                based_on=self.state.based_on,
                dirty=self.state.dirty,
                env=env,
                who=session.principal(),
                types=context.node_types(),
            )
        finally:
            spinner_done()
        if report.result is None:
            self._show_problems(report.checked)
            ui.notify(refusal(report), type="warning", multi_line=True, timeout=10000)
            return
        self._show_counts(
            report.result.ledger.summary(),
            {(e["from"], e["port"], e["to"]): e["count"] for e in report.result.ledger.edge_summary()},
        )
        with self.dialogs:
            show_dry_run(report)

    def confirm_production(self) -> None:
        if not session.permit("run", "production"):
            return
        with self.dialogs, ui.dialog() as dialog, ui.card():
            dialog.on("hide", dialog.delete)
            ui.label("Run in production?").classes("text-lg font-semibold")
            ui.label("The saved version runs against the production systems and writes to them.")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Run in production", on_click=lambda: (dialog.close(), self.run_saved("production"))).props(
                    "unelevated no-caps color=negative"
                )
        dialog.open()

    @guarded("run the flow")
    async def run_saved(self, env: str) -> None:
        if not session.permit("run", env):
            spinner_done()
            return
        if env == "production":
            ui.run_javascript(
                "window.fbBusy = Quasar.Notify.create({message: 'Running in production…', "
                "spinner: true, timeout: 0, group: false})"
            )
        if self.state.based_on == 0:
            spinner_done()
            ui.notify("Save the flow first: a run uses the saved version", type="warning")
            return
        if self.state.dirty:
            ui.notify(
                f"Running version {self.state.based_on}, the saved one; your unsaved changes are not in it", type="info"
            )
        document, version = flow_reads.document(context.store(), self.state.document["id"], self.state.based_on)
        if designer.check_document(document, context.node_types()).problems:
            spinner_done()
            ui.notify(
                f"Version {version} is a draft with problems; fix them and save before running it", type="warning"
            )
            return
        run_id = new_run_id()  # known before it starts, so the canvas can follow it
        with self.dialogs:  # the page's own slot: the menu that started the run closes
            follower = ui.timer(LIVE_SECONDS, lambda: self._follow_run(run_id, document))
        try:
            result = await run.io_bound(
                door.start,
                context.store(),
                session.principal(),
                door.RunStart(env=env, document=document, version=version, types=context.node_types(), run_id=run_id),
            )
        finally:
            follower.cancel()
            spinner_done()
        totals = totals_text(result.totals) if any(result.totals.values()) else ""
        kind = "positive" if result.status == "succeeded" else "warning" if result.status == "partial" else "negative"
        ui.notify(
            f"Run {result.status}: {totals or 'nothing to do'}" + (f" — {result.error}" if result.error else ""),
            type=kind,
            multi_line=True,
            timeout=8000,
            actions=[
                {
                    "label": "Details",
                    "color": "white",
                    ":handler": f"() => window.location.href = '/runs/{result.run_id}'",
                }
            ],
        )
        self._show_counts(
            result.ledger.summary(), {(e["from"], e["port"], e["to"]): e["count"] for e in result.ledger.edge_summary()}
        )

    def history(self) -> None:
        if self.state.based_on == 0:
            ui.notify("This flow has not been saved yet: it has no history", type="info")
            return
        with self.dialogs:
            open_history(self.state.document["id"], lambda: self.state.document, self.restore)

    def restore(self, document: dict[str, Any], version: int) -> None:
        document = {**copy.deepcopy(document), "id": self.state.document["id"]}
        layout_missing(document)
        self.state.replace(document)
        self.changed(True)
        self._show_selection([])
        ui.notify(
            f"Version {version} is back in the editor; save to make it the current version (Ctrl+Z undoes)",
            type="positive",
            multi_line=True,
        )

    def export(self) -> None:
        document = self.state.document
        ui.download.content(
            json.dumps(document, indent=2, ensure_ascii=False).encode(), f"{document['id']}.json", "application/json"
        )
        ui.notify(f"Exported {document['id']}.json")

    def save_dialog(self) -> None:
        if not session.permit("edit"):
            return
        self.checked = designer.check_document(
            self.state.document, context.node_types()
        )  # the latest edit's problems, not the last shown
        problems = len(self.checked.problems)
        with self.dialogs, ui.dialog() as dialog, ui.card().classes("w-[28rem] gap-3 fb-save-dialog"):
            dialog.on("hide", dialog.delete)
            ui.label("Save a new version").classes("text-lg font-semibold")
            # Signed in, the version is theirs: the name is shown, not asked. Only an open server
            # without users asks who is saving.
            signed_in = not session.is_open()
            author = (
                ui.input(
                    "Saved by (signed in)" if signed_in else "Your name",
                    value=session.actor_name() if signed_in else app.storage.user.get("author", ""),
                )
                .props("outlined dense" + (" readonly" if signed_in else ""))
                .classes("w-full fb-author")
                .mark("author")
            )
            comment = (
                ui.input("What changed?", placeholder="e.g. lower-case e-mails")
                .props("outlined dense autofocus")
                .classes("w-full fb-comment")
                .mark("comment")
            )
            if problems:
                ui.label(
                    f"This flow has {problems} problem{'s' if problems != 1 else ''}: it is saved as a draft, "
                    "and cannot be switched on until they are fixed."
                ).classes("fb-problem-box w-full")

            async def save() -> None:
                if not (author.value or "").strip():
                    spinner_done()
                    ui.notify("Say who you are: the history shows who saved each version", type="warning")
                    return
                if not signed_in:
                    app.storage.user["author"] = author.value.strip()
                dialog.close()
                await self.save(author.value, comment.value or "")

            comment.on("keydown.enter", save)
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                instant_spinner(
                    ui.button("Save draft" if problems else "Save", icon="save", on_click=save), "Saving…"
                ).props("unelevated no-caps").classes("fb-save-confirm").mark("save-confirm")
        dialog.open()

    @guarded("save the flow")
    async def save(self, author: str, comment: str, *, as_copy: bool = False) -> None:
        if not session.permit("edit"):
            spinner_done()
            return
        try:
            await self._save(author, comment, as_copy=as_copy)
        finally:
            spinner_done()

    async def _save(self, author: str, comment: str, *, as_copy: bool = False) -> None:
        document = self.state.document
        if as_copy:
            document = {
                **copy.deepcopy(document),
                "id": designer.copy_id(context.store(), document["id"]),
                "name": f"{document.get('name', document['id'])} (copy)",
            }
        try:
            version, draft = designer.save_document(
                context.store(),
                document,
                who=session.principal(),
                comment=comment,
                based_on=0 if as_copy else self.state.based_on,
                types=context.node_types(),
            )
        except VersionConflict as conflict:
            self.conflict_dialog(conflict, author, comment)
            return
        if as_copy:
            ui.notify(f"Saved as a new flow '{document['id']}'", type="positive")
            self.state.dirty = False
            ui.run_javascript("window.fbDirty = false")
            ui.navigate.to(f"/flows/{document['id']}")
            return
        self.state.saved(version)
        if self.is_new:
            self.is_new = False
            ui.run_javascript(f"history.replaceState(null, '', '/flows/{document['id']}')")
        ui.notify(
            f"Saved version {version}" + (f" as a draft ({len(self.checked.problems)} problems)" if draft else ""),
            type="warning" if draft else "positive",
        )
        self._refresh_status()

    def conflict_dialog(self, conflict: VersionConflict, author: str, comment: str) -> None:
        latest = conflict.latest
        with self.dialogs, ui.dialog() as dialog, ui.card().classes("w-[32rem] gap-3 fb-conflict"):
            dialog.on("hide", dialog.delete)
            ui.label("Someone saved this flow meanwhile").classes("text-lg font-semibold")
            ui.label(
                f"{latest.author or 'Someone'} saved version {latest.version} at "
                f"{latest.created_at:%Y-%m-%d %H:%M} UTC, after the version {self.state.based_on} you opened. "
                "Your changes are not saved: nothing was overwritten."
            ).classes("fb-conflict-text")
            if latest.comment:
                ui.label(f"Their comment: “{latest.comment}”").classes("fb-muted text-sm")

            def open_theirs() -> None:
                ui.run_javascript("window.fbDirty = false")
                ui.navigate.to(f"/flows/{self.state.document['id']}")

            async def save_copy() -> None:
                dialog.close()
                await self.save(author, comment, as_copy=True)

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Open their version", icon="open_in_new", on_click=open_theirs).props(
                    "outline no-caps"
                ).classes("fb-open-theirs")
                ui.button("Save mine as a copy", icon="content_copy", on_click=save_copy).props(
                    "unelevated no-caps"
                ).classes("fb-save-copy")
        dialog.open()


def not_found(flow_id: str) -> None:
    with ui.column().classes("w-full items-center py-24 gap-2"):
        ui.icon("search_off").classes("text-5xl text-slate-300")
        ui.label(f"There is no flow '{flow_id}'.").classes("text-lg")
        ui.link("Back to the flows", "/")


__all__ = ["Editor", "not_found", "tell_error"]
