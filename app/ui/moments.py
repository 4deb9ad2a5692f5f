"""Times as the pages show them: in UTC, said so, and how long ago (or how soon) in words."""

from __future__ import annotations

import datetime as dt

UTC = dt.UTC


def as_utc(moment: dt.datetime | str | None) -> dt.datetime | None:
    """The store keeps UTC; some databases hand it back without a zone (or as ISO text)."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def when(moment: dt.datetime | str | None, *, seconds: bool = False, zone: bool = True) -> str:
    """'2026-11-29 03:25 UTC' ('zone=False' where a column heading says UTC), or '—' for no time at all."""
    moment = as_utc(moment)
    if moment is None:
        return "—"
    return (f"{moment:%Y-%m-%d %H:%M:%S}" if seconds else f"{moment:%Y-%m-%d %H:%M}") + (" UTC" if zone else "")


def span(seconds: float) -> str:
    """A duration in the largest unit that reads well: '40 s', '12 min', '3 h', '2 days'."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h" if seconds >= 10 * 3600 else f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.0f} days"


def ago(moment: dt.datetime | str | None, now: dt.datetime | None = None) -> str:
    """'3 min ago', 'in 12 min', 'just now'; '' for no time."""
    moment = as_utc(moment)
    if moment is None:
        return ""
    seconds = ((now or dt.datetime.now(UTC)) - moment).total_seconds()
    if abs(seconds) < 5:
        return "just now"
    return f"{span(seconds)} ago" if seconds > 0 else f"in {span(seconds)}"
