"""Time in the demo data: everything is relative to a fixed "now" so the files are reproducible.

Generators work in integer seconds since EPOCH and format them at the end, through Clock."""

from __future__ import annotations

from datetime import datetime, timedelta

BASE_TIME = datetime(2026, 11, 1, 9, 0, 0)
DAY = 86_400
DAYS_BACK = 3_000  # how far into the past any timestamp may go
DAYS_AHEAD = 400  # open opportunities close in the future
EPOCH = datetime(BASE_TIME.year, BASE_TIME.month, BASE_TIME.day) - timedelta(days=DAYS_BACK)
# BASE_TIME as seconds since EPOCH.
BASE_S = DAYS_BACK * DAY + BASE_TIME.hour * 3600 + BASE_TIME.minute * 60 + BASE_TIME.second


class Clock:
    """Formats seconds-since-epoch via lookup tables: strftime per row is too slow for 1M rows."""

    def __init__(self) -> None:
        self.days = [(EPOCH + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(DAYS_BACK + DAYS_AHEAD)]
        self.times = [f" {h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]

    def ts(self, s: int) -> str:
        return self.days[s // DAY] + self.times[s % DAY]

    def day(self, s: int) -> str:
        return self.days[s // DAY]

    def seconds(self, text: str) -> int:
        return int((datetime.strptime(text, "%Y-%m-%d %H:%M:%S") - EPOCH).total_seconds())


_clock_cache: list[Clock] = []


def shared_clock() -> Clock:
    """The one Clock of this process: its tables take a moment to build."""
    if not _clock_cache:
        _clock_cache.append(Clock())
    return _clock_cache[0]
