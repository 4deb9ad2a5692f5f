"""The Runs pages: every run, filtered by flow, status, environment and trigger (query parameters, so a
link can pre-filter); and one run: its graph with the counts, per-node records, retries and failures."""

from __future__ import annotations

import copy
import json
from typing import Any

from nicegui import ui

from app.environments import ENVIRONMENTS
from app.errors import NotFound
from app.services import flow_reads, run_reads, run_stops
from app.ui import context, session
from app.ui.canvas.flow_canvas import FlowCanvas
from app.ui.canvas.graph import layout_missing, run_graph, seconds_text
from app.ui.editor.test_results import records_table
from app.ui.feedback import tell_error
from app.ui.frame import frame
from app.ui.moments import ago, when
from app.ui.numbers import counted, totals_text
from app.ui.run_chips import STATUS_CHIP, env_chip, runs_link

STATUSES = ("queued", "running", "succeeded", "partial", "failed", "cancelled", "skipped", "interrupted")
TRIGGERS = ("manual", "schedule", "webhook", "retry", "replay", "test")
UNFINISHED = ("queued", "running")
LIST_LIMIT = 200
FOLLOW_SECONDS = 2.0  # a list that holds a run still going is read again this often
LIVE_SECONDS = 1.0  # a run's own page, while it goes


def live_text(run: Any) -> str:
    """'Batch 3 · at write · 240 records/s · 12.0 s · 350 retries so far' (or how it waits to start)."""
    if run.status == "queued":
        return "Waiting its turn: the flow's earlier run is still going"
    progress = run.progress or {}
    if not progress:
        return "Starting…"
    parts = [f"Batch {counted(progress.get('batches', 0) + 1)}"]
    if progress.get("node"):
        parts.append(f"at {progress['node']}")
    parts.append(f"{counted(round(progress.get('records_per_second', 0)))} records/s")
    parts.append(f"{progress.get('elapsed', 0):.1f} s")
    if progress.get("retries"):
        parts.append(f"{counted(progress['retries'])} retries so far")
    return " · ".join(parts)


def _duration(run: Any) -> str:
    if not run.finished_at:
        return run.status if run.status in UNFINISHED else "—"
    seconds = (run.finished_at - run.started_at).total_seconds()
    return f"{seconds:.2f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _took(run: Any) -> str:
    """' · took 2.41 s' once ended; a run still going says so in its live line instead."""
    return "" if run.status in UNFINISHED else f" · took {_duration(run)}"


def _totals(totals: dict[str, Any] | None) -> str:
    return totals_text(totals)


def known_flow_names() -> dict[str, str]:
    """Flow id -> name for the filters; empty (and said once) when the store cannot be read."""
    try:
        return flow_reads.flow_names(context.store())
    except Exception as error:  # the store is unreachable: the page still opens and says why
        tell_error(error, "list the flows")
        return {}


@ui.page("/runs")
def runs_page(flow: str = "", status: str = "", env: str = "", trigger: str = "") -> None:
    filters = {"flow": flow, "status": status, "env": env, "trigger": trigger}
    with frame("Runs", active="Runs", wide=True):
        ui.label("Runs").classes("text-2xl font-semibold")
        ui.label(
            "Every run, newest first. Open one for its graph with the counts, the records in and out of each node, "
            "its retries and its failed records."
        ).classes("fb-muted")
        flow_names = known_flow_names()

        def options(values: Any, everything: str, chosen: str) -> dict[str, str]:
            listed = dict(values) if isinstance(values, dict) else {v: v for v in values}
            if chosen and chosen not in listed:  # a link may name a flow that is gone: still show the filter
                listed[chosen] = chosen
            return {"": everything, **listed}

        def choose(key: str, value: str | None) -> None:
            if (value or "") != filters[key]:
                ui.navigate.to(runs_link(**{**filters, key: value or ""}))

        with ui.row().classes("w-full items-center gap-2 fb-filters"):
            for key, label, values, everything in (
                ("flow", "Flow", flow_names, "All flows"),
                ("status", "Status", STATUSES, "Any status"),
                ("env", "Environment", ENVIRONMENTS, "Any environment"),
                ("trigger", "Trigger", TRIGGERS, "Any trigger"),
            ):
                ui.select(
                    options(values, everything, filters[key]),
                    value=filters[key],
                    label=label,
                    on_change=lambda e, k=key: choose(k, e.value),
                ).props("outlined dense options-dense").classes(f"fb-filter-{key}").mark(f"filter-{key}")
            if any(filters.values()):
                ui.link("Clear filters", "/runs").classes("text-sm no-underline fb-clear-filters")
        RunList(filters).render()


