"""The "Test node" results: per node, the records in and out as tables, failures, and would-be writes."""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

from app.services.previews import NodeRecords, TestResult

MAX_COLUMNS = 14


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, bool)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:80] + "…"


def records_table(records: list[dict[str, Any]], css: str = "") -> None:
    if not records:
        ui.label("No records.").classes("fb-muted text-sm")
        return
    names = list(dict.fromkeys(k for r in records for k in r))[:MAX_COLUMNS]
    columns = [{"name": n, "label": n, "field": n, "align": "left"} for n in names]
    rows = [{"_row": i, **{n: _cell(r.get(n)) for n in names}} for i, r in enumerate(records)]
    ui.table(columns=columns, rows=rows, row_key="_row").props("flat bordered dense virtual-scroll").classes(
        f"w-full {css}"
    ).style("max-height: 24vh")


def writes_table(writes: list[dict[str, Any]]) -> None:
    """Each would-be write: insert or update (with what changes) or unchanged, by key."""
    rows = []
    for i, change in enumerate(writes):
        before, after = change.get("before") or {}, change.get("after") or {}
        if change.get("outcome") == "updated":
            what = ", ".join(
                f"{k}: {_cell(before.get(k))} → {_cell(v)}" for k, v in after.items() if before.get(k) != v
            )
        elif change.get("outcome") == "inserted":
            what = ", ".join(f"{k}={_cell(v)}" for k, v in after.items())
        else:
            what = "already as the record says"
        rows.append(
            {
                "_row": i,
                "outcome": change.get("outcome"),
                "key": json.dumps(change.get("key"), default=str),
                "what": what[:300],
            }
        )
    columns = [
        {"name": "outcome", "label": "Would be", "field": "outcome", "align": "left"},
        {"name": "key", "label": "Key", "field": "key", "align": "left"},
        {"name": "what", "label": "Values", "field": "what", "align": "left"},
    ]
    table = (
        ui.table(columns=columns, rows=rows, row_key="_row")
        .props("flat bordered dense wrap-cells")
        .classes("w-full fb-writes-table")
        .style("max-height: 24vh")
    )
    table.add_slot(
        "body-cell-outcome",
        """
        <q-td :props="props"><span :class="'fb-chip ' + ({inserted:'fb-chip-ok', updated:'fb-chip-neutral'}[props.value]
          || 'fb-chip-neutral')">{{ {inserted:'insert', updated:'update', unchanged:'unchanged'}[props.value] || props.value }}</span></q-td>""",
    )


def _node_tab(node: NodeRecords) -> None:
    with ui.column().classes("w-full gap-2"):
        if node.writes:
            ui.label(f"Writes it would make ({len(node.writes)}; nothing was written)").classes("font-semibold text-sm")
            writes_table(node.writes)
        if node.failed:
            ui.label(f"Failed ({len(node.failed)})").classes("font-semibold text-sm text-negative")
            records_table([{"reason": reason, **record} for record, reason in node.failed], "fb-failed-table")
        with ui.row().classes("w-full no-wrap gap-4 items-start"):
            if node.records_in:
                with ui.column().classes("grow min-w-0 gap-1"):
                    ui.label(f"In ({node.counts.get('in', len(node.records_in))})").classes("font-semibold text-sm")
                    records_table(node.records_in, "fb-records-in")
            for port, records in node.ports.items():
                with ui.column().classes("grow min-w-0 gap-1"):
                    count = node.counts.get("out", {}).get(port, len(records))
                    ui.label(f"Out · {port} ({count})").classes("font-semibold text-sm")
                    records_table(records, f"fb-records-out fb-records-{port}")


def show_results(container: ui.element, result: TestResult, on_close: Any = None) -> ui.label:
    """Show a test's results; returns the "stale" mark, shown by the editor once the flow is edited."""
    container.clear()
    with container:
        with ui.row().classes("w-full items-center gap-2 px-3 pt-2 no-wrap"):
            ui.icon("science" if result.ok else "error").classes(
                "text-xl " + ("text-positive" if result.ok else "text-negative")
            )
            ui.label(f"Test up to '{result.node_id}': {result.message}").classes("font-medium fb-test-summary")
            ui.label(f"{result.seconds:.2f} s").classes("fb-muted text-xs")
            stale = ui.label("stale: the flow changed since this test; Test node again").classes(
                "fb-chip fb-chip-warn fb-results-stale"
            )
            stale.set_visibility(False)
            ui.space()
            ui.button(icon="close", on_click=lambda: (container.set_visibility(False), on_close and on_close())).props(
                "flat round dense"
            ).classes("fb-close-results").tooltip("Close the results")
        if not result.nodes:
            container.set_visibility(True)
            return stale
        with ui.tabs(value=result.node_id).props("dense align=left no-caps").classes("w-full px-3") as tabs:
            for node in result.nodes:
                ui.tab(node.node_id, label=node.node_id)
        with (
            ui.tab_panels(tabs, value=result.node_id)
            .classes("w-full")
            .style("height: calc(38vh - 90px); overflow:auto")
        ):
            for node in result.nodes:
                with ui.tab_panel(node.node_id).classes("p-2"):
                    _node_tab(node)
    container.set_visibility(True)
    return stale
