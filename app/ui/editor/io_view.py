"""Beside a node's form: the fields of the sample records it receives (and, after a Test node, those
it sends on), each draggable into any expression or template field of the form."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import background_tasks, ui

from app.services.field_mapping import source_fields
from app.ui.editor.field_mapper import drag_source

SHOWN_FIELDS = 60


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 32 else text[:32] + "…"


def _chips(records: list[dict[str, Any]], css: str) -> None:
    names = source_fields(records, [])
    first = records[0] if records else {}
    with ui.column().classes(f"w-full gap-1 {css}"):
        for name in names[:SHOWN_FIELDS]:
            with drag_source(ui.row(), name).classes("fb-source-field no-wrap items-center gap-2"):
                ui.icon("drag_indicator").classes("text-slate-400")
                ui.label(name).classes("font-mono text-xs")
                if name in first:
                    ui.label(_value(first[name])).classes("fb-muted text-xs truncate")
        if len(names) > SHOWN_FIELDS:
            ui.label(f"… and {len(names) - SHOWN_FIELDS} more").classes("fb-muted text-xs")


def io_view(
    samples: Callable[[], Awaitable[tuple[list[dict[str, Any]], str | None]]],
    emitted: list[dict[str, Any]] | None,
) -> None:
    """An expansion with the node's input fields (read from the sample records as it opens) and its
    output fields when a test of this node has run since its last edit."""
    with ui.expansion("Input and output fields", icon="input").classes("w-full fb-sub-object fb-io-view") as box:
        ui.label("Drag a field into any expression or template field.").classes("fb-field-hint")
        inputs = ui.column().classes("w-full gap-1")
        with inputs:
            ui.spinner(size="sm")
        ui.label("Out" + ("" if emitted else ": Test node shows what it sends on")).classes(
            "font-semibold text-xs fb-io-out"
        )
        if emitted:
            _chips(emitted, "fb-io-emitted")

    async def load() -> None:
        records, why = await samples()
        inputs.clear()
        with inputs:
            ui.label(
                f"In ({len(records)} sample records)"
                if records
                else "In: no sample records" + (f" ({why})" if why else "")
            ).classes("font-semibold text-xs")
            _chips(records, "fb-io-received")

    opened = False

    def first_open(e: Any) -> None:
        nonlocal opened
        if e.value and not opened:
            opened = True
            background_tasks.create(load(), name="input fields")

    box.on_value_change(first_open)
