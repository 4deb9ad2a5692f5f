"""What records are, what a failed one carries and what a link between two systems' records says:
the words the nodes, the engine and the store share. At the bottom of the layers, importing none
of them, so the store need not import nodes/ to keep a dead letter or a link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]


@dataclass
class Failure:
    """A record that cannot go on, with the reason a user will read in the dead-letter store."""

    record: Record
    reason: str
    details: str | None = None  # what the system answered (an error page, capped), beside the short reason


@dataclass(frozen=True)
class LinkState:
    """What the store knows of one record seen from `system`: its id on the other side, and the
    rows each side held after the last sync (None when that side has no snapshot yet)."""

    other_id: str
    own_snapshot: dict[str, Any] | None
    other_snapshot: dict[str, Any] | None


@dataclass(frozen=True)
class LinkUpdate:
    """After a sync of one record: its ids on both sides, and the snapshots to keep (None: keep)."""

    system: str
    id: str
    other_system: str
    other_id: str
    own_snapshot: dict[str, Any] | None = None
    other_snapshot: dict[str, Any] | None = None
