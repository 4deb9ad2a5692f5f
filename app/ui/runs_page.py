"""The Runs pages: stored runs newest first, and one run's ledger per node with its failed records."""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

from app.errors import NotFound
from app.store import runs as run_store
from app.ui import context
from app.ui.feedback import tell_error
from app.ui.frame import frame

STATUS_CHIP = {"succeeded": "fb-chip-ok", "partial": "fb-chip-draft", "failed": "fb-chip-draft",
               "running": "fb-chip-neutral"}


def _duration(run: Any) -> str:
    if not run.finished_at:
        return "running"
    seconds = (run.finished_at - run.started_at).total_seconds()
    return f"{seconds:.2f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _totals(totals: dict[str, Any] | None) -> str:
    return " · ".join(f"{v} {k}" for k, v in (totals or {}).items() if v) or "nothing to do"


@ui.page("/runs")
def runs_page(flow: str = "") -> None:
    with frame("Runs", active="Runs"):
        ui.label("Runs").classes("text-2xl font-semibold")
        ui.label("Every run, newest first. Open one for its ledger: what each node took in, sent on, wrote and failed.") \
            .classes("fb-muted")
        try:
            rows = run_store.list_runs(context.store(), flow_id=flow or None, limit=200)
        except Exception as error:
            tell_error(error, "list the runs")
            rows = []
        flows = sorted({r.flow_id for r in rows})
        choice = ui.select(["all flows", *flows], value=flow if flow in flows else "all flows", label="Flow") \
            .props("outlined dense").classes("w-72")
        choice.on_value_change(lambda e: ui.navigate.to("/runs" if e.value == "all flows" else f"/runs?flow={e.value}"))
        if not rows:
            with ui.column().classes("w-full items-center py-16 fb-card"):
                ui.icon("receipt_long").classes("text-5xl text-slate-300")
                ui.label("No runs yet. Run a flow from the Flows page or the editor.").classes("fb-muted")
            return
        columns = [
            {"name": "started", "label": "Started", "field": "started", "align": "left", "sortable": True},
            {"name": "flow", "label": "Flow", "field": "flow", "align": "left", "sortable": True},
            {"name": "env", "label": "Environment", "field": "env", "align": "left"},
            {"name": "status", "label": "Status", "field": "status", "align": "left", "sortable": True},
            {"name": "totals", "label": "Records", "field": "totals", "align": "left"},
            {"name": "duration", "label": "Took", "field": "duration", "align": "right"},
        ]
        table_rows = [{"id": r.id, "started": f"{r.started_at:%Y-%m-%d %H:%M:%S}", "flow": r.flow_id,
                       "env": r.env + (" (dry run)" if r.dry_run else ""), "status": r.status,
                       "totals": _totals(r.totals), "duration": _duration(r)} for r in rows]
        table = ui.table(columns=columns, rows=table_rows, row_key="id", pagination=25).classes("w-full fb-runs-table")
        table.props("flat bordered")
        table.add_slot("body-cell-status", """
            <q-td :props="props"><span :class="'fb-chip ' + ({succeeded:'fb-chip-ok', partial:'fb-chip-draft',
              failed:'fb-chip-draft'}[props.value] || 'fb-chip-neutral')">{{ props.value }}</span></q-td>""")
        table.on("rowClick", lambda e: ui.navigate.to(f"/runs/{e.args[1]['id']}"))
        table.classes("cursor-pointer")


@ui.page("/runs/{run_id}")
def run_detail_page(run_id: str) -> None:
    with frame(f"Run {run_id}", active="Runs"):
        try:
            found = run_store.get_run(context.store(), run_id)
            ledger = run_store.run_ledger(context.store(), run_id)
            letters = run_store.dead_letters(context.store(), run_id=run_id, status=None, limit=200)
            failed_total = run_store.count_dead_letters(context.store(), run_id)
        except NotFound:
            ui.label(f"There is no run '{run_id}'.").classes("text-lg")
            ui.link("Back to the runs", "/runs")
            return
        except Exception as error:
            tell_error(error, "show the run")
            return
        with ui.row().classes("w-full items-center gap-3"):
            ui.link("← Runs", "/runs").classes("no-underline")
            ui.label(f"Run of {found.flow_id}").classes("text-2xl font-semibold")
            ui.label(found.status).classes(f"fb-chip {STATUS_CHIP.get(found.status, 'fb-chip-neutral')} fb-run-status")
            ui.space()
            ui.button("Open flow", icon="edit", on_click=lambda: ui.navigate.to(f"/flows/{found.flow_id}")) \
                .props("outline no-caps")
        ui.label(f"{found.id} · version {found.flow_version or 'from a file'} · {found.env}"
                 f"{' · dry run' if found.dry_run else ''} · {found.trigger} · started "
                 f"{found.started_at:%Y-%m-%d %H:%M:%S} · took {_duration(found)}").classes("fb-muted")
        if found.error:
            ui.label(found.error).classes("fb-problem-box w-full")
        with ui.row().classes("w-full gap-3"):
            for key, value in (found.totals or {}).items():
                with ui.column().classes("fb-card px-5 py-3 gap-0 items-start fb-total"):
                    ui.label(str(value)).classes("text-2xl font-semibold")
                    ui.label(key).classes("fb-muted text-sm")
        ui.label("Ledger").classes("text-lg font-semibold mt-2")
        ui.label("Every record that entered a node left by a port, was written, or failed with a reason.") \
            .classes("fb-muted text-sm")
        columns = [{"name": c, "label": c.capitalize(), "field": c, "align": "left" if c in ("node", "out") else "right"}
                   for c in ("node", "in", "out", "inserted", "updated", "unchanged", "failed", "seconds")]
        rows = [{"node": node_id, "in": counts.get("in", 0),
                 "out": ", ".join(f"{p} {n}" for p, n in counts.get("out", {}).items()) or "–",
                 "inserted": counts.get("inserted", ""), "updated": counts.get("updated", ""),
                 "unchanged": counts.get("unchanged", ""), "failed": counts.get("failed", 0),
                 "seconds": f"{counts.get('seconds', 0):.3f}"} for node_id, counts in ledger.items()]
        ui.table(columns=columns, rows=rows, row_key="node").props("flat bordered dense").classes("w-full fb-ledger")
        ui.label(f"Failed records ({failed_total})").classes("text-lg font-semibold mt-2")
        if not letters:
            ui.label("None: every record went through.").classes("fb-muted")
            return
        if failed_total > len(letters):
            ui.label(f"Showing the first {len(letters)}.").classes("fb-muted text-sm")
        columns = [{"name": "node", "label": "Node", "field": "node", "align": "left"},
                   {"name": "reason", "label": "Reason", "field": "reason", "align": "left"},
                   {"name": "record", "label": "Record", "field": "record", "align": "left"}]
        rows = [{"id": d.id, "node": d.node_id, "reason": d.reason,
                 "record": json.dumps(d.record, default=str, ensure_ascii=False)[:300]} for d in letters]
        ui.table(columns=columns, rows=rows, row_key="id", pagination=20).props("flat bordered dense wrap-cells") \
            .classes("w-full fb-dead-letters")
