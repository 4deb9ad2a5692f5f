"""What read.odata and write.odata share: their connection and entity set fields, and the service's
connector checked to be an OData one."""

from __future__ import annotations

from typing import Any

from nodes.base import NodeContext
from nodes.schema_parts import CONNECTION

ODATA_CONNECTION: dict[str, Any] = {
    **CONNECTION,
    "description": "An odata connection (its base URL is the service root, e.g. https://erp/odata/v4/sales).",
}


def entity_set_schema(done: str) -> dict[str, Any]:
    """The `entity_set` field of a node that has its records `done` (read, written)."""
    return {
        "type": "string",
        "minLength": 1,
        "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*$",
        "title": "Entity set",
        "x-picker": "table",
        "description": f"The entity set {done}, as the service's $metadata names it, e.g. SalesOrders.",
    }


def odata_connector(config: dict[str, Any], context: NodeContext) -> Any:
    """The run's connector of the node's connection; ConnectorError when it is not an OData one."""
    from app.connectors.odata import OdataConnector
    from app.errors import ConnectorError

    connector = context.connection(config["connection"])
    if not isinstance(connector, OdataConnector):
        raise ConnectorError(f"connection '{config['connection']}' is not an odata connection")
    return connector
