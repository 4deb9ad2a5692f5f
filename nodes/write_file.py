"""write.file: writes records to a CSV or JSON Lines file, put in place when the run finishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.errors import RecordError
from nodes.base import NodeContext, NodeType, Outcome, Processor, Record, without_meta
from nodes.read_file import file_format
from nodes.schema_parts import CONNECTION, FILE_FORMAT, object_schema, record_key_fields

CONFIG_SCHEMA = object_schema(
    {
        "connection": CONNECTION,
        "path": {
            "type": "string",
            "minLength": 1,
            "title": "File",
            "description": "Relative to the connection's folder.",
        },
        "format": FILE_FORMAT,
        "mode": {"enum": ["overwrite", "append"], "default": "overwrite", "title": "Mode"},
    },
    ["connection", "path"],
)


class WriteFile(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.context = context
        self.writer = (
            None
            if context.dry_run
            else context.connection(config["connection"]).writer(
                config["path"], file_format(config), config.get("mode", "overwrite")
            )
        )

    def process(self, records: list[Record]) -> Outcome:
        outcome = Outcome()
        for record in records:
            try:
                if self.writer:
                    self.writer.write(without_meta(record))
                outcome.count("inserted")
            except RecordError as error:
                outcome.fail(record, str(error))
        return outcome

    def finish(self) -> Iterator[Outcome]:
        if self.writer:
            self.writer.commit()
            self.writer = None
        return iter(())

    def close(self) -> None:
        if self.writer:  # the run stopped before finishing: leave the old file as it was
            self.writer.abort()


def holds_every_record(config: dict[str, Any]) -> bool:
    return True  # the file appears only at the end: read cursors wait for it


NODE_TYPE = NodeType(
    type="write.file",
    family="write",
    title="Write file",
    description="Writes records to a CSV or JSON Lines file.",
    config_schema=CONFIG_SCHEMA,
    build=WriteFile,
    outputs=(),
    holds_records=holds_every_record,
    write_key=record_key_fields,
)
