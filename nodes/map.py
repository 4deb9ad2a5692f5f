"""map: builds each target record from templates over the source record, with defaults and checks."""

from __future__ import annotations

from typing import Any

from nodes.base import META, NodeContext, NodeType, Outcome, Processor, Record, Source
from nodes.schema_parts import TEMPLATE, object_schema

CONFIG_SCHEMA = object_schema(
    {
        "fields": {
            "type": "object",
            "title": "Fields",
            "minProperties": 1,
            "x-widget": "key-value",
            "description": "Target field -> template, e.g. name: {{ record.name | trim }}",
            "propertyNames": {"minLength": 1},
            "additionalProperties": TEMPLATE,
        },
        "defaults": {
            "type": "object",
            "title": "Defaults",
            "x-widget": "key-value",
            "description": "Value used when a field comes out empty.",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
        "required": {
            "type": "array",
            "title": "Required fields",
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1},
            "description": "A record with one of these empty fails with that reason.",
        },
        "keep_unmapped": {"type": "boolean", "default": False, "title": "Keep unmapped source fields"},
    },
    ["fields"],
)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class Map(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.fields = config["fields"]
        self.defaults = config.get("defaults") or {}
        self.required = config.get("required") or []
        self.keep_unmapped = config.get("keep_unmapped", False)
        self.program = context.program([Source(name, text, "template") for name, text in self.fields.items()])

    def process(self, records: list[Record]) -> Outcome:
        outcome = Outcome(ports={"out": []})
        out = outcome.ports["out"]
        for record, result in zip(records, self.program.evaluate(records)):
            if result.error:
                outcome.fail(record, result.error)
                continue
            mapped = {**record, **result.values} if self.keep_unmapped else result.values
            if META in record:
                mapped[META] = record[META]
            for name, default in self.defaults.items():
                if _empty(mapped.get(name)):
                    mapped[name] = default
            missing = [name for name in self.required if _empty(mapped.get(name))]
            if missing:
                detail = "; ".join(f"{name} = {self.fields[name]}" for name in missing if name in self.fields)
                outcome.fail(
                    record, f"required field(s) {', '.join(missing)} empty" + (f" ({detail})" if detail else "")
                )
                continue
            out.append(mapped)
        return outcome


NODE_TYPE = NodeType(
    type="map",
    family="map",
    title="Map fields",
    description="Builds target fields from the source record with templates, value maps and defaults.",
    config_schema=CONFIG_SCHEMA,
    build=Map,
)
