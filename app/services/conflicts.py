"""Two-way sync conflicts held for review: a field changed on both sides since the last sync."""

from __future__ import annotations

from typing import Any

from app.store import sync
from app.store.database import Store


def open_conflicts(store: Store, env: str | None = None, flow_id: str | None = None) -> list[dict[str, Any]]:
    """The open conflicts, as rows for a list or JSON."""
    return [
        {
            "id": c.id,
            "env": c.env,
            "flow_id": c.flow_id,
            "entity": c.entity,
            "field": c.field,
            "source": {"system": c.source_system, "id": c.source_id, "value": c.source_value},
            "target": {"system": c.target_system, "id": c.target_id, "value": c.target_value},
            "created_at": c.created_at,
        }
        for c in sync.open_conflicts(store, env=env, flow_id=flow_id)
    ]
