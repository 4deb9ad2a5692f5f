"""What a dry run would change, per node: inserts, updates field by field (before → after), unchanged
records and failures with their reasons; searchable, and drawn a page at a time because a dry run
may report thousands of records. Used by the editor's dry run and by a stored dry run's page."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

PAGE_SIZE = 20  # records drawn at once: the browser gets one page, never the whole report
MAX_COLUMNS = 12
# outcome as the write nodes report it -> tab title
KINDS = {"inserted": "Would insert", "updated": "Would update", "unchanged": "Unchanged", "failed": "Would fail"}
EMPTY = {
    "inserted": "No record would be inserted.",
    "updated": "No record would be updated.",
    "unchanged": "No record would stay as it is.",
    "failed": "No record would fail.",
}


def changes_view(changes: dict[str, list[dict[str, Any]]], counts: dict[str, dict[str, Any]]) -> None:
    """Draw the changes (node id -> outcomes, see app.services.runs.dry_run_changes) in the current
    container; `counts` is the run's ledger (node id -> counts), which has the totals even when only
    the first records of a huge run were kept."""
    nodes = [n for n in counts if n in changes or any(counts[n].get(k) for k in KINDS)]
    nodes += [n for n in changes if n not in nodes]
    if not nodes:
        ui.label("Nothing would change: no record reached a write node.").classes("fb-muted fb-no-changes")
        return
    if len(nodes) == 1:
        _NodeChanges(nodes[0], changes.get(nodes[0], []), counts.get(nodes[0], {}))
        return
    with ui.tabs(value=nodes[0]).props("dense align=left no-caps").classes("w-full fb-change-nodes") as tabs:
        for node_id in nodes:
            ui.tab(node_id, label=node_id, icon="edit_note")
    with ui.tab_panels(tabs, value=nodes[0]).classes("w-full"):
        for node_id in nodes:
            with ui.tab_panel(node_id).classes("p-0 pt-2"):
                _NodeChanges(node_id, changes.get(node_id, []), counts.get(node_id, {}))


class _NodeChanges:
    """One node's outcomes in a tab per kind, with one search over all of them."""

    def __init__(self, node_id: str, entries: list[dict[str, Any]], counts: dict[str, Any]) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        for entry in entries:
            by_kind.setdefault(str(entry.get("outcome") or "other"), []).append(entry)
        # The ledger counts every record; the entries may be only the first ones kept.
        self.totals = {kind: max(int(counts.get(kind) or 0), len(found)) for kind, found in by_kind.items()}
        self.tabs: dict[str, ui.tab] = {}
        self.pages: dict[str, _Pages] = {}
        with ui.row().classes("w-full items-center no-wrap gap-3"):
            ui.label(f"Node '{node_id}'").classes("font-semibold text-sm fb-change-node")
            ui.space()
            ui.input(placeholder="Search these records", on_change=lambda e: self.search(e.value)).props(
                "dense outlined clearable debounce=250"
            ).classes("w-64 fb-change-search").mark(f"search-{node_id}")
        first = next((kind for kind in by_kind if self.totals[kind]), "inserted")
        with (
            ui.tabs(value=f"{node_id}:{first}")
            .props("dense align=left no-caps inline-label")
            .classes("w-full fb-change-kinds") as tabs
        ):
            for kind in by_kind:
                self.tabs[kind] = ui.tab(f"{node_id}:{kind}", label=self._label(kind)).classes(
                    f"fb-tab-{kind}" + ("" if self.totals[kind] else " text-slate-400")
                )
        with ui.tab_panels(tabs, value=f"{node_id}:{first}").classes("w-full"):
            for kind, found in by_kind.items():
                with ui.tab_panel(f"{node_id}:{kind}").classes("p-0 pt-2"):
                    self.pages[kind] = _Pages(kind, found, self.totals[kind])

    def _label(self, kind: str, matching: int | None = None) -> str:
        title = KINDS.get(kind, kind.capitalize())
        if matching is None or not self.totals[kind]:
            return f"{title} ({self.totals[kind]})"
        return f"{title} ({matching} of {self.totals[kind]})"

    def search(self, query: str | None) -> None:
        for kind, pages in self.pages.items():
            matching = pages.search(query or "")
            self.tabs[kind].props["label"] = self._label(kind, matching if query else None)


