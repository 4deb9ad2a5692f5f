"""The Flows page, the admin's view: per flow its health, on/off switch, trigger, next and last run,
failures in the last 24 hours and Run now; open alerts on top; search, create, import."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode

from nicegui import events, run, ui

from app.problems import one_line
from app.services import alerts, designer, flow_reads, operations, overview, run_reads, switches
from app.ui import context, session
from app.ui.feedback import guarded, instant_spinner, short, spinner_done, tell_error
from app.ui.frame import frame
from app.ui.moments import ago, when
from app.ui.run_chips import STATUS_CHIP, env_chip

REFRESH_SECONDS = 15  # the list follows runs, schedules and alerts made elsewhere this often
FOLLOW_SECONDS = 600  # how long Run now waits to tell how the run ended
ALERT_ICONS = {"run_failed": "error", "switched_off": "power_settings_new", "stale": "hourglass_bottom"}


def trigger_icon(words: str) -> str:
    if words.startswith(("cron", "every")):
        return "schedule"
    return {"webhook": "webhook", "manual": "touch_app"}.get(words, "help_outline")


def open_run_action(run_id: str) -> dict[str, str]:
    """A notification button that opens the run's page."""
    return {"label": "Open run", "color": "white", ":handler": f"() => window.location.href = '/runs/{run_id}'"}


@ui.page("/")
def flows_page() -> None:
    with frame("Flows", active="Flows"):
        with ui.row().classes("w-full items-end justify-between"):
            with ui.column().classes("gap-0"):
                ui.label("Flows").classes("text-2xl font-semibold")
                ui.label(
                    "Sync flows between your systems: switch them on, run them, open one to draw, test and save it."
                ).classes("fb-muted")
            with ui.row().classes("gap-2"):
                ui.button("Import JSON", icon="upload_file", on_click=lambda: import_dialog.open()).props(
                    "outline no-caps"
                ).classes("fb-import")
                ui.button("New flow", icon="add", on_click=lambda: new_dialog.open()).props(
                    "no-caps unelevated"
                ).classes("fb-new-flow")
        alert_panel = AlertPanel()
        alert_panel.render()
        search = (
            ui.input(placeholder="Search flows by name, id or description")
            .props("outlined dense clearable")
            .classes("w-full fb-search")
            .mark("flow-search")
        )
        with ui.element("div").classes("w-full"):
            listing = FlowList(alert_panel)
            listing.render()
        search.on_value_change(lambda e: listing.search(e.value or ""))
        new_dialog = _new_flow_dialog()
        import_dialog = _import_dialog(listing)
        ui.timer(REFRESH_SECONDS, listing.follow)


class AlertPanel:
    """Open alerts (failed runs, flows switched off, flows not synced for too long), newest first."""

    def __init__(self) -> None:
        self.shown: list[int] = []

    def changed(self) -> bool:
        return [a.id for a in alerts.open_alerts(context.store(), limit=50)] != self.shown

    @ui.refreshable_method
    def render(self) -> None:
        try:
            found = alerts.open_alerts(context.store(), limit=50)
        except Exception as error:  # the store is unreachable: the flow list says so too
            tell_error(error, "list the alerts")
            found = []
        self.shown = [a.id for a in found]
        if not found:
            return
        with ui.column().classes("w-full gap-0 fb-card fb-alerts"):
            with ui.row().classes("w-full items-center px-4 py-2 gap-2 fb-alerts-head"):
                ui.icon("notifications_active").classes("text-xl text-negative")
                ui.label(f"Open alerts ({len(found)})").classes("font-semibold")
                ui.space()
                ui.button(
                    "Acknowledge all", icon="done_all", on_click=lambda: self.acknowledge([a.id for a in found])
                ).props("flat dense no-caps").mark("ack-all")
            for alert in found[:8]:
                with (
                    ui.row()
                    .classes("w-full items-center no-wrap gap-3 px-4 py-2 fb-alert")
                    .props(f'data-alert-id="{alert.id}"')
                ):
                    ui.icon(ALERT_ICONS.get(alert.kind, "warning")).classes("text-lg text-negative")
                    with ui.column().classes("gap-0 min-w-0 grow"):
                        ui.label(one_line(alert.message)).classes("text-sm fb-alert-message")
                        with ui.row().classes("gap-2 items-center fb-muted text-xs"):
                            ui.link(alert.flow_id, f"/runs?flow={alert.flow_id}").classes("no-underline")
                            ui.label(f"{when(alert.created_at)} · {ago(alert.created_at)}")
                            if alert.run_id:
                                ui.link(f"run {alert.run_id}", f"/runs/{alert.run_id}").classes("no-underline")
                    ui.button("Acknowledge", icon="check", on_click=lambda a=alert: self.acknowledge([a.id])).props(
                        "outline dense no-caps"
                    ).classes("fb-ack").mark(f"ack-{alert.id}")
            if len(found) > 8:
                ui.label(f"and {len(found) - 8} more; acknowledge these to see them.").classes(
                    "fb-muted text-xs px-4 pb-2"
                )

    @guarded("acknowledge the alert")
    def acknowledge(self, alert_ids: list[int]) -> None:
        for alert_id in alert_ids:
            alerts.acknowledge(context.store(), alert_id, who=session.principal())
        ui.notify(f"Acknowledged {len(alert_ids)} alert{'s' if len(alert_ids) != 1 else ''}", type="positive")
        self.render.refresh()


