"""Connectors: how the nodes reach real systems (SQL databases, HTTP APIs, JSON-RPC ERPs, OData services, folders of files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CONNECTION_TYPES = ("sql", "file", "http", "jsonrpc", "odata")


@dataclass(frozen=True)
class ConnectionSpec:
    """A named connection in one environment, e.g. `crm` in `sandbox`, with its settings."""

    name: str
    env: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict)
    # Keeps changed settings at once, sealed in the store (a rotated OAuth2 refresh token must
    # outlive the run that got it); None where there is no store (a test's own spec).
    keep: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False, repr=False)

    def open(self) -> Any:
        """A connector for one run; the caller closes it."""
        if self.type == "sql":
            from app.connectors.sql.connector import SqlConnector

            return SqlConnector(self)
        if self.type == "file":
            from app.connectors.files import FileConnector

            return FileConnector(self)
        if self.type == "http":
            from app.connectors.rest import RestConnector

            return RestConnector(self)
        if self.type == "jsonrpc":
            from app.connectors.jsonrpc import open_jsonrpc

            return open_jsonrpc(self)
        if self.type == "odata":
            from app.connectors.odata import OdataConnector

            return OdataConnector(self)
        from app.errors import ConnectorError

        raise ConnectorError(f"connection '{self.name}' has unknown type '{self.type}'")
