"""The Flows page: every stored flow with its health, search, create, import, switch on and off, run."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from nicegui import events, run, ui

from app.engine.problems import one_line
from app.services import designer
from app.services.runs import run_flow
from app.store import flows as flow_store
from app.ui import context
from app.ui.feedback import guarded, instant_spinner, spinner_done, tell_error
from app.ui.frame import frame


def _when(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


@ui.page("/")
def flows_page() -> None:
    with frame("Flows", active="Flows"):
        with ui.row().classes("w-full items-end justify-between"):
            with ui.column().classes("gap-0"):
                ui.label("Flows").classes("text-2xl font-semibold")
                ui.label("Sync flows between your systems. Open one to draw, test and save it.").classes("fb-muted")
            with ui.row().classes("gap-2"):
                ui.button("Import JSON", icon="upload_file", on_click=lambda: import_dialog.open()) \
                    .props("outline no-caps").classes("fb-import")
                ui.button("New flow", icon="add", on_click=lambda: new_dialog.open()).props("no-caps unelevated") \
                    .classes("fb-new-flow")
        search = ui.input(placeholder="Search flows by name, id or description") \
            .props("outlined dense clearable").classes("w-full fb-search").mark("flow-search")
        with ui.element("div").classes("w-full"):
            listing = FlowList()
            listing.render()
        search.on_value_change(lambda e: listing.search(e.value or ""))
        new_dialog = _new_flow_dialog()
        import_dialog = _import_dialog(listing)


class FlowList:
    def __init__(self) -> None:
        self.text = ""

    def search(self, text: str) -> None:
        self.text = text
        self.render.refresh()

    @ui.refreshable_method
    def render(self) -> None:
        try:
            summaries = designer.flow_summaries(context.store(), self.text)
        except Exception as error:  # the store is unreachable: say so instead of an empty page
            tell_error(error, "list the flows")
            summaries = []
        if not summaries:
            with ui.column().classes("w-full items-center py-16 fb-card"):
                ui.icon("account_tree").classes("text-5xl text-slate-300")
                ui.label("No flows match." if self.text else "No flows yet. Create one or import a JSON document.") \
                    .classes("fb-muted")
            return
        with ui.column().classes("w-full gap-2"):
            for summary in summaries:
                self._row(summary)

    def _row(self, summary: designer.FlowSummary) -> None:
        with ui.row().classes("w-full items-center no-wrap gap-4 px-4 py-3 fb-card fb-flow-row") \
                .props(f'data-flow-id="{summary.id}"'):
            with ui.column().classes("gap-0 fb-flow-main"):
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.link(summary.name, f"/flows/{summary.id}").classes("text-base font-semibold no-underline fb-flow-name")
                    if summary.draft:
                        ui.label(f"Draft · {summary.problems} problem{'s' if summary.problems != 1 else ''}") \
                            .classes("fb-chip fb-chip-draft")
                    else:
                        ui.label("Valid").classes("fb-chip fb-chip-ok")
                ui.label(summary.description or "No description").classes("fb-muted text-sm truncate w-full")
                ui.label(f"{summary.id} · version {summary.version} · {summary.nodes} nodes · saved "
                         f"{_when(summary.updated_at)}{' by ' + summary.author if summary.author else ''}") \
                    .classes("fb-muted text-xs")
            actions = ui.row().classes("fb-flow-actions items-center no-wrap gap-1")
            with actions:
                self._actions(summary)

    def _actions(self, summary: designer.FlowSummary) -> None:
        switch = ui.switch("On" if summary.enabled else "Off", value=summary.enabled).classes("fb-switch") \
            .mark(f"switch-{summary.id}")
        switch.on_value_change(lambda e, s=summary, sw=switch: self._switch(s, sw, e.value))
        instant_spinner(ui.button("Run", icon="play_arrow", on_click=lambda s=summary: self._run(s)),
                        f"Running '{summary.name}' in the sandbox…") \
            .props("flat no-caps").tooltip("Run now in the sandbox")
        ui.button(icon="download", on_click=lambda s=summary: self._export(s)).props("flat round") \
            .tooltip("Export JSON")
        ui.button("Open", icon="edit", on_click=lambda s=summary: ui.navigate.to(f"/flows/{s.id}")) \
            .props("unelevated no-caps color=primary")

    def _switch(self, summary: designer.FlowSummary, switch: ui.switch, value: bool) -> None:
        if value == summary.enabled:
            return
        try:
            designer.set_enabled(context.store(), summary.id, value)
            ui.notify(f"'{summary.name}' is switched {'on' if value else 'off'}", type="positive")
        except Exception as error:
            tell_error(error, f"switch '{summary.name}' {'on' if value else 'off'}")
        self.render.refresh()

    @guarded("run the flow")
    async def _run(self, summary: designer.FlowSummary) -> None:
        try:
            document, version = flow_store.get_document(context.store(), summary.id)
            result = await run.io_bound(run_flow, context.store(), document, version=version, env="sandbox")
        finally:
            spinner_done()
        totals = " · ".join(f"{v} {k}" for k, v in result.totals.items() if v)
        kind = "positive" if result.status == "succeeded" else "warning" if result.status == "partial" else "negative"
        ui.notify(f"Run {result.status}: {totals or 'nothing to do'}" + (f" — {result.error}" if result.error else ""),
                  type=kind, multi_line=True,
                  actions=[{"label": "Details", "color": "white",
                            ":handler": f"() => window.location.href = '/runs/{result.run_id}'"}])

    @guarded("export the flow")
    def _export(self, summary: designer.FlowSummary) -> None:
        document, _ = flow_store.get_document(context.store(), summary.id)
        ui.download.content(json.dumps(document, indent=2, ensure_ascii=False).encode(), f"{summary.id}.json",
                            "application/json")


def _new_flow_dialog() -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-[28rem] gap-3"):
        ui.label("New flow").classes("text-lg font-semibold")
        name = ui.input("Name", placeholder="e.g. CRM accounts → ERP customers").props("outlined autofocus") \
            .classes("w-full fb-new-name")
        flow_id = ui.input("Id", placeholder="crm_accounts_to_erp_customers").props("outlined").classes("w-full fb-new-id")
        ui.label("The id names the flow in runs, files and the command line; letters, digits, '-', '_'.") \
            .classes("fb-muted text-xs")
        touched = {"id": False}
        name.on_value_change(lambda e: None if touched["id"] else flow_id.set_value(designer.slug(e.value or "")))
        flow_id.on("keydown", lambda: touched.update(id=True))

        def create() -> None:
            chosen = (flow_id.value or designer.slug(name.value or "")).strip()
            if not (name.value or "").strip():
                ui.notify("Give the flow a name", type="warning")
                return
            if chosen in {f.id for f in flow_store.list_flows(context.store())}:
                ui.notify(f"There is already a flow '{chosen}'; choose another id", type="warning")
                return
            ui.navigate.to("/flows/new?" + urlencode({"name": name.value.strip(), "id": chosen}))

        name.on("keydown.enter", create)
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Create", icon="add", on_click=create).props("unelevated no-caps").classes("fb-create")
    return dialog


def _import_dialog(listing: FlowList) -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-[36rem] gap-3"):
        ui.label("Import a flow document").classes("text-lg font-semibold")
        ui.label("A JSON file as exported by Flowbridge. It is checked before anything is stored; "
                 "importing a flow that exists stores it as its next version.").classes("fb-muted text-sm")
        report = ui.column().classes("w-full gap-1")

        async def received(event: events.UploadEventArguments) -> None:
            report.clear()
            data = await event.file.read()
            document, problems = designer.read_import(data)
            name = event.file.name
            with report:
                if document is None:
                    ui.label(f"{name} cannot be read:").classes("font-semibold text-negative")
                    for problem in problems:
                        ui.label(one_line(problem.message)).classes("fb-problem-box w-full fb-import-problem")
                    return
                if problems:
                    ui.label(f"{name} has {len(problems)} problem(s):").classes("font-semibold text-negative")
                    with ui.column().classes("w-full gap-1 max-h-64 overflow-auto"):
                        for problem in problems:
                            ui.label(one_line(str(problem))).classes("fb-problem-box w-full fb-import-problem")
                    ui.button("Import anyway as a draft", icon="warning",
                              on_click=lambda: store_it(document, True)).props("outline no-caps color=negative")
                    return
            store_it(document, False)

        def store_it(document: dict[str, Any], draft: bool) -> None:
            try:
                version = designer.import_document(context.store(), document, author="import", allow_draft=draft)
            except Exception as error:
                tell_error(error, "import the flow")
                return
            ui.notify(f"Imported '{document.get('name', document.get('id'))}' as version {version}"
                      + (" (draft)" if draft else ""), type="positive")
            dialog.close()
            report.clear()
            listing.render.refresh()

        ui.upload(label="Choose or drop a .json file", auto_upload=True, max_file_size=5 * 1024 * 1024,
                  on_upload=received, on_rejected=lambda: ui.notify("The file is larger than 5 MB", type="negative")) \
            .props('accept=".json,application/json" flat bordered').classes("w-full fb-upload")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
    return dialog
