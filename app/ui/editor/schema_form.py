"""A form built from a node type's JSON Schema: no UI code per node type, a new type gets a form too.

Widgets by schema: text, numbers, enums as drop-downs, booleans as switches, lists as chips, key/value
maps for `additionalProperties` objects (the map node's fields), lists of objects and `oneOf` steps
(transform) as cards, and pickers from `x-picker`: connection names, tables and columns read from the
connected system. `x-expression` fields are checked as you type and previewed on sample records.

The form edits the config dict in place and calls `on_change(path)` after each edit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import background_tasks, ui

from app.problems import json_path
from app.services import designer
from app.services.previews import preview_expression

Path = tuple[Any, ...]

# Which pickers list what another field names: a connection's tables, a table's (or model's, or
# entity set's) columns.
DEPENDENT_PICKERS = {
    "connection": ("table", "column"),
    "table": ("column",),
    "model": ("column",),
    "entity_set": ("column",),
}
SCOPE_KEYS = frozenset(DEPENDENT_PICKERS)


@dataclass
class FormServices:
    """What a form needs from outside: picker options and sample records (all may be slow)."""

    connection_names: Callable[[], list[str]]
    tables: Callable[[str], Awaitable[list[str]]]
    columns: Callable[[str, str], Awaitable[list[str]]]
    required_columns: Callable[[str, str], Awaitable[list[str]]]
    samples: Callable[[], Awaitable[tuple[list[dict[str, Any]], str | None]]]
    value_maps: Callable[[], dict[str, Any]]


def resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return root.get("$defs", {}).get(ref.rsplit("/", 1)[-1], schema)
    return schema


def label_of(name: Any, schema: dict[str, Any], required: bool = False) -> str:
    text = schema.get("title") or str(name).replace("_", " ").capitalize()
    return f"{text} *" if required else text


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _step_title(root: dict[str, Any], branches: list[dict[str, Any]], value: Any) -> str:
    for branch in branches:
        branch = resolve(root, branch)
        op = branch.get("properties", {}).get("op", {}).get("const")
        if isinstance(value, dict) and op is not None and value.get("op") == op:
            return branch.get("title") or op
    return "Step"


def _branch_for(root: dict[str, Any], branches: list[dict[str, Any]], value: Any) -> dict[str, Any] | None:
    for branch in branches:
        branch = resolve(root, branch)
        op = branch.get("properties", {}).get("op", {}).get("const")
        if isinstance(value, dict) and op is not None and value.get("op") == op:
            return branch
    return None


class SchemaForm:
    """Renders `schema` for `value` (a dict edited in place) into the current NiceGUI container."""

    def __init__(
        self,
        schema: dict[str, Any],
        value: dict[str, Any],
        *,
        services: FormServices,
        on_change: Callable[[str], None],
        before_change: Callable[[str], None] = lambda path: None,
        problems: dict[str, list[str]] | None = None,
    ) -> None:
        self.root = schema
        self.value = value
        self.services = services
        self.on_change = on_change
        self.before_change = before_change  # called before the config changes: an undo step
        self.problems = problems or {}
        self.expression_checks: dict[str, Callable[[], None]] = {}
        self._maps: set[int] = set()  # key/value dicts: a value cleared there stays, empty
        self._pickers: list[
            tuple[ui.select, str, list[dict[str, Any]]]
        ] = []  # refilled when what they depend on changes

    # --- entry ------------------------------------------------------------------------------------

    @ui.refreshable_method
    def render(self) -> None:
        self.expression_checks.clear()
        self._pickers.clear()
        with ui.column().classes("w-full gap-3 fb-form"):
            self._object_fields(self.root, self.value, (), [self.value])

    def _object_fields(
        self, schema: dict[str, Any], value: dict[str, Any], path: Path, scope: list[dict[str, Any]]
    ) -> None:
        schema = resolve(self.root, schema)
        required = set(schema.get("required", []))
        for name, sub in schema.get("properties", {}).items():
            sub = resolve(self.root, sub)
            if "const" in sub:  # a step's `op`: shown as the card's title, not edited
                continue
            self._field(sub, value, name, (*path, name), label_of(name, sub, name in required), scope)
        if isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
            self._key_values(schema, value, path, scope)

    # --- one field --------------------------------------------------------------------------------

    def _set(self, container: Any, key: Any, new: Any, path: Path) -> None:
        self.before_change(json_path(path))
        if isinstance(container, dict) and _is_empty(new) and id(container) not in self._maps:
            container.pop(key, None)
        else:
            container[key] = new
        self.on_change(json_path(path))
        if key in SCOPE_KEYS and isinstance(container, dict):
            self._refill_dependents(container, key)

    def _refill_dependents(self, container: dict[str, Any], key: str) -> None:
        """A new connection lists its tables, a new table its columns, in the pickers already shown
        (they were filled when the form opened, from what the config named then)."""
        dependents = DEPENDENT_PICKERS[key]
        for element, picker, scope in self._pickers:
            if picker in dependents and any(s is container for s in scope):
                self._fill_options(element, picker, scope, element.value)

    def _hint(self, schema: dict[str, Any], path: Path) -> str:
        problems = self.problems.get(json_path(path)[2:] if len(path) else "", [])
        return "; ".join(problems) if problems else (schema.get("description") or "")

    def _error(self, path: Path) -> str | None:
        problems = self.problems.get(json_path(path)[2:] if len(path) else "", [])
        return "; ".join(problems) if problems else None

    def _decorate(self, element: ui.element, schema: dict[str, Any], path: Path) -> ui.element:
        element.props("dense outlined stack-label").classes("w-full")
        error = self._error(path)
        if error:
            element.props(f"error error-message={json.dumps(error)}")
        elif schema.get("description"):
            element.props(f"hint={json.dumps(schema['description'])}")
        element.props(f"data-field={json.dumps(json_path(path)[2:])}")
        return element

    def _field(
        self, schema: dict[str, Any], container: Any, key: Any, path: Path, label: str, scope: list[dict[str, Any]]
    ) -> None:
        schema = resolve(self.root, schema)
        current = container.get(key) if isinstance(container, dict) else container[key]
        kind = schema.get("type")
        if "anyOf" in schema:  # one column or several (key_list): edit as a list
            array = next(
                (resolve(self.root, b) for b in schema["anyOf"] if resolve(self.root, b).get("type") == "array"), None
            )
            if array is not None:
                if isinstance(current, str):
                    current = [current]
                self._string_list(
                    {**array, "title": schema.get("title"), "description": schema.get("description")},
                    container,
                    key,
                    path,
                    label,
                    scope,
                    current or [],
                )
                return
        if schema.get("x-widget") == "json":
            self._json(schema, container, key, path, label, current)
        elif schema.get("x-expression"):
            self._expression(schema, container, key, path, label, current)
        elif "enum" in schema:
            self._enum(schema, container, key, path, label, current)
        elif schema.get("x-picker"):
            self._picker(schema, container, key, path, label, current, scope)
        elif kind == "boolean":
            value = current if isinstance(current, bool) else bool(schema.get("default", False))
            switch = ui.switch(label, value=value, on_change=lambda e: self._set(container, key, e.value, path))
            switch.props(f"data-field={json.dumps(json_path(path)[2:])}")
            if schema.get("description"):
                switch.tooltip(schema["description"])
        elif kind in ("integer", "number"):
            self._number(schema, container, key, path, label, current)
        elif kind == "array":
            items = resolve(self.root, schema.get("items", {}))
            if "oneOf" in items:
                self._steps(schema, items["oneOf"], container, key, path, label, scope)
            elif items.get("type") == "object":
                self._object_list(schema, items, container, key, path, label, scope)
            else:
                self._string_list(schema, container, key, path, label, scope, current or [])
        elif kind == "object" and isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
            with ui.column().classes("w-full gap-1"):
                ui.label(label).classes("fb-field-label")
                if schema.get("description"):
                    ui.label(schema["description"]).classes("fb-field-hint")
                if not isinstance(current, dict):
                    current = {}  # attached to the config when a first row is added, not before
                self._key_values(schema, current, path, scope, owner=(container, key))
        elif kind == "object":
            with ui.expansion(label, value=isinstance(current, dict)).classes("w-full fb-sub-object"):
                if not isinstance(current, dict):
                    current = {}
                holder = current

                def commit(_path: str, holder: dict = holder) -> None:
                    if holder and container.get(key) is not holder:
                        container[key] = holder
                    elif not holder:
                        container.pop(key, None)
                    self.on_change(_path)

                saved, self.on_change = self.on_change, commit
                try:
                    self._object_fields(schema, holder, path, [*scope, holder])
                finally:
                    self.on_change = saved
        else:
            self._text(schema, container, key, path, label, current)

    def _text(self, schema: dict[str, Any], container: Any, key: Any, path: Path, label: str, current: Any) -> None:
        text = "" if current is None else (current if isinstance(current, str) else json.dumps(current))
        widget = ui.textarea if schema.get("x-widget") == "textarea" else ui.input
        element = widget(label, value=text, on_change=lambda e: self._set(container, key, e.value, path))
        self._decorate(element, schema, path)
        if schema.get("x-widget") == "textarea":
            element.props("autogrow input-class=font-mono")

    def _json(self, schema: dict[str, Any], container: Any, key: Any, path: Path, label: str, current: Any) -> None:
        """A JSON value typed as text (a request body template); kept only once it parses."""

        def problem(text: str) -> str | None:
            try:
                json.loads(text) if (text or "").strip() else None
            except ValueError as error:
                return f"not JSON yet: {error}"
            return None

        text = "" if current is None else json.dumps(current, indent=2, ensure_ascii=False)
        element = ui.textarea(label, value=text, validation=problem)
        self._decorate(element, schema, path).props("autogrow input-class=font-mono")
        element.props(remove="error error-message")

        def changed(e: Any) -> None:
            if problem(e.value or "") is None:
                self._set(container, key, json.loads(e.value) if (e.value or "").strip() else None, path)

        element.on_value_change(changed)

    def _number(self, schema: dict[str, Any], container: Any, key: Any, path: Path, label: str, current: Any) -> None:
        def changed(e: Any) -> None:
            value = e.value
            if value is not None and schema.get("type") == "integer" and float(value).is_integer():
                value = int(value)
            self._set(container, key, value, path)

        element = ui.number(
            label, value=current, min=schema.get("minimum"), max=schema.get("maximum"), on_change=changed
        )
        if schema.get("default") is not None:
            element.props(f"placeholder={json.dumps(str(schema['default']))}")
        self._decorate(element, schema, path)

    def _enum(self, schema: dict[str, Any], container: Any, key: Any, path: Path, label: str, current: Any) -> None:
        options = list(schema["enum"])
        if current is not None and current not in options:
            options.append(current)
        element = ui.select(
            options,
            label=label,
            value=current if current is not None else schema.get("default"),
            clearable=True,
            on_change=lambda e: self._set(container, key, e.value, path),
        )
        self._decorate(element, schema, path)

    # --- pickers ----------------------------------------------------------------------------------

    def _picker(
        self,
        schema: dict[str, Any],
        container: Any,
        key: Any,
        path: Path,
        label: str,
        current: Any,
        scope: list[dict[str, Any]],
    ) -> None:
        picker = schema["x-picker"]
        options = [current] if isinstance(current, str) and current else []
        element = ui.select(
            options,
            label=label,
            value=current or None,
            with_input=True,
            new_value_mode="add-unique",
            clearable=True,
            on_change=lambda e: self._set(container, key, e.value, path),
        )
        self._decorate(element, schema, path)
        element.props(f"data-picker={picker}")
        self._fill_options(element, picker, scope, current)

    def _fill_options(self, element: ui.select, picker: str, scope: list[dict[str, Any]], current: Any) -> None:
        if not any(e is element for e, _, _ in self._pickers):
            self._pickers.append((element, picker, scope))

        async def load() -> None:
            try:
                found = await self._options(picker, scope)
            except Exception as error:  # an unreachable system: say it under the field, keep typing possible
                element.props(f"hint={json.dumps(f'could not list {picker}s: {error}')}")
                return
            keep = [v for v in ([current] if isinstance(current, str) else (current or [])) if v]
            element.set_options(list(dict.fromkeys([*found, *keep])), value=element.value)

        background_tasks.create(load(), name=f"options for {picker}")

    async def _options(self, picker: str, scope: list[dict[str, Any]]) -> list[str]:
        connection = next((s.get("connection") for s in reversed(scope) if isinstance(s.get("connection"), str)), None)
        # A SQL node names its table; a JSON-RPC node its model (its fields are the columns).
        table = next(
            (s.get(k) for s in reversed(scope) for k in ("table", "model", "entity_set") if isinstance(s.get(k), str)),
            None,
        )
        if picker == "connection":
            return self.services.connection_names()
        if picker == "table" and connection:
            return await self.services.tables(connection)
        if picker == "column" and connection and table:
            return await self.services.columns(connection, table)
        return []

    def _string_list(
        self,
        schema: dict[str, Any],
        container: Any,
        key: Any,
        path: Path,
        label: str,
        scope: list[dict[str, Any]],
        current: list[Any],
    ) -> None:
        items = resolve(self.root, schema.get("items", {}))
        values = [v if isinstance(v, str) else json.dumps(v) for v in (current or [])]
        element = ui.select(
            list(values),
            label=label,
            value=values,
            multiple=True,
            with_input=True,
            new_value_mode="add-unique",
            clearable=True,
            on_change=lambda e: self._set(container, key, list(e.value or []), path),
        )
        element.props("use-chips")
        self._decorate(element, schema, path)
        if items.get("x-picker"):
            element.props(f"data-picker={items['x-picker']}")
            self._fill_options(element, items["x-picker"], scope, values)

    # --- expressions ------------------------------------------------------------------------------

    def _expression(
        self,
        schema: dict[str, Any],
        container: Any,
        key: Any,
        path: Path,
        label: str,
        current: Any,
        preview_count: int = 3,
    ) -> None:
        kind = schema["x-expression"]
        with ui.column().classes("w-full gap-0 fb-expression"):
            # Checked as you type: NiceGUI shows the returned sentence (jinja2's message) under the field.
            element = ui.input(
                label,
                value=current or "",
                validation=lambda text: (
                    f"✗ {error}" if (text or "").strip() and (error := designer.expression_error(text, kind)) else None
                ),
            )
            element.classes(f"font-mono fb-drop-{kind}")  # takes a source field dragged onto it
            self._decorate(element, schema, path)
            # The field's own validation owns its error line; a stored problem (a missing value, say)
            # is listed at the top of the panel instead, so the two never show stale text together.
            element.props(remove="error error-message")
            if self._error(path) and (current or "").strip():
                element.error = self._error(path)
            status = ui.label().classes("fb-expression-status")
            preview = ui.column().classes("w-full gap-0 fb-expression-preview")

        async def check(_: Any = None) -> None:
            text = element.value or ""
            if not text.strip():  # an empty field is "required", which validation already says
                status.text = ""
                preview.clear()
                return
            samples, why = await self.services.samples()
            result = preview_expression(text, kind, samples, self.services.value_maps(), limit=preview_count)
            preview.clear()
            if result.error:  # the field's own validation shows it
                status.text = ""
                return
            status.classes(replace="fb-expression-status fb-expression-ok")
            if not text:
                status.text = ""
                return
            if not result.values:
                status.text = "✓ compiles" + (f" · no sample records: {why}" if why else "")
                return
            status.text = f"✓ compiles · on {len(result.values)} samples:"
            with preview:
                for record, value, failure in result.values:
                    ident = next(iter(record.values()), "") if record else ""  # the record's first field, its id mostly
                    shown = f"fails: {failure}" if failure else json.dumps(value, ensure_ascii=False, default=str)
                    ui.label(f"{ident} → {shown}" if ident != "" else f"→ {shown}").classes(
                        "fb-preview-line" + (" text-negative" if failure else "")
                    )

        def changed(e: Any) -> None:
            self._set(container, key, e.value, path)
            background_tasks.create(check(), name="expression preview")

        element.on_value_change(changed)
        self.expression_checks[json_path(path)] = lambda: background_tasks.create(check(), name="expression preview")
        background_tasks.create(check(), name="expression preview")

    # --- maps and lists of objects ----------------------------------------------------------------

    def _key_values(
        self,
        schema: dict[str, Any],
        value: dict[str, Any],
        path: Path,
        scope: list[dict[str, Any]],
        owner: tuple[Any, Any] | None = None,
    ) -> None:
        """Rows of name -> value for an object with additionalProperties (map fields, lookups)."""
        value_schema = resolve(self.root, schema.get("additionalProperties", {}))
        self._maps.add(id(value))

        def attach() -> None:
            if owner is not None and isinstance(owner[0], dict):
                if value:
                    owner[0][owner[1]] = value
                else:
                    owner[0].pop(owner[1], None)

        with ui.column().classes("w-full gap-2 fb-key-values").props(f"data-field={json.dumps(json_path(path)[2:])}"):
            for name in list(value):
                with ui.row().classes("w-full items-start no-wrap gap-2 fb-key-value-row"):
                    key_input = ui.input("Name", value=name).props("dense outlined").classes("w-28 shrink-0 fb-key")

                    def rename(e: Any, old: list[str] = [name]) -> None:  # noqa: B006 - one cell per row
                        new = (e.sender.value or "").strip()
                        if not new or new == old[0] or new in value:
                            return
                        self.before_change(json_path(path))
                        items = list(value.items())
                        value.clear()
                        value.update({(new if k == old[0] else k): v for k, v in items})
                        old[0] = new
                        self.on_change(json_path((*path, new)))

                    key_input.on("blur", rename)
                    key_input.on("keydown.enter", rename)
                    with ui.column().classes("grow gap-0 min-w-0"):
                        self._field(value_schema, value, name, (*path, name), "Value", scope)

                    def remove(_: Any = None, name: str = name) -> None:
                        self.before_change(json_path(path))
                        value.pop(name, None)
                        attach()
                        self.on_change(json_path(path))
                        self.render.refresh()

                    ui.button(icon="close", on_click=remove).props("flat round dense size=sm").tooltip("Remove")

            with ui.row().classes("w-full items-center no-wrap gap-2 fb-key-value-new"):
                new_name = ui.input("New field name").props("dense outlined").classes("grow fb-new-key")

                def add(_: Any = None) -> None:
                    name = (new_name.value or "").strip()
                    if not name:
                        ui.notify("Type the new field's name first", type="warning")
                        return
                    if name in value:
                        ui.notify(f"'{name}' is already there", type="warning")
                        return
                    self.before_change(json_path(path))
                    value[name] = (
                        "" if value_schema.get("type") in (None, "string") or "x-expression" in value_schema else None
                    )
                    attach()
                    self.on_change(json_path((*path, name)))
                    self.render.refresh()

                new_name.on("keydown.enter", add)
                ui.button("Add", icon="add", on_click=add).props("flat dense no-caps").classes("fb-add-key")

    def _object_list(
        self,
        schema: dict[str, Any],
        items: dict[str, Any],
        container: Any,
        key: Any,
        path: Path,
        label: str,
        scope: list[dict[str, Any]],
    ) -> None:
        current = container.get(key) if isinstance(container, dict) else None
        rows = current if isinstance(current, list) else []
        with ui.column().classes("w-full gap-2"):
            ui.label(label).classes("fb-field-label")
            for index, row in enumerate(rows):
                with ui.card().classes("w-full fb-step-card").props("flat bordered"):
                    with ui.row().classes("w-full items-center justify-between"):
                        ui.label(f"{items.get('title') or 'Item'} {index + 1}").classes("font-medium")
                        ui.button(
                            icon="delete", on_click=lambda _, i=index: self._remove_item(container, key, i, path)
                        ).props("flat round dense size=sm").tooltip("Remove")
                    self._object_fields(items, row, (*path, index), [*scope, row])

            def add() -> None:
                self.before_change(json_path(path))
                container.setdefault(key, []).append({})
                self.on_change(json_path(path))
                self.render.refresh()

            ui.button(f"Add {(items.get('title') or 'item').lower()}", icon="add", on_click=add).props(
                "flat dense no-caps"
            )

    def _steps(
        self,
        schema: dict[str, Any],
        branches: list[dict[str, Any]],
        container: Any,
        key: Any,
        path: Path,
        label: str,
        scope: list[dict[str, Any]],
    ) -> None:
        """A list whose items are one of several shapes (transform steps), told apart by `op`."""
        current = container.get(key) if isinstance(container, dict) else None
        steps = current if isinstance(current, list) else []
        with ui.column().classes("w-full gap-2"):
            ui.label(label).classes("fb-field-label")
            if not steps:
                ui.label("No steps yet.").classes("fb-field-hint")
            for index, step in enumerate(steps):
                branch = _branch_for(self.root, branches, step)
                with ui.card().classes("w-full fb-step-card").props("flat bordered"):
                    with ui.row().classes("w-full items-center justify-between no-wrap"):
                        ui.label(f"{index + 1}. {_step_title(self.root, branches, step)}").classes("font-medium")
                        with ui.row().classes("gap-0 no-wrap"):
                            ui.button(
                                icon="arrow_upward",
                                on_click=lambda _, i=index: self._move_item(container, key, i, -1, path),
                            ).props("flat round dense size=sm").tooltip("Move up")
                            ui.button(
                                icon="arrow_downward",
                                on_click=lambda _, i=index: self._move_item(container, key, i, 1, path),
                            ).props("flat round dense size=sm").tooltip("Move down")
                            ui.button(
                                icon="delete", on_click=lambda _, i=index: self._remove_item(container, key, i, path)
                            ).props("flat round dense size=sm").tooltip("Remove step")
                    if branch is None:
                        ui.label(f"Unknown step {json.dumps(step)[:80]}").classes("text-negative")
                    else:
                        self._object_fields(branch, step, (*path, index), [*scope, step])
            with ui.button("Add step", icon="add").props("flat dense no-caps"):
                with ui.menu():
                    for branch in branches:
                        branch = resolve(self.root, branch)
                        op = branch.get("properties", {}).get("op", {}).get("const")
                        if op is None:
                            continue
                        ui.menu_item(
                            branch.get("title") or op,
                            on_click=lambda _, op=op: self._add_step(container, key, op, path),
                        )

    def _add_step(self, container: Any, key: Any, op: str, path: Path) -> None:
        self.before_change(json_path(path))
        container.setdefault(key, []).append({"op": op})
        self.on_change(json_path(path))
        self.render.refresh()

    def _remove_item(self, container: Any, key: Any, index: int, path: Path) -> None:
        self.before_change(json_path(path))
        items = container.get(key) or []
        if 0 <= index < len(items):
            items.pop(index)
        if not items:
            container.pop(key, None)
        self.on_change(json_path(path))
        self.render.refresh()

    def _move_item(self, container: Any, key: Any, index: int, step: int, path: Path) -> None:
        items = container.get(key) or []
        other = index + step
        if 0 <= other < len(items):
            self.before_change(json_path(path))
            items[index], items[other] = items[other], items[index]
            self.on_change(json_path(path))
            self.render.refresh()


async def gather_quietly(*tasks: Awaitable[Any]) -> list[Any]:
    return await asyncio.gather(*tasks, return_exceptions=True)
