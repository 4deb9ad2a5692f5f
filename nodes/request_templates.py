"""Request templates of write.http: the body an API wants around a record (HubSpot's
`{"properties": {…}}`, a JSON-RPC envelope) and headers of the record's own, each rendered per
record.

A body template is JSON whose strings may hold {{ … }} over the record; a string that is only one
expression keeps its value's type (a number stays a number, a list a list), so the JSON sent is
typed as the API wants it, not all text. The templates of a node are compiled once, as one program.
"""

from __future__ import annotations

from typing import Any

from nodes.base import NodeContext, Record, Source

BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Body",
    "x-widget": "json",
    "description": "JSON sent instead of the record's fields; its strings are templates over the record. "
    "A string that is only one {{ … }} keeps its type.",
}
HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Headers",
    "minProperties": 1,
    "additionalProperties": {"type": "string", "minLength": 1, "x-expression": "template"},
    "description": "Headers sent with each write, templates over the record, e.g. X-Source-Id: {{ record.id }}.",
}


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


class RequestTemplates:
    """A node's body and header templates, compiled once, rendered for each record."""

    def __init__(self, body: Any, headers: dict[str, str] | None, context: NodeContext) -> None:
        self.body = body
        self.headers = dict(headers or {})
        sources: list[Source] = []
        self._leaves: dict[tuple, str] = {}  # a body string's place -> its source's name
        for place, text in _strings(body, ()):
            if _is_template(text):
                self._leaves[place] = f"body{len(self._leaves)}"
                sources.append(Source(self._leaves[place], text, "template"))
        for name, text in self.headers.items():
            if _is_template(text):
                sources.append(Source(f"header:{name}", text, "template"))
        self.program = context.program(sources) if sources else None

    def render(self, record: Record) -> tuple[Any, dict[str, str]]:
        """The body (None without a body template) and the headers for this record; a template
        that fails raises the RecordError naming it."""
        from app.errors import RecordError

        values: dict[str, Any] = {}
        if self.program is not None:
            [evaluated] = self.program.evaluate([record])
            if evaluated.error:
                raise RecordError(f"request template: {evaluated.error}")
            values = evaluated.values
        headers = {
            name: ("" if values.get(f"header:{name}") is None else str(values[f"header:{name}"]))
            if f"header:{name}" in values
            else text
            for name, text in self.headers.items()
        }
        body = None if self.body is None else self._filled(self.body, (), values)
        return body, headers

    def _filled(self, template: Any, place: tuple, values: dict[str, Any]) -> Any:
        if isinstance(template, dict):
            return {k: self._filled(v, (*place, k), values) for k, v in template.items()}
        if isinstance(template, list):
            return [self._filled(v, (*place, i), values) for i, v in enumerate(template)]
        if place in self._leaves:
            return values.get(self._leaves[place])
        return template


def _strings(value: Any, place: tuple) -> list[tuple[tuple, str]]:
    """Every string of a JSON value, with its place (keys and indexes)."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _strings(v, (*place, k))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _strings(v, (*place, i))]
    return [(place, value)] if isinstance(value, str) else []