class FlowList:
    def __init__(self, alert_panel: AlertPanel | None = None) -> None:
        self.text = ""
        self.alert_panel = alert_panel
        self.shown: list[dict[str, Any]] = []
        # What a handler shows after the list was redrawn goes here: its own button is gone by then.
        self.home = ui.context.slot.parent

    def search(self, text: str) -> None:
        self.text = text
        self.render.refresh()

    def follow(self) -> None:
        """Redraw when runs, schedules or switches changed elsewhere (the timer calls this)."""
        try:
            if overview.flow_rows(context.store(), context.scheduler(), context.node_types()) != self.shown:
                self.render.refresh()
            if self.alert_panel and self.alert_panel.changed():
                self.alert_panel.render.refresh()
        except Exception as error:  # the store went away: say it once per check, keep the page
            tell_error(error, "refresh the flows")

    @ui.refreshable_method
    def render(self) -> None:
        try:
            summaries = designer.flow_summaries(context.store(), self.text, context.node_types())
            self.shown = overview.flow_rows(context.store(), context.scheduler(), context.node_types())
        except Exception as error:  # the store is unreachable: say so instead of an empty page
            tell_error(error, "list the flows")
            summaries = []
        if not summaries:
            with ui.column().classes("w-full items-center py-16 fb-card"):
                ui.icon("account_tree").classes("text-5xl text-slate-300")
                ui.label(
                    "No flows match." if self.text else "No flows yet. Create one or import a JSON document."
                ).classes("fb-muted")
            return
        operational = {row["id"]: row for row in self.shown}
        with ui.column().classes("w-full gap-2"):
            for summary in summaries:
                self._row(summary, operational.get(summary.id) or {})

    def _row(self, summary: designer.FlowSummary, ops: dict[str, Any]) -> None:
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-4 py-3 fb-card fb-flow-row")
            .props(f'data-flow-id="{summary.id}"')
        ):
            with ui.column().classes("gap-0 fb-flow-main"):
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.link(summary.name, f"/flows/{summary.id}").classes(
                        "text-base font-semibold no-underline fb-flow-name"
                    )
                    if summary.draft:
                        ui.label(f"Draft · {summary.problems} problem{'s' if summary.problems != 1 else ''}").classes(
                            "fb-chip fb-chip-draft"
                        )
                    else:
                        ui.label("Valid").classes("fb-chip fb-chip-ok")
                ui.label(summary.description or "No description").classes("fb-muted text-sm truncate w-full")
                ui.label(
                    f"{summary.id} · version {summary.version} · {summary.nodes} nodes · saved "
                    f"{when(summary.updated_at)}{' by ' + summary.author if summary.author else ''}"
                ).classes("fb-muted text-xs")
                self._operations(summary, ops)
            with ui.row().classes("fb-flow-actions items-center no-wrap gap-1"):
                self._actions(summary, ops)

    def _operations(self, summary: designer.FlowSummary, ops: dict[str, Any]) -> None:
        """Trigger · next run · last run · failures in 24 h, one line of facts."""
        trigger = ops.get("trigger", "no trigger")
        with ui.row().classes("items-center gap-x-4 gap-y-1 mt-1 fb-flow-ops"):
            with ui.row().classes("fb-fact fb-trigger items-center gap-1 no-wrap"):
                ui.icon(trigger_icon(trigger)).classes("text-base")
                ui.label(trigger)
            with ui.row().classes("fb-fact fb-next-run items-center gap-1 no-wrap"):
                ui.icon("event").classes("text-base")
                next_run = ops.get("next_run")
                if next_run:
                    ui.label(f"next {when(next_run)} ({ago(next_run)})")
                else:
                    ui.label("next —")
                    ui.tooltip(
                        "Off: nothing is scheduled"
                        if not summary.enabled
                        else "Runs when it is called (webhook) or started by hand"
                        if not trigger.startswith(("cron", "every"))
                        else "No scheduler runs in this process"
                    )
            last = ops.get("last_run")
            with ui.row().classes("fb-fact fb-last-run items-center gap-1 no-wrap"):
                ui.icon("history").classes("text-base")
                if last:
                    ui.label("last")
                    ui.label(last["status"]).classes(f"fb-chip {STATUS_CHIP.get(last['status'], 'fb-chip-neutral')}")
                    env_chip(last.get("env") or "sandbox")
                    ui.link(
                        f"{when(last['started_at'])} · {ago(last['started_at'])}", f"/runs/{last['run_id']}"
                    ).classes("no-underline fb-last-run-link")
                else:
                    ui.label("never run")
            waiting = ops.get("queued", 0)
            if waiting:
                with ui.link(target=f"/runs?flow={summary.id}&status=queued").classes(
                    "fb-fact fb-queued no-underline flex items-center gap-1 no-wrap"
                ):
                    ui.icon("hourglass_top").classes("text-base")
                    ui.label(f"{waiting:,} queued")
            failures, partial = ops.get("failures_24h", 0), ops.get("partial_24h", 0)
            with ui.link(target=f"/runs?flow={summary.id}&status=failed").classes(
                "fb-fact fb-failures no-underline flex items-center gap-1 no-wrap"
                + (" fb-failures-some" if failures else "")
            ):
                ui.icon("error_outline" if failures else "warning_amber" if partial else "check_circle").classes(
                    "text-base"
                )
                ui.label(f"{failures:,} failed run{'s' if failures != 1 else ''} in 24 h")
            if partial:  # a run that left records failed is no success to mark with a check
                with ui.link(target=f"/runs?flow={summary.id}&status=partial").classes(
                    "fb-fact fb-failures fb-failures-some no-underline flex items-center gap-1 no-wrap"
                ):
                    ui.label(f"{partial:,} partial (records failed)").mark(f"partial-runs-{summary.id}")

    def _actions(self, summary: designer.FlowSummary, ops: dict[str, Any]) -> None:
        switch = (
            instant_spinner(
                ui.switch("On" if summary.enabled else "Off", value=summary.enabled),
                f"Switching '{short(summary.name)}' {'off' if summary.enabled else 'on'}…",
            )
            .classes("fb-switch")
            .mark(f"switch-{summary.id}")
        )
        trigger = str(ops.get("trigger") or "on its trigger")
        switch.on_value_change(lambda e, s=summary: self._switch(s, e.value, trigger))
        session.gate(switch, "switch")
        run_now = (
            instant_spinner(
                ui.button("Run now", icon="play_arrow", on_click=lambda s=summary: self._run(s)),
                f"Starting '{short(summary.name)}' in the sandbox…",
            )
            .props("flat no-caps")
            .classes("fb-run-now")
            .mark(f"run-{summary.id}")
        )
        if session.why_not("run", "sandbox") is None:
            run_now.tooltip("Run now in the sandbox")
        session.gate(run_now, "run", "sandbox")
        with ui.button(icon="more_vert").props("flat round").classes("fb-flow-menu").mark(f"menu-{summary.id}"):
            with ui.menu().props("auto-close"):
                ui.menu_item("Switch history", on_click=lambda s=summary: self._switch_history(s)).classes(
                    "fb-switch-history"
                ).mark(f"switch-history-{summary.id}")
                ui.menu_item("Runs of this flow", on_click=lambda s=summary: ui.navigate.to(f"/runs?flow={s.id}"))
                ui.menu_item("Dead letters", on_click=lambda s=summary: ui.navigate.to(f"/dead-letters?flow={s.id}"))
                ui.menu_item("Test cases", on_click=lambda s=summary: ui.navigate.to(f"/flows/{s.id}/tests")).mark(
                    f"tests-{summary.id}"
                )
                ui.menu_item("Export JSON", on_click=lambda s=summary: self._export(s)).mark(f"export-{summary.id}")
        ui.button("Open", icon="edit", on_click=lambda s=summary: ui.navigate.to(f"/flows/{s.id}")).props(
            "unelevated no-caps color=primary"
        )

    async def _switch(self, summary: designer.FlowSummary, value: bool, trigger: str) -> None:
        if value == summary.enabled:
            spinner_done()
            return
        if not session.permit("switch"):
            spinner_done()
            await self.render.refresh()  # the switch goes back to where it was
            return
        reason = ""
        if not (value and summary.draft):  # a draft is refused at once, saying why: nothing to confirm
            spinner_done()
            confirmed = await self._confirm_switch(summary, value, trigger)
            if confirmed is None:
                await self.render.refresh()  # cancelled: the switch goes back to where it was
                return
            reason = confirmed
        try:
            await run.io_bound(
                switches.switch,
                context.store(),
                summary.id,
                value,
                who=session.principal(),
                reason=reason,
                types=context.node_types(),
            )
        except Exception as error:
            await self.render.refresh()  # the switch goes back to where it was
            with self.home:  # the switch this handler belongs to was replaced by the refresh
                spinner_done()
                tell_error(error, f"switch '{short(summary.name)}' {'on' if value else 'off'}")
            return
        scheduler = context.scheduler()
        next_run = scheduler.next_run(summary.id) if value and scheduler is not None else None
        await self.render.refresh()
        with self.home:
            spinner_done()
            ui.notify(
                f"'{short(summary.name)}' is switched {'on' if value else 'off'}"
                + (f"; next run {when(next_run)} ({ago(next_run)})" if next_run else ""),
                type="positive",
            )

    async def _confirm_switch(self, summary: designer.FlowSummary, value: bool, trigger: str) -> str | None:
        """Ask before a switch: on names where and when the flow will run; off asks why (kept in
        the switch history). The reason given, "" for on, or None when cancelled."""
        with ui.dialog() as dialog, ui.card().classes("w-[40rem] gap-3 fb-switch-dialog").mark("switch-dialog"):
            dialog.on("hide", dialog.delete)
            if value:
                first = switches.first_run_once_on(context.store(), summary.id, context.node_types())
                ui.label(f"Switch '{summary.name}' on?").classes("text-lg font-semibold")
                ui.label(
                    "It will run in production, on the production systems: "
                    + (
                        f"{trigger}, first {when(first)} ({ago(first)})."
                        if first
                        else f"{trigger} — whenever its webhook is called or it is started by hand."
                    )
                ).mark("switch-where-when")
                reason = None
            else:
                ui.label(f"Switch '{summary.name}' off?").classes("text-lg font-semibold")
                ui.label("It will not run again until switched on. Why? (kept in its switch history)")
                reason = (
                    ui.input("Reason *")
                    .props("dense outlined autofocus")
                    .classes("w-full fb-switch-reason")
                    .mark("switch-reason")
                )
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps").mark("switch-cancel")
                confirm = (
                    ui.button(
                        "Switch on" if value else "Switch off",
                        on_click=lambda: dialog.submit((reason.value or "").strip() if reason is not None else ""),
                    )
                    .props("unelevated no-caps")
                    .classes("fb-switch-confirm")
                    .mark("switch-confirm")
                )
                if reason is not None:
                    confirm.bind_enabled_from(reason, "value", backward=lambda text: bool((text or "").strip()))
        answer = await dialog
        return answer if isinstance(answer, str) else None

    def _switch_history(self, summary: designer.FlowSummary) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-[40rem] gap-3 fb-switch-history-dialog"):
            dialog.on("hide", dialog.delete)
            ui.label(f"Switch history of '{summary.name}'").classes("text-lg font-semibold")
            try:
                history = switches.history(context.store(), summary.id)
            except Exception as error:
                tell_error(error, "read the switch history")
                history = []
            if not history:
                ui.label("Never switched on or off yet.").classes("fb-muted")
            else:
                columns = [
                    {"name": "at", "label": "When", "field": "at", "align": "left"},
                    {"name": "state", "label": "Switched", "field": "state", "align": "left"},
                    {"name": "who", "label": "Who", "field": "who", "align": "left"},
                    {"name": "reason", "label": "Why", "field": "reason", "align": "left"},
                ]
                rows = [
                    {
                        "id": h.id,
                        "at": f"{when(h.at)} ({ago(h.at)})",
                        "state": "on" if h.enabled else "off",
                        "who": h.who,
                        "reason": h.reason or "—",
                    }
                    for h in history
                ]
                ui.table(columns=columns, rows=rows, row_key="id").props("flat bordered dense wrap-cells").classes(
                    "w-full fb-switch-history-table"
                )
            with ui.row().classes("w-full justify-end"):
                ui.button("Close", on_click=dialog.close).props("flat no-caps")
        dialog.open()

    @guarded("run the flow")
    async def _run(self, summary: designer.FlowSummary) -> None:
        if summary.draft:
            spinner_done()
            ui.notify(
                f"'{short(summary.name)}' is a draft with {summary.problems} problem(s); fix them in the editor and "
                "save before running it",
                type="warning",
                multi_line=True,
            )
            return
        if not session.permit("run", "sandbox"):
            spinner_done()
            return
        try:
            root = context.root()
            run_id = operations.queue_flow_run(
                root.store,
                summary.id,
                None,
                queues=root.queues,
                trigger="manual",
                env="sandbox",
                who=session.principal(),
                types=root.node_types,
            )
        finally:
            spinner_done()
        ui.notify(
            f"Run {run_id} of '{short(summary.name)}' started in the sandbox",
            type="info",
            multi_line=True,
            actions=[open_run_action(run_id)],
        )
        self.render.refresh()
        await self._follow(run_id, summary.name)

    async def _follow(self, run_id: str, name: str) -> None:
        """Tell how the run ended, once it has (bounded by FOLLOW_SECONDS)."""
        client = self.home.client
        deadline = time.monotonic() + FOLLOW_SECONDS
        while time.monotonic() < deadline and not client.is_deleted:
            await asyncio.sleep(0.3)
            found = await run.io_bound(run_reads.run, context.store(), run_id)
            if found.status in ("queued", "running"):
                continue
            totals = " · ".join(f"{v} {k}" for k, v in (found.totals or {}).items() if v)
            kind = {"succeeded": "positive", "partial": "warning", "skipped": "info"}.get(found.status, "negative")
            with self.home:
                ui.notify(
                    f"Run {run_id} of '{short(name)}' {found.status}: {totals or 'nothing to do'}"
                    + (f" — {one_line(found.error)}" if found.error else ""),
                    type=kind,
                    multi_line=True,
                    timeout=10000,
                    actions=[open_run_action(run_id)],
                )
            self.render.refresh()
            if self.alert_panel:
                self.alert_panel.render.refresh()
            return

    @guarded("export the flow")
    def _export(self, summary: designer.FlowSummary) -> None:
        document, _ = flow_reads.document(context.store(), summary.id)
        ui.download.content(
            json.dumps(document, indent=2, ensure_ascii=False).encode(), f"{summary.id}.json", "application/json"
        )


