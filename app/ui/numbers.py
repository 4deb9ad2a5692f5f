"""Counts as the pages show them: with thousands separators (12,345 records), so a big run reads
at a glance."""

from __future__ import annotations

from typing import Any


def counted(value: Any) -> str:
    """'12,345' for a whole number; anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def totals_text(totals: dict[str, Any] | None) -> str:
    """A run's totals in one line, the zero ones left out: '12,345 read · 12,000 inserted'."""
    return " · ".join(f"{counted(v)} {k}" for k, v in (totals or {}).items() if v) or "nothing to do"
