"""trigger.webhook: a POST to /hooks/{flow_id} starts a run with the body's records."""

from __future__ import annotations

from typing import Any

from nodes.base import NodeType
from nodes.schema_parts import object_schema
from nodes.trigger_manual import TriggerProcessor


def summary(config: dict[str, Any]) -> str:
    return "webhook"


NODE_TYPE = NodeType(
    type="trigger.webhook",
    family="trigger",
    title="Webhook",
    description="Starts when a system POSTs JSON records to the flow's webhook address.",
    config_schema=object_schema(
        {
            "auth": {
                "enum": ["token", "hmac"],
                "default": "token",
                "title": "Authentication",
                "description": "A secret token header, or an HMAC-SHA256 signature of the body.",
            },
            "max_body_kb": {
                "type": "integer",
                "minimum": 1,
                "maximum": 102_400,
                "default": 1024,
                "title": "Largest body (KB)",
            },
        }
    ),
    build=TriggerProcessor,
    inputs=(),
    summary=summary,
    takes_webhooks=True,
)