class _Pages:
    """A kind's records, a page at a time, filtered by a search."""

    def __init__(self, kind: str, entries: list[dict[str, Any]], total: int) -> None:
        self.kind, self.entries, self.total = kind, entries, total
        self.shown = entries
        self.texts: list[str] | None = None  # each entry's values as lower-case text, made at the first search
        self.page = 0
        self.query = ""
        self.body = ui.column().classes(f"w-full gap-1 fb-pages fb-pages-{kind}")
        self.draw()

    def search(self, query: str) -> int:
        self.query = query.strip().lower()
        if self.query and self.texts is None:
            self.texts = [_values_text(entry).lower() for entry in self.entries]
        self.shown = (
            [e for e, text in zip(self.entries, self.texts or []) if self.query in text] if self.query else self.entries
        )
        self.page = 0
        self.draw()
        return len(self.shown)

    def turn(self, step: int) -> None:
        self.page = max(0, min(self.page + step, (len(self.shown) - 1) // PAGE_SIZE))
        self.draw()
        # The pager is below the table: show the new page from its first record, once drawn. (Through
        # the body's client: the clicked button was just deleted, and ui.run_javascript would go nowhere.)
        self.body.client.run_javascript(
            f"setTimeout(() => document.getElementById('{self.body.html_id}')?.scrollIntoView({{block: 'start'}}), 80)"
        )

    def draw(self) -> None:
        self.body.clear()
        with self.body:
            if not self.shown:
                text = f"No record here matches “{self.query}”." if self.query else EMPTY.get(self.kind, "No records.")
                ui.label(text).classes("fb-muted text-sm px-1 py-3 fb-pages-empty")
                return
            start = self.page * PAGE_SIZE
            part = self.shown[start : start + PAGE_SIZE]
            RENDERERS.get(self.kind, _inserts)(part)
            with ui.row().classes("w-full items-center no-wrap gap-1 fb-pager"):
                shown = f"{start + 1}–{start + len(part)} of {len(self.shown)}"
                if self.query:
                    shown += " matching"
                if self.total > len(self.entries):
                    shown += f" · the first {len(self.entries)} of {self.total} were kept"
                ui.label(shown).classes("fb-muted text-xs fb-pager-text")
                if len(self.shown) <= PAGE_SIZE:
                    return
                ui.space()
                ui.button(icon="chevron_left", on_click=lambda: self.turn(-1)).props("flat round dense").classes(
                    "fb-page-back"
                ).mark(f"page-back-{self.kind}").set_enabled(self.page > 0)
                ui.button(icon="chevron_right", on_click=lambda: self.turn(1)).props("flat round dense").classes(
                    "fb-page-next"
                ).mark(f"page-next-{self.kind}").set_enabled(start + PAGE_SIZE < len(self.shown))


# --- one renderer per kind ----------------------------------------------------------------------------


def _inserts(entries: list[dict[str, Any]]) -> None:
    rows = [{**_key(e), **(e.get("after") or {})} for e in entries]
    _table(rows, "fb-would-insert")


def _unchanged(entries: list[dict[str, Any]]) -> None:
    _table([{**_key(e), **(e.get("before") or {})} for e in entries], "fb-unchanged")


def _failures(entries: list[dict[str, Any]]) -> None:
    rows = [{"reason": e.get("reason") or "refused", **(e.get("record") or {})} for e in entries]
    table = _table(rows, "fb-would-fail")
    table.add_slot(
        "body-cell-reason",
        '<q-td :props="props" class="text-negative" style="min-width: 16rem; '
        'white-space: normal">{{ props.value }}</q-td>',
    )


def _updates(entries: list[dict[str, Any]]) -> None:
    """A row per field of each record: before → after, the changed ones highlighted."""
    rows = []
    for entry in entries:
        before, after = entry.get("before") or {}, entry.get("after") or {}
        for position, field in enumerate(dict.fromkeys([*before, *after])):
            rows.append(
                {
                    "_row": len(rows),
                    "record": _key_text(entry) if position == 0 else "",
                    "field": field,
                    "before": _text(before.get(field), "(empty)"),
                    "after": _text(after.get(field), "(empty)"),
                    "changed": field in after and before.get(field) != after.get(field),
                    "first": position == 0,
                }
            )
    columns = [
        {"name": n, "label": label, "field": n, "align": "left", "headerStyle": width, "style": width}
        for n, label, width in (
            ("record", "Record", "width: 15rem"),
            ("field", "Field", "width: 11rem"),
            ("before", "Before", "width: 40%"),
            ("after", "After", "width: 40%"),
        )
    ]
    table = (
        ui.table(columns=columns, rows=rows, row_key="_row", pagination=0)
        .props("flat bordered dense wrap-cells hide-bottom")
        .classes("w-full fb-would-update")
    )
    table.add_slot(
        "body",
        r"""
        <q-tr :props="props" :style="props.row.first && props.rowIndex > 0 ? 'border-top: 2px solid #cbd5e1' : ''">
          <q-td key="record" :props="props" class="font-medium">{{ props.row.record }}</q-td>
          <q-td key="field" :props="props" class="text-slate-600">{{ props.row.field }}</q-td>
          <q-td key="before" :props="props"
                :class="props.row.changed ? 'bg-red-50 text-red-800 line-through fb-changed-before' : 'text-slate-500'">
            {{ props.row.before }}</q-td>
          <q-td key="after" :props="props"
                :class="props.row.changed ? 'bg-green-50 text-green-900 font-medium fb-changed-after' : 'text-slate-500'">
            {{ props.row.after }}</q-td>
        </q-tr>""",
    )


RENDERERS: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "inserted": _inserts,
    "updated": _updates,
    "unchanged": _unchanged,
    "failed": _failures,
}


# --- helpers --------------------------------------------------------------------------------------------


def _table(records: list[dict[str, Any]], css: str) -> ui.table:
    names = list(dict.fromkeys(k for r in records for k in r))[:MAX_COLUMNS]
    columns = [{"name": n, "label": n, "field": n, "align": "left"} for n in names]
    rows = [{"_row": i, **{n: _text(r.get(n)) for n in names}} for i, r in enumerate(records)]
    return (
        ui.table(columns=columns, rows=rows, row_key="_row", pagination=0)
        .props("flat bordered dense hide-bottom")
        .classes(f"w-full {css}")
    )


def _key(entry: dict[str, Any]) -> dict[str, Any]:
    key = entry.get("key")
    return key if isinstance(key, dict) else {"key": key} if key is not None else {}


def _key_text(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k} {_text(v)}" for k, v in _key(entry).items()) or "—"


def _text(value: Any, empty: str = "") -> str:
    if value is None:
        return empty
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:120] + "…"


def _values_text(value: Any) -> str:
    """The values in an outcome (not its field names: searching "city" should not match every record)."""
    if isinstance(value, dict):
        return " ".join(_values_text(v) for k, v in value.items() if k != "outcome")
    if isinstance(value, list):
        return " ".join(_values_text(v) for v in value)
    return "" if value is None else str(value)
