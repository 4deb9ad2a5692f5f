"""The flow's value maps (lookup tables for the value_map filter) as editable tables, or as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.ui.editor.document_state import DocumentState

ON_MISSING = {"pass": "keep the value as it is", "default": "use a default value", "fail": "fail the record"}
MAX_ROWS_SHOWN = 300  # a bigger table is edited as JSON


class ValueMapsEditor:
    def __init__(self, state: DocumentState, changed: Callable[[bool], None]) -> None:
        self.state = state
        self.changed = changed
        self.as_json = False
        self.open_maps: set[str] = set()  # kept open across a refresh, so adding entries is one after another

    @property
    def maps(self) -> dict[str, Any]:
        return self.state.document.get("value_maps") or {}

    def _edit(self, name: str) -> None:
        self.state.edit(f"flow:value_maps:{name}")

    def _store(self, maps: dict[str, Any]) -> None:
        if maps:
            self.state.document["value_maps"] = maps
        else:
            self.state.document.pop("value_maps", None)
        self.changed(False)

    @ui.refreshable_method
    def render(self) -> None:
        with ui.row().classes("w-full items-center justify-between"):
            ui.label(
                "Lookup tables for templates: {{ record.state | value_map('us_states') }}. "
                "Keys match trimmed and case-insensitively."
            ).classes("fb-field-hint")
        ui.switch("Edit as JSON", value=self.as_json, on_change=lambda e: self._toggle(e.value)).props("dense")
        if self.as_json:
            self._json_editor()
            return
        for name in list(self.maps):
            self._map(name)
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            new_name = (
                ui.input("New value map", placeholder="e.g. us_states")
                .props("dense outlined")
                .classes("grow")
                .mark("new-value-map")
            )

            def add(_: Any = None) -> None:
                name = (new_name.value or "").strip()
                if not name.isidentifier():
                    ui.notify("A value map's name is letters, digits and _ (not starting with a digit)", type="warning")
                    return
                if name in self.maps:
                    ui.notify(f"There is already a value map '{name}'", type="warning")
                    return
                self._edit(name)
                self.open_maps.add(name)
                self._store({**self.maps, name: {}})
                self.render.refresh()

            new_name.on("keydown.enter", add)
            ui.button("Add", icon="add", on_click=add).props("flat dense no-caps")

    def _toggle(self, as_json: bool) -> None:
        self.as_json = as_json
        self.render.refresh()

    def _map(self, name: str) -> None:
        raw = self.maps[name]
        extended = isinstance(raw, dict) and isinstance(raw.get("entries"), dict)
        entries: dict[str, Any] = raw["entries"] if extended else raw
        with ui.expansion(
            f"{name} · {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}",
            icon="table_chart",
            value=name in self.open_maps,
            on_value_change=lambda e: (self.open_maps.add if e.value else self.open_maps.discard)(name),
        ).classes("w-full fb-sub-object fb-value-map"):
            if len(entries) > MAX_ROWS_SHOWN:
                ui.label(f"{len(entries)} entries: switch on “Edit as JSON” to change this one.").classes(
                    "fb-field-hint"
                )
            else:
                for key in list(entries):
                    self._row(name, entries, key)
                self._new_row(name, entries)
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                mode = raw.get("on_missing", "pass") if extended else "pass"
                ui.select(
                    ON_MISSING,
                    value=mode,
                    label="A value with no entry",
                    on_change=lambda e: self._set_missing(name, e.value),
                ).props("dense outlined").classes("grow")
                ui.button(icon="delete", on_click=lambda: self._delete(name)).props(
                    "flat round dense color=negative"
                ).tooltip(f"Delete the value map '{name}'")
            if extended and raw.get("on_missing") == "default":
                ui.input(
                    "Default value",
                    value="" if raw.get("default") is None else str(raw["default"]),
                    on_change=lambda e: self._set_default(name, e.value),
                ).props("dense outlined").classes("w-full")

    def _row(self, name: str, entries: dict[str, Any], key: str) -> None:
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            key_input = ui.input(value=key).props("dense outlined").classes("w-28 shrink-0 fb-value-map-from")
            ui.icon("arrow_forward").classes("text-slate-400")
            value = entries[key]
            value_input = (
                ui.input(value="" if value is None else str(value))
                .props("dense outlined")
                .classes("grow min-w-0 fb-value-map-to")
            )

            def rename(_: Any = None, old: list[str] = [key]) -> None:  # noqa: B006 - one cell per row
                new = (key_input.value or "").strip()
                if not new or new == old[0] or new in entries:
                    return
                self._edit(name)
                items = list(entries.items())
                entries.clear()
                entries.update({(new if k == old[0] else k): v for k, v in items})
                old[0] = new
                self.changed(False)

            def revalue(e: Any, current: list[str] = [key]) -> None:  # noqa: B006
                self._edit(f"{name}:{current[0]}")
                entries[key_input.value or current[0]] = e.value
                self.changed(False)

            key_input.on("blur", rename)
            value_input.on_value_change(revalue)

            def remove() -> None:
                self._edit(name)
                entries.pop(key_input.value, None)
                entries.pop(key, None)
                self.changed(False)
                self.render.refresh()

            ui.button(icon="close", on_click=remove).props("flat round dense size=sm")

    def _new_row(self, name: str, entries: dict[str, Any]) -> None:
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            key_input = (
                ui.input(placeholder="from")
                .props("dense outlined")
                .classes("w-28 shrink-0")
                .mark(f"new-entry-key-{name}")
            )
            ui.icon("arrow_forward").classes("text-slate-300")
            value_input = (
                ui.input(placeholder="to")
                .props("dense outlined")
                .classes("grow min-w-0")
                .mark(f"new-entry-value-{name}")
            )

            def add(_: Any = None) -> None:
                key = (key_input.value or "").strip()
                if not key:
                    ui.notify("Type the value to look up first", type="warning")
                    return
                self._edit(name)
                entries[key] = value_input.value or ""
                if name not in self.maps:
                    self._store({**self.maps, name: entries})
                else:
                    self.changed(False)
                self.render.refresh()

            value_input.on("keydown.enter", add)
            ui.button(icon="add", on_click=add).props("flat round dense size=sm").tooltip("Add the entry")

    def _set_missing(self, name: str, mode: str) -> None:
        raw = self.maps[name]
        self._edit(name)
        entries = raw["entries"] if isinstance(raw.get("entries"), dict) else raw
        maps = dict(self.maps)
        maps[name] = (
            entries
            if mode == "pass"
            else {
                "entries": entries,
                "on_missing": mode,
                **({"default": raw.get("default")} if mode == "default" else {}),
            }
        )
        self._store(maps)
        self.render.refresh()

    def _set_default(self, name: str, value: str) -> None:
        self._edit(f"{name}:default")
        self.maps[name]["default"] = value
        self.changed(False)

    def _delete(self, name: str) -> None:
        self._edit(name)
        self._store({k: v for k, v in self.maps.items() if k != name})
        self.render.refresh()
        ui.notify(f"Value map '{name}' deleted (Ctrl+Z brings it back)")

    def _json_editor(self) -> None:
        editor = (
            ui.textarea(value=json.dumps(self.maps, indent=2, ensure_ascii=False))
            .props("dense outlined autogrow input-class=font-mono")
            .classes("w-full fb-value-maps")
        )
        status = ui.label().classes("text-xs")

        def parse(e: Any) -> None:
            try:
                value = json.loads(e.value or "{}")
            except json.JSONDecodeError as error:
                status.text = f"✗ not JSON yet: {error.msg} (line {error.lineno})"
                status.classes(replace="text-xs text-negative")
                return
            if not isinstance(value, dict):
                status.text = "✗ value maps are a JSON object of name → {key: value}"
                status.classes(replace="text-xs text-negative")
                return
            status.text = f"✓ {len(value)} value map(s)"
            status.classes(replace="text-xs text-positive")
            self.state.edit("flow:value_maps:json")
            self._store(value)

        editor.on_value_change(parse)
