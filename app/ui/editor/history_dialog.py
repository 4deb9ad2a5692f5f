"""The history dialog: a flow's versions (who, when, comment), the difference between two, restore one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.services import designer, flow_reads
from app.ui import context
from app.ui.feedback import tell_error

EDITOR = 0  # the "version" that means what is in the editor now


def open_history(
    flow_id: str, current: Callable[[], dict[str, Any]], restore: Callable[[dict[str, Any], int], None]
) -> None:
    try:
        versions = designer.version_rows(context.store(), flow_id, context.node_types())
    except Exception as error:
        tell_error(error, "read the history")
        return
    if not versions:
        ui.notify("This flow has not been saved yet: it has no history.", type="info")
        return
    with ui.dialog() as dialog, ui.card().classes("w-[56rem] max-w-full gap-3 fb-history"):
        dialog.on("hide", dialog.delete)
        ui.label("History").classes("text-lg font-semibold")
        columns = [
            {"name": "version", "label": "Version", "field": "version", "align": "left"},
            {"name": "when", "label": "Saved", "field": "when", "align": "left"},
            {"name": "author", "label": "By", "field": "author", "align": "left"},
            {"name": "comment", "label": "Comment", "field": "comment", "align": "left"},
            {"name": "state", "label": "", "field": "state", "align": "left"},
            {"name": "restore", "label": "", "field": "version", "align": "right"},
        ]
        rows = [
            {
                "version": v.version,
                "when": f"{v.created_at:%Y-%m-%d %H:%M} UTC",
                "author": v.author,
                "comment": v.comment,
                "state": "draft" if v.draft else "valid",
            }
            for v in versions
        ]
        table = (
            ui.table(columns=columns, rows=rows, row_key="version")
            .props("flat bordered dense")
            .classes("w-full fb-versions")
            .style("max-height: 40vh")
        )
        table.add_slot(
            "body-cell-state",
            """
            <q-td :props="props"><span :class="'fb-chip ' + (props.value === 'draft' ? 'fb-chip-draft' : 'fb-chip-ok')">
              {{ props.value }}</span></q-td>""",
        )
        table.add_slot(
            "body-cell-restore",
            """
            <q-td :props="props"><q-btn flat dense no-caps icon="restore" label="Restore"
              @click="() => $parent.$emit('restore', props.row.version)" /></q-td>""",
        )

        def do_restore(version: int) -> None:
            try:
                document, _ = flow_reads.document(context.store(), flow_id, version)
            except Exception as error:
                tell_error(error, f"restore version {version}")
                return
            restore(document, version)
            dialog.close()

        table.on("restore", lambda e: do_restore(int(e.args)))
        ui.separator()
        ui.label("Compare two versions").classes("font-semibold")
        options = {EDITOR: "the editor now (unsaved)", **{v.version: f"version {v.version}" for v in versions}}
        with ui.row().classes("items-center gap-2"):
            older = (
                ui.select(
                    options, value=versions[1].version if len(versions) > 1 else versions[0].version, label="From"
                )
                .props("dense outlined")
                .classes("w-56 fb-diff-from")
            )
            ui.icon("arrow_forward")
            newer = (
                ui.select(options, value=versions[0].version if len(versions) > 1 else EDITOR, label="To")
                .props("dense outlined")
                .classes("w-56 fb-diff-to")
            )
        changes_box = ui.column().classes("w-full gap-1 max-h-72 overflow-auto fb-diff")

        def document_of(version: int) -> dict[str, Any]:
            return current() if version == EDITOR else flow_reads.document(context.store(), flow_id, version)[0]

        def compare() -> None:
            changes_box.clear()
            try:
                changes = designer.diff_documents(document_of(older.value), document_of(newer.value))
            except Exception as error:
                tell_error(error, "compare the versions")
                return
            with changes_box:
                if not changes:
                    ui.label("No differences (positions aside).").classes("fb-muted")
                icons = {
                    "added": ("add_circle", "text-positive"),
                    "removed": ("remove_circle", "text-negative"),
                    "changed": ("change_circle", "text-primary"),
                }
                for change in changes:
                    icon, colour = icons[change.kind]
                    with ui.row().classes("items-start gap-2 no-wrap fb-diff-line"):
                        ui.icon(icon).classes(colour)
                        ui.label(change.sentence()).classes("text-sm")

        older.on_value_change(compare)
        newer.on_value_change(compare)
        compare()
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
    dialog.open()