def _new_flow_dialog() -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-[28rem] gap-3"):
        ui.label("New flow").classes("text-lg font-semibold")
        name = (
            ui.input("Name", placeholder="e.g. CRM accounts → ERP customers")
            .props("outlined autofocus")
            .classes("w-full fb-new-name")
        )
        flow_id = (
            ui.input("Id", placeholder="crm_accounts_to_erp_customers").props("outlined").classes("w-full fb-new-id")
        )
        ui.label("The id names the flow in runs, files and the command line; letters, digits, '-', '_'.").classes(
            "fb-muted text-xs"
        )
        touched = {"id": False}
        name.on_value_change(lambda e: None if touched["id"] else flow_id.set_value(designer.slug(e.value or "")))
        flow_id.on("keydown", lambda: touched.update(id=True))

        def create() -> None:
            chosen = (flow_id.value or designer.slug(name.value or "")).strip()
            if not (name.value or "").strip():
                ui.notify("Give the flow a name", type="warning")
                return
            if chosen in flow_reads.flow_ids(context.store()):
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
        ui.label(
            "A JSON file as exported by Flowbridge. It is checked before anything is stored; "
            "importing a flow that exists stores it as its next version."
        ).classes("fb-muted text-sm")
        report = ui.column().classes("w-full gap-1")

        async def received(event: events.UploadEventArguments) -> None:
            report.clear()
            data = await event.file.read()
            document, problems = designer.read_import(data, context.node_types())
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
                    ui.button(
                        "Import anyway as a draft", icon="warning", on_click=lambda: store_it(document, True)
                    ).props("outline no-caps color=negative")
                    return
            store_it(document, False)

        def store_it(document: dict[str, Any], draft: bool) -> None:
            try:
                version = designer.import_document(
                    context.store(), document, who=session.principal(), allow_draft=draft, types=context.node_types()
                )
            except Exception as error:
                tell_error(error, "import the flow")
                return
            ui.notify(
                f"Imported '{document.get('name', document.get('id'))}' as version {version}"
                + (" (draft)" if draft else ""),
                type="positive",
            )
            dialog.close()
            report.clear()
            listing.render.refresh()

        ui.upload(
            label="Choose or drop a .json file",
            auto_upload=True,
            max_file_size=5 * 1024 * 1024,
            on_upload=received,
            on_rejected=lambda: ui.notify("The file is larger than 5 MB", type="negative"),
        ).props('accept=".json,application/json" flat bordered').classes("w-full fb-upload")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
    return dialog
