"""trigger.manual: a run started by hand (CLI, UI or API); it starts with one empty record."""

from __future__ import annotations

from typing import Any

from nodes.base import NodeType, Processor, Record
from nodes.schema_parts import object_schema


class TriggerProcessor(Processor):
    """Shared by every trigger: the payload records when there are some, else one tick."""

    def __init__(self, config: dict, _context: object) -> None:
        self.config = config

    def trigger(self, payload: list[Record] | None) -> list[Record]:
        return [dict(r) for r in payload] if payload is not None else [{}]


def summary(config: dict[str, Any]) -> str:
    return "manual"


NODE_TYPE = NodeType(
    type="trigger.manual",
    family="trigger",
    title="Manual start",
    description="Starts when someone runs the flow by hand.",
    config_schema=object_schema({}),
    build=TriggerProcessor,
    inputs=(),
    summary=summary,
)
