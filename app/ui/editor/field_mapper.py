"""The map node's field mapper: source fields on the left, the target's fields on the right.

Drag a source onto a target (or pick the target, then click the source) to make `{{ record.x }}`;
refine a line with filters from its menu; each line shows its value on the sample records, and the
head says how much of the target is covered. It edits the map node's `fields`, the same object the
side panel's text form edits, through DocumentState, so undo and "unsaved" work as for any edit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.services import field_mapping as mapping
from app.services.field_mapping import TargetField
from app.services.previews import preview_expression
from app.ui.editor.document_state import DocumentState
from app.ui.editor.schema_form import FormServices, gather_quietly

PREVIEWS = 3  # sample records each line is shown on
FIELD_MIME = "text/x-fb-field"


def drag_source(element: ui.element, field: str) -> ui.element:
    """Make an element a draggable source field: a mapper line takes its name, any expression field
    of the side panel takes `record.x` (a template field `{{ record.x }}`), see DROP_INTO_FIELDS."""
    element.props("draggable=true")
    element.on(
        "dragstart",
        js_handler=(
            f"(e) => {{ e.dataTransfer.setData('{FIELD_MIME}', {json.dumps(field)});"
            f" e.dataTransfer.setData('text/plain', {json.dumps(mapping.template_for(field))}); }}"
        ),
    )
    return element


# A source field dropped on an expression or template input of the page is written at the caret,
# and Vue hears it as typing (an `input` event), so the form stores it like any edit.
DROP_INTO_FIELDS = """
<script>
document.addEventListener('drop', (event) => {
  const field = event.dataTransfer && event.dataTransfer.getData('FIELD_MIME');
  const input = event.target && event.target.closest && event.target.closest('.fb-drop-expression, .fb-drop-template');
  if (!field || !input) return;
  const box = input.querySelector('input, textarea') || input;
  if (!('value' in box)) return;
  event.preventDefault();
  const named = /^[A-Za-z_][A-Za-z0-9_]*$/.test(field) ? 'record.' + field : 'record[' + JSON.stringify(field) + ']';
  const text = input.classList.contains('fb-drop-template') ? '{{ ' + named + ' }}' : named;
  const start = box.selectionStart ?? box.value.length, end = box.selectionEnd ?? box.value.length;
  box.setRangeText(text, start, end, 'end');
  box.dispatchEvent(new Event('input', { bubbles: true }));
}, true);
document.addEventListener('dragover', (event) => {
  if (event.target && event.target.closest && event.target.closest('.fb-drop-expression, .fb-drop-template')) event.preventDefault();
}, true);
</script>""".replace("FIELD_MIME", FIELD_MIME)


class FieldMapper:
    def __init__(
        self,
        state: DocumentState,
        node_id: str,
        services: FormServices,
        changed: Callable[[bool], None],
        closed: Callable[[], None],
    ) -> None:
        self.state = state
        self.node_id = node_id
        self.services = services
        self.changed = changed
        self.closed = closed
        self.samples: list[dict[str, Any]] = []
        self.sources: list[str] = []
        self.targets: list[TargetField] = []
        self.notes: list[str] = []
        self.armed: str | None = None  # a target picked by a click, waiting for a source
        self.query = ""

    @property
    def fields(self) -> dict[str, Any]:
        node = self.state.node(self.node_id) or {}
        config = node.setdefault("config", {})
        found = config.get("fields")
        if not isinstance(found, dict):
            found = config["fields"] = {}
        return found

    # --- opening ----------------------------------------------------------------------------------

    async def open(self) -> None:
        with ui.dialog().props("maximized=false") as self.dialog, ui.card().classes("fb-mapper gap-2"):
            with ui.row().classes("w-full items-center no-wrap gap-3"):
                ui.icon("swap_horiz").classes("text-2xl text-primary")
                with ui.column().classes("gap-0 grow min-w-0"):
                    ui.label(f"Field mapper · {self.node_id}").classes("text-base font-semibold")
                    self.coverage_label = ui.label("Reading the source and the target…").classes(
                        "text-sm fb-mapper-coverage"
                    )
                ui.button("Map same names", icon="auto_fix_high", on_click=self.map_same_names).props(
                    "flat no-caps"
                ).classes("fb-map-same").tooltip("Map each unmapped target field from a source field of the same name")
                ui.button(icon="close", on_click=self.dialog.close).props("flat round dense").classes(
                    "fb-mapper-close"
                ).mark("mapper-close").tooltip("Close (the mapping is in the flow already; Save keeps it)")
            self.body = ui.row().classes("w-full no-wrap gap-4 items-start fb-mapper-body")
            with self.body:
                ui.spinner(size="lg")
        self.dialog.on("hide", lambda: self.closed())
        self.dialog.open()
        await self._load()
        self.render()

    async def _load(self) -> None:
        document = self.state.document
        read = mapping.nearest(document, self.node_id, downstream=False, family="read")
        write = mapping.nearest(document, self.node_id, downstream=True, family="write")

        async def read_columns() -> list[str]:
            if read and read.connection and read.table:
                return await self.services.columns(read.connection, read.table)
            return []

        async def write_columns() -> list[str]:
            if write and write.connection and write.table:
                return await self.services.columns(write.connection, write.table)
            return []

        async def required() -> list[str]:
            if write and write.connection and write.table:  # an API path has none: the call says so, quietly
                return await self.services.required_columns(write.connection, write.table)
            return []

        samples, columns, target_columns, must = await gather_quietly(
            self.services.samples(), read_columns(), write_columns(), required()
        )
        self.notes = []
        if isinstance(samples, tuple):
            self.samples, why = samples
            if why:
                self.notes.append(f"No sample records: {why}")
        if isinstance(columns, Exception):
            self.notes.append(f"Could not list the columns of {read.table if read else 'the read'}: {columns}")
            columns = []
        if isinstance(target_columns, Exception):
            self.notes.append(
                f"Could not list the fields of {write.table if write else 'the target'}: {target_columns}"
            )
            target_columns = []
        if isinstance(must, Exception):
            must = []
        if write is None:
            self.notes.append("No write after this node: the target's fields are the ones named here.")
        elif not write.table:
            self.notes.append(f"'{write.node_id}' names no table: the target's fields are the ones named here.")
        self.sources = mapping.source_fields(self.samples, columns or [])
        self.target_name = f"{write.connection}.{write.table}" if write and write.table else "the target"
        self.target_columns, self.required, self.key = target_columns or [], must or [], write.key if write else ()
        self._retarget()

    def _retarget(self) -> None:
        self.targets = mapping.target_fields(self.target_columns, self.required, self.key, self.fields)

    # --- what is shown ----------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        with self.body:
            with ui.column().classes("fb-mapper-sources gap-1"):
                ui.label(f"Source fields ({len(self.sources)})").classes("font-semibold text-sm")
                ui.input(placeholder="Find a field", value=self.query, on_change=self._find).props(
                    "dense outlined clearable"
                ).classes("w-full fb-mapper-find")
                self.source_list = ui.column().classes("w-full gap-1")
                self._source_chips()
            with ui.column().classes("grow min-w-0 gap-1"):
                ui.label(f"Target fields of {self.target_name}").classes("font-semibold text-sm")
                for note in self.notes:
                    ui.label(note).classes("fb-muted text-xs fb-mapper-note")
                self.lines = ui.column().classes("w-full gap-1 fb-mapper-lines")
                self._lines()
                with ui.row().classes("w-full items-center no-wrap gap-2"):
                    extra = ui.input(placeholder="Another target field").props("dense outlined").classes("grow")
                    extra.mark("mapper-new-target")

                    def add(_: Any = None) -> None:
                        name = (extra.value or "").strip()
                        if name and name not in self.fields:
                            self._set_line(name, "")
                            self.target_columns = [*self.target_columns, name]
                            self._retarget()
                            self._lines()
                        extra.value = ""

                    extra.on("keydown.enter", add)
                    ui.button(icon="add", on_click=add).props("flat round dense").tooltip("Add a target field")
        self._coverage()

    def _find(self, e: Any) -> None:
        self.query = (e.value or "").strip().lower()
        self._source_chips()

    def _source_chips(self) -> None:
        self.source_list.clear()
        sample = self.samples[0] if self.samples else {}
        with self.source_list:
            for name in [s for s in self.sources if self.query in s.lower()]:
                with drag_source(ui.row(), name).classes("fb-source-field no-wrap items-center gap-2") as chip:
                    ui.icon("drag_indicator").classes("text-slate-400")
                    ui.label(name).classes("font-mono text-sm")
                    if name in sample:
                        ui.label(_short(sample[name])).classes("fb-muted text-xs truncate")
                chip.on("click", lambda _, n=name: self.source_clicked(n))
                chip.mark(f"source-{name}")
                chip.tooltip("Drag onto a target field, or pick a target and click here")
            if not self.sources:
                ui.label("No source fields known: test the upstream nodes, or name fields in the text form.").classes(
                    "fb-muted text-xs"
                )

    def _lines(self) -> None:
        self.lines.clear()
        with self.lines:
            for target in self.targets:
                self._line(target)

    def _line(self, target: TargetField) -> None:
        template = self.fields.get(target.name)
        css = "fb-mapper-line w-full no-wrap items-center gap-2" + (" fb-armed" if self.armed == target.name else "")
        with ui.row().classes(css) as row:
            row.props(f"data-target={json.dumps(target.name)}").mark(f"line-{target.name}")
            row.on("dragover", js_handler="(e) => e.preventDefault()")
            row.on(
                "drop",
                lambda e, t=target.name: self.dropped(t, e.args),
                js_handler=f"(e) => {{ e.preventDefault(); emit(e.dataTransfer.getData('{FIELD_MIME}')); }}",
            )
            name = ui.label(target.name + (" *" if target.required else "")).classes(
                "fb-target-name font-mono text-sm cursor-pointer"
                + (" fb-required" if target.required else "")
                + ("" if target.in_target else " fb-not-in-target")
            )
            name.on("click", lambda _, t=target.name: self.arm(t))
            name.mark(f"target-{target.name}")
            if not target.in_target:
                name.tooltip(
                    f"Not a field of {self.target_name} (as last read): right only when the write uses it"
                    " in its own settings (a sync's source_updated, say)"
                )
            elif target.required:
                name.tooltip("Required: a new record without it is refused")
            box = (
                ui.input(value=template or "", placeholder="drop a source field here")
                .props("dense outlined")
                .classes("grow font-mono fb-mapper-template fb-drop-template")
                .mark(f"template-{target.name}")
            )
            box.on_value_change(lambda e, t=target.name: self._typed(t, e.value))
            with (
                ui.button(icon="filter_alt")
                .props("flat round dense")
                .classes("fb-mapper-filters")
                .mark(f"filters-{target.name}")
                .tooltip("Add a filter")
            ):
                with ui.menu():
                    for filter_name, meaning in mapping.FILTERS.items():
                        ui.menu_item(
                            f"{filter_name} · {meaning}",
                            lambda _, t=target.name, f=filter_name: self.add_filter(t, f),
                        ).mark(f"filter-{target.name}-{filter_name}")
                    for map_name in self.services.value_maps():
                        ui.menu_item(
                            f"value_map · {map_name}",
                            lambda _, t=target.name, m=map_name: self.add_filter(t, mapping.value_map_filter(m)),
                        )
            ui.label(self._preview(template)).classes("fb-mapper-preview fb-muted text-xs truncate").mark(
                f"preview-{target.name}"
            )
            ui.button(icon="close", on_click=lambda _, t=target.name: self.clear(t)).props(
                "flat round dense size=sm"
            ).mark(f"unmap-{target.name}").tooltip("Unmap")

    def _preview(self, template: Any) -> str:
        if not mapping.is_mapped(template):
            return ""
        result = preview_expression(template, "template", self.samples, self.services.value_maps(), limit=PREVIEWS)
        if result.error:
            return f"✗ {result.error}"
        if not result.values:
            return "no sample records"
        return " · ".join(f"fails: {failure}" if failure else _short(value) for _, value, failure in result.values)

    def _coverage(self) -> None:
        covered = mapping.coverage(self.targets, self.fields)
        self.coverage_label.text = covered.text
        warn = bool(covered.missing_required)
        self.coverage_label.classes(replace="text-sm fb-mapper-coverage " + ("text-warning" if warn else "fb-muted"))

    # --- gestures ---------------------------------------------------------------------------------

    def _set_line(self, target: str, template: str) -> None:
        self.state.edit(f"{self.node_id}:config.fields.{target}")
        fields = self.fields
        if template.strip():
            fields[target] = template
        else:
            fields.pop(target, None)
        self.changed(False)

    def _typed(self, target: str, text: str | None) -> None:
        self._set_line(target, text or "")
        self._coverage()
        self._refresh_preview(target)

    def _refresh_preview(self, target: str) -> None:
        for row in self.lines:
            if row.props.get("data-target") == json.dumps(target):
                preview = next(c for c in row if "fb-mapper-preview" in c.classes)
                preview.text = self._preview(self.fields.get(target))  # type: ignore[attr-defined]

    def map_to(self, target: str, source: str) -> None:
        self._set_line(target, mapping.template_for(source))
        self.armed = None
        self._retarget()
        self._lines()
        self._coverage()

    def dropped(self, target: str, source: Any) -> None:
        if isinstance(source, str) and source:
            self.map_to(target, source)

    def arm(self, target: str) -> None:
        self.armed = None if self.armed == target else target
        self._lines()
        if self.armed:
            ui.notify(f"Now click the source field for {target}", type="info")

    def source_clicked(self, source: str) -> None:
        if self.armed:
            self.map_to(self.armed, source)
        else:
            ui.notify("Drag it onto a target field, or click a target field first", type="info")

    def add_filter(self, target: str, filter_text: str) -> None:
        template = self.fields.get(target)
        if not isinstance(template, str) or not template.strip():
            ui.notify(f"Map a source field to {target} first", type="warning")
            return
        try:
            refined = mapping.refine(template, filter_text)
        except ValueError as refused:
            ui.notify(f"{target}: {refused}", type="warning")
            return
        self._set_line(target, refined)
        self._lines()
        self._coverage()

    def clear(self, target: str) -> None:
        self._set_line(target, "")
        self._retarget()
        self._lines()
        self._coverage()

    def map_same_names(self) -> None:
        sources = set(self.sources)
        todo = [t.name for t in self.targets if t.name in sources and not mapping.is_mapped(self.fields.get(t.name))]
        if not todo:
            ui.notify("No unmapped target field has a source field of the same name", type="info")
            return
        self.state.edit(f"{self.node_id}:config.fields:same-names")
        for name in todo:
            self.fields[name] = mapping.template_for(name)
        self.changed(False)
        self._lines()
        self._coverage()
        ui.notify(f"Mapped {len(todo)} field(s) by name: {', '.join(todo[:6])}{' …' if len(todo) > 6 else ''}")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:40] + "…"
