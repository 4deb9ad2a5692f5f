"""filter: records for which the condition holds leave by `match`, the others by `reject`."""

from __future__ import annotations

from typing import Any

from nodes.base import NodeContext, NodeType, Outcome, Processor, Record, Source
from nodes.schema_parts import EXPRESSION, object_schema

CONFIG_SCHEMA = object_schema(
    {
        "condition": {
            **EXPRESSION,
            "title": "Condition",
            "description": "An expression on `record`, e.g. record.credit_status == 'approved'",
        },
    },
    ["condition"],
)


class Filter(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.program = context.program([Source("condition", config["condition"], "expression")])

    def process(self, records: list[Record]) -> Outcome:
        outcome = Outcome(ports={"match": [], "reject": []})
        match, reject = outcome.ports["match"], outcome.ports["reject"]
        for record, result in zip(records, self.program.evaluate(records)):
            if result.error:
                outcome.fail(record, result.error)
            elif result.values["condition"]:
                match.append(record)
            else:
                reject.append(record)
        return outcome


NODE_TYPE = NodeType(
    type="filter",
    family="filter",
    title="Filter",
    description="Lets through the records for which a condition holds.",
    config_schema=CONFIG_SCHEMA,
    build=Filter,
    outputs=("match", "reject"),
    discard_ports=("reject",),
)