class RunList:
    def __init__(self, filters: dict[str, str]) -> None:
        self.filters = filters
        self.rows: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        found = run_reads.find_runs(
            context.store(),
            flow_id=self.filters["flow"] or None,
            limit=LIST_LIMIT,
            status=self.filters["status"] or None,
            env=self.filters["env"] or None,
            trigger=self.filters["trigger"] or None,
        )
        return [
            {
                "id": r.id,
                "started": when(r.started_at, seconds=True, zone=False),
                "flow": r.flow_id,
                "env": r.env,
                "dry_run": r.dry_run,
                "trigger": r.trigger,
                "who": r.started_by or "—",
                "status": r.status,
                "totals": _totals(r.totals),
                "duration": _duration(r),
            }
            for r in found
        ]

    def render(self) -> None:
        try:
            self.rows = self.read()
        except Exception as error:
            tell_error(error, "list the runs")
            self.rows = []
        if not self.rows:
            with ui.column().classes("w-full items-center py-16 fb-card fb-no-runs"):
                ui.icon("receipt_long").classes("text-5xl text-slate-300")
                ui.label(
                    "No runs match these filters."
                    if any(self.filters.values())
                    else "No runs yet. Run a flow from the Flows page or the editor."
                ).classes("fb-muted")
            return
        ui.label(
            f"{len(self.rows)} run{'s' if len(self.rows) != 1 else ''}"
            + (f" (the newest {LIST_LIMIT})" if len(self.rows) == LIST_LIMIT else "")
        ).classes("fb-muted text-sm")
        columns = [
            {"name": "started", "label": "Started (UTC)", "field": "started", "align": "left", "sortable": True},
            {"name": "flow", "label": "Flow", "field": "flow", "align": "left", "sortable": True},
            {"name": "env", "label": "Environment", "field": "env", "align": "left"},
            {"name": "trigger", "label": "Trigger", "field": "trigger", "align": "left"},
            {"name": "who", "label": "Started by", "field": "who", "align": "left"},
            {"name": "status", "label": "Status", "field": "status", "align": "left", "sortable": True},
            {"name": "totals", "label": "Records", "field": "totals", "align": "left"},
            {"name": "duration", "label": "Took", "field": "duration", "align": "right"},
        ]
        self.table = (
            ui.table(columns=columns, rows=self.rows, row_key="id", pagination=25)
            .classes("w-full fb-runs-table cursor-pointer")
            .props("flat bordered dense wrap-cells")
        )
        self.table.add_slot(
            "body-cell-status",
            """
            <q-td :props="props"><span :class="'fb-chip ' + ({succeeded:'fb-chip-ok', partial:'fb-chip-warn',
              failed:'fb-chip-draft', interrupted:'fb-chip-draft', running:'fb-chip-run',
              queued:'fb-chip-run'}[props.value] || 'fb-chip-neutral')">{{ props.value }}</span></q-td>""",
        )
        self.table.add_slot(
            "body-cell-env",
            """
            <q-td :props="props"><span :class="'fb-chip fb-env-chip fb-env-chip-' + props.value">{{ props.value }}</span>
              <span v-if="props.row.dry_run" class="fb-muted text-xs"> dry run</span></q-td>""",
        )
        self.table.on("rowClick", lambda e: ui.navigate.to(f"/runs/{e.args[1]['id']}"))
        ui.timer(FOLLOW_SECONDS, self.follow)

    def follow(self) -> None:
        """New runs and runs that finish show up without a reload."""
        try:
            rows = self.read()
        except Exception:  # a moment the store is busy: the next tick reads again
            return
        if rows != self.rows:
            self.rows = rows
            self.table.rows = rows
            self.table.update()


