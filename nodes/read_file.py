"""read.file: records from a CSV or JSON Lines file in a file connection's folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nodes.base import NodeContext, NodeType, Processor, Record, SourceBatch
from nodes.schema_parts import BATCH_SIZE, CONNECTION, FILE_FORMAT, object_schema

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
        "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ",", "title": "CSV delimiter"},
        "encoding": {"type": "string", "minLength": 1, "default": "utf-8", "title": "Encoding"},
        "batch_size": BATCH_SIZE,
    },
    ["connection", "path"],
)


def file_format(config: dict[str, Any]) -> str:
    """The configured format, else the one the file name says."""
    return config.get("format") or ("jsonl" if config["path"].lower().endswith((".jsonl", ".ndjson")) else "csv")


class ReadFile(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.config = config
        self.context = context
        self.connector = context.connection(config["connection"])

    def read(self, inputs: list[Record]) -> Iterator[SourceBatch]:
        if not inputs:
            return
        for batch in self.connector.read(
            self.config["path"],
            file_format(self.config),
            batch_size=self.config.get("batch_size") or self.context.batch_size,
            delimiter=self.config.get("delimiter", ","),
            encoding=self.config.get("encoding", "utf-8"),
        ):
            yield SourceBatch(batch)


NODE_TYPE = NodeType(
    type="read.file",
    family="read",
    title="Read file",
    description="Reads a CSV or JSON Lines file.",
    config_schema=CONFIG_SCHEMA,
    build=ReadFile,
)
