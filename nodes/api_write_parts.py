"""What write.http and the two-way sync's API target share: a look-up that gave up, a create
marked as being sent, and equality as the API holds a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class GaveUp(Exception):
    """A look-up still failing after its own retries: not retried again as part of the write."""


@dataclass(frozen=True)
class Sending:
    """A create marked as being sent during this batch (as write_outcomes keeps it)."""

    idempotency_key: str
    state: str = "sending"
    target_id: str | None = None


def same_as_held(ours: Any, theirs: Any) -> bool:
    """Equal as the API holds it: numbers by value, text as text; in lists and objects, only the
    fields we send are compared (the API adds its own ids and timestamps)."""
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(same_as_held(v, theirs.get(k)) for k, v in ours.items())
    if isinstance(ours, list):
        return isinstance(theirs, list) and len(ours) == len(theirs) and all(map(same_as_held, ours, theirs))
    from app.connectors.sql_write import same_value

    return same_value(ours, theirs)