@ui.page("/runs/{run_id}")
def run_detail_page(run_id: str) -> None:
    with frame(f"Run {run_id}", active="Runs", wide=True):
        try:
            RunDetail(run_id).build()
        except NotFound:
            ui.label(f"There is no run '{run_id}'.").classes("text-lg")
            ui.link("Back to the runs", "/runs")
        except Exception as error:
            tell_error(error, "show the run")


class RunDetail:
    def __init__(self, run_id: str) -> None:
        store = context.store()
        page = run_reads.run_page(store, run_id)
        self.run, self.ledger, self.samples = page.run, page.ledger, page.samples
        self.letters, self.failed_total = page.letters, page.failed_total
        self.document: dict[str, Any] | None = None
        self.missing_graph = "it ran from a file, not a stored flow"
        if self.run.flow_version:
            try:
                document, _ = flow_reads.document(store, self.run.flow_id, self.run.flow_version)
                self.document = copy.deepcopy(document)
                layout_missing(self.document)
            except NotFound as error:
                self.missing_graph = str(error)

    def build(self) -> None:
        run = self.run
        with ui.row().classes("w-full items-center gap-3"):
            ui.link("← Runs", runs_link(flow=run.flow_id)).classes("no-underline")
            ui.label(f"Run of {run.flow_id}").classes("text-2xl font-semibold")
            ui.label(run.status).classes(f"fb-chip {STATUS_CHIP.get(run.status, 'fb-chip-neutral')} fb-run-status")
            env_chip(run.env).classes("fb-run-env").tooltip("The environment the run read and wrote")
            ui.space()
            with ui.row().classes("items-center gap-2 no-wrap fb-run-actions"):  # wraps as one group
                self.tester_actions()
                ui.button("Open flow", icon="edit", on_click=lambda: ui.navigate.to(f"/flows/{run.flow_id}")).props(
                    "flat no-caps"
                )
        ui.label(
            f"{run.id} · version {run.flow_version or 'from a file'} · environment {run.env}"
            f"{' · dry run' if run.dry_run else ''} · trigger {run.trigger} · started by "
            f"{run.started_by or '(not recorded)'} · {when(run.started_at, seconds=True)} "
            f"({ago(run.started_at)}){_took(run)}"
            f"{f' · ran on {run.process}' if run.process else ''}"  # host:pid: which server or worker
        ).classes("fb-muted fb-run-facts")
        if run.replay_of:
            with ui.row().classes("items-center gap-2 fb-replay-of"):
                ui.icon("replay").classes("text-primary")
                ui.label(f"A replay in the sandbox of run {run.replay_of}:")
                ui.link("see the two side by side", f"/runs/{run.replay_of}/compare/{run.id}").classes(
                    "fb-replay-compare-link"
                )
        if run.error:
            ui.label(run.error).classes("fb-problem-box w-full fb-run-error")
        if run.status == "cancelled":
            ui.label(
                f"Stopped by {run.stop_requested_by or 'someone'} at a batch boundary: what it wrote stays, and its "
                "cursor is where that batch left it, so the next run goes on from there."
            ).classes("fb-muted fb-run-stopped")
        self.live()
        if run.status in UNFINISHED:
            ui.timer(LIVE_SECONDS, self.follow)
        self.graph()
        if run.dry_run:
            self.would_change()
        self.node_records()
        self.ledger_table()
        self.retries()
        self.failed_records()

    @ui.refreshable_method
    def live(self) -> None:
        """The totals, and while the run goes what it is doing now, with Stop."""
        run = self.run
        if run.status in UNFINISHED:
            with ui.row().classes("w-full items-center gap-3 no-wrap fb-card px-5 py-3 fb-run-live"):
                ui.spinner(size="1.5em")
                ui.label(live_text(run)).classes("fb-run-progress")
                ui.space()
                self.stop_button()
        with ui.row().classes("w-full gap-3"):
            for key, value in (run.totals or {}).items():
                with ui.column().classes("fb-card px-5 py-3 gap-0 items-start fb-total"):
                    ui.label(counted(value)).classes("text-2xl font-semibold")
                    ui.label(key).classes("fb-muted text-sm")

    def stop_button(self) -> None:
        run = self.run
        if run.stop_requested_at is not None:
            ui.label(f"Stopping at the end of this batch (asked by {run.stop_requested_by})").classes(
                "fb-chip fb-chip-warn fb-run-stopping"
            )
            return
        button = (
            ui.button("Stop", icon="stop", on_click=self.stop)
            .props("outline no-caps color=negative")
            .classes("fb-run-stop")
            .mark("run-stop")
        )
        refusal = session.why_not("run", run.env)
        if refusal:
            button.disable()
            button.tooltip(refusal)
        else:
            button.tooltip("Ends the run at its next batch boundary: what it wrote stays, nothing is lost")

    def stop(self) -> None:
        try:
            self.run = run_stops.stop_run(context.store(), session.principal(), self.run.id)
        except Exception as error:
            tell_error(error, "stop the run")
            return
        ui.notify("The run stops at the end of its current batch", type="info")
        self.live.refresh()

    def tester_actions(self) -> None:
        """Replay the run in the sandbox, keep it as a test case, and the flow's tests."""
        # Imported here: those pages import this module (env_chip, STATUS_CHIP).
        from app.ui.replay_page import open_replay_dialog
        from app.ui.tests_page import open_save_case_dialog, tests_link

        run = self.run
        may = session.allowed("replay")
        replay_button = (
            ui.button("Replay in sandbox", icon="replay", on_click=lambda: open_replay_dialog(run))
            .props("unelevated no-caps")
            .classes("fb-replay")
            .mark("replay")
        )
        save_button = (
            ui.button(
                "Save as test case",
                icon="fact_check",
                on_click=lambda: open_save_case_dialog(run.flow_id, [(run.id, "This run's")]),
            )
            .props("outline no-caps")
            .classes("fb-save-case")
            .mark("save-case")
        )
        for button in (replay_button, save_button):
            if not may:
                button.disable()
                button.tooltip("Your role may not replay runs or save test cases")
        ui.button("Tests", icon="checklist", on_click=lambda: ui.navigate.to(tests_link(run.flow_id))).props(
            "flat no-caps"
        ).classes("fb-tests-link").mark("tests-link").tooltip("The flow's saved test cases")

    def follow(self) -> None:
        """Every second while the run goes: its counts, its graph and its retries as they are now."""
        page = run_reads.run_page(context.store(), self.run.id)
        if page.run.status not in UNFINISHED:
            ui.navigate.reload()
            return
        self.run, self.ledger, self.samples = page.run, page.ledger, page.samples
        self.live.refresh()
        self.ledger_table.refresh()
        self.retries.refresh()
        if self.document is not None and hasattr(self, "canvas"):
            self.canvas.set_graph(run_graph(self.document, self.ledger, context.node_types()))

    def graph(self) -> None:
        ui.label("Graph").classes("text-lg font-semibold mt-2")
        if self.document is None:
            ui.label(f"No graph: {self.missing_graph}.").classes("fb-muted")
            return
        ui.label(
            f"Version {self.run.flow_version} as it ran: records on each edge, and per node what came in, "
            "went out, was written or failed, and the time it took. Click a node for its records."
        ).classes("fb-muted text-sm")
        with ui.element("div").classes("fb-card fb-run-canvas"):
            self.canvas = FlowCanvas(
                run_graph(self.document, self.ledger, context.node_types()), f"run-{self.run.id}", readonly=True
            )
        self.canvas.on("selection", lambda e: self.show_node((e.args or {}).get("nodes") or []))

    def show_node(self, node_ids: list[str]) -> None:
        if len(node_ids) == 1 and node_ids[0] in self.node_choice.options:
            self.node_choice.set_value(node_ids[0])

    def node_records(self) -> None:
        ui.label("Records in and out").classes("text-lg font-semibold mt-2")
        order = list(self.ledger) or list(self.samples)
        if not order:
            ui.label(
                "No records yet: the run has not got that far."
                if self.run.status in UNFINISHED
                else "The run kept no records: it stopped before any node ran."
            ).classes("fb-muted")
            self.node_choice = ui.select([]).classes("hidden")
            return
        ui.label("The first records into each node and out of each of its ports, as the run saw them.").classes(
            "fb-muted text-sm"
        )
        self.node_choice = (
            ui.select(order, value=None, label="Node", on_change=lambda e: self.samples_of.refresh(e.value))
            .props("outlined dense")
            .classes("w-72 fb-sample-node")
            .mark("sample-node")
        )
        self.samples_of(None)

    @ui.refreshable_method
    def samples_of(self, node_id: str | None) -> None:
        if node_id is None:
            ui.label("Pick a node here or click one on the graph.").classes("fb-muted text-sm fb-sample-hint")
            return
        kept = self.samples.get(node_id) or {"in": [], "out": {}}
        counts = self.ledger.get(node_id, {})
        failed = [d for d in self.letters if d.node_id == node_id]
        with ui.column().classes("w-full gap-2 fb-card p-3 fb-samples").props(f'data-node-id="{node_id}"'):
            ui.label(
                f"{node_id}: {counted(counts.get('in', 0))} in · "
                + (", ".join(f"{counted(n)} {p}" for p, n in counts.get("out", {}).items()) or "nothing out")
                + "".join(f" · {counted(counts[k])} {k}" for k in ("inserted", "updated", "unchanged") if counts.get(k))
                + (f" · {counted(counts['failed'])} failed" if counts.get("failed") else "")
                + (f" · took {seconds_text(counts['seconds'])}" if "seconds" in counts else "")
            ).classes("font-semibold fb-samples-title")
            with ui.row().classes("w-full no-wrap gap-4 items-start"):
                if kept.get("in") or counts.get("in"):
                    with ui.column().classes("grow min-w-0 gap-1"):
                        ui.label(f"In (first {len(kept.get('in', []))} of {counts.get('in', 0)})").classes(
                            "text-sm font-semibold"
                        )
                        records_table(kept.get("in", []), "fb-samples-in")
                for port, records in (kept.get("out") or {}).items():
                    with ui.column().classes("grow min-w-0 gap-1"):
                        total = counts.get("out", {}).get(port, len(records))
                        ui.label(f"Out · {port} (first {len(records)} of {total})").classes("text-sm font-semibold")
                        records_table(records, f"fb-samples-out fb-samples-{port}")
                if not kept.get("in") and not kept.get("out"):
                    ui.label("No records went through this node in this run.").classes("fb-muted text-sm")
            if failed:
                ui.label(f"Failed here ({counts.get('failed', len(failed))})").classes(
                    "text-sm font-semibold text-negative"
                )
                records_table([{"reason": d.reason, **d.record} for d in failed[:20]], "fb-samples-failed")

    def would_change(self) -> None:
        """A dry run wrote nothing: what it would have inserted, updated, left alone or failed."""
        from app.services.runs import dry_run_changes
        from app.ui.changes_view import changes_view

        ui.label("What it would have changed").classes("text-lg font-semibold mt-2")
        ui.label(
            f"A dry run in {self.run.env}: nothing was written. Per write node, the records it would insert, "
            "update (field by field) or leave unchanged, and those that would fail."
        ).classes("fb-muted text-sm")
        with ui.column().classes("w-full fb-card p-4 fb-run-would-change"):
            changes_view(dry_run_changes(context.store(), self.run.id), self.ledger)

    @ui.refreshable_method
    def ledger_table(self) -> None:
        ui.label("Ledger").classes("text-lg font-semibold mt-2")
        ui.label("Every record that entered a node left by a port, was written, or failed with a reason.").classes(
            "fb-muted text-sm"
        )
        columns = [
            {"name": c, "label": c.capitalize(), "field": c, "align": "left" if c in ("node", "out") else "right"}
            for c in ("node", "in", "out", "inserted", "updated", "unchanged", "failed", "seconds")
        ]
        rows = [
            {
                "node": node_id,
                "in": counted(counts.get("in", 0)),
                "out": ", ".join(f"{p} {counted(n)}" for p, n in counts.get("out", {}).items()) or "–",
                "inserted": counted(counts.get("inserted", "")),
                "updated": counted(counts.get("updated", "")),
                "unchanged": counted(counts.get("unchanged", "")),
                "failed": counted(counts.get("failed", 0)),
                "seconds": f"{counts.get('seconds', 0):.3f}",
            }
            for node_id, counts in self.ledger.items()
        ]
        table = (
            ui.table(columns=columns, rows=rows, row_key="node")
            .props("flat bordered dense")
            .classes("w-full fb-ledger cursor-pointer")
        )
        table.on("rowClick", lambda e: self.node_choice.set_value(e.args[1]["node"]))

    @ui.refreshable_method
    def retries(self) -> None:
        events = self.run.events or []
        going = self.run.status in UNFINISHED
        ui.label(f"Retries ({counted(len(events))}{' so far' if going else ''})").classes(
            "text-lg font-semibold mt-2 fb-retries-title"
        )
        if not events:
            ui.label(
                "None so far." if going else "None: every call to the systems worked at its first attempt."
            ).classes("fb-muted fb-no-retries")
            return
        ui.label(
            "Transient faults (a refused or reset connection, a timeout, a locked database, HTTP 429 or 5xx) "
            "were tried again after a wait."
        ).classes("fb-muted text-sm")
        columns = [
            {"name": "at", "label": "When", "field": "at", "align": "left"},
            {"name": "attempt", "label": "Attempt", "field": "attempt", "align": "right"},
            {"name": "error", "label": "Error", "field": "error", "align": "left"},
            {"name": "wait", "label": "Waited", "field": "wait", "align": "right"},
        ]
        rows = [
            {
                "n": i,
                "at": when(e.get("at"), seconds=True),
                "attempt": e.get("attempt"),
                "error": str(e.get("error", ""))[:300],
                "wait": f"{float(e.get('wait_seconds') or 0):.2f} s",
            }
            for i, e in enumerate(events)
        ]
        ui.table(columns=columns, rows=rows, row_key="n").props("flat bordered dense wrap-cells").classes(
            "w-full fb-retries"
        )

    def failed_records(self) -> None:
        with ui.row().classes("w-full items-center mt-2"):
            ui.label(f"Failed records ({self.failed_total})").classes("text-lg font-semibold")
            ui.space()
            if any(d.status == "open" for d in self.letters):
                ui.link("Retry or discard them in Dead letters", f"/dead-letters?flow={self.run.flow_id}").classes(
                    "text-sm no-underline"
                )
        if not self.letters:
            ui.label("None: every record went through.").classes("fb-muted")
            return
        if self.failed_total > len(self.letters):
            ui.label(f"Showing the first {len(self.letters)}.").classes("fb-muted text-sm")
        columns = [
            {"name": "node", "label": "Node", "field": "node", "align": "left"},
            {"name": "reason", "label": "Reason", "field": "reason", "align": "left"},
            {"name": "record", "label": "Record", "field": "record", "align": "left"},
            {"name": "status", "label": "Now", "field": "status", "align": "left"},
        ]
        rows = [
            {
                "id": d.id,
                "node": d.node_id,
                "reason": d.reason,
                "record": json.dumps(d.record, default=str, ensure_ascii=False)[:300],
                "status": d.status if d.status == "open" else f"{d.status} by {d.resolved_by} {when(d.resolved_at)}",
            }
            for d in self.letters
        ]
        ui.table(columns=columns, rows=rows, row_key="id", pagination=20).props(
            "flat bordered dense wrap-cells"
        ).classes("w-full fb-dead-letters")
