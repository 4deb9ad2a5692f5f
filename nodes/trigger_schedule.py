"""trigger.schedule: runs on a cron expression or an interval, in the flow's time zone."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nodes.base import NodeType
from nodes.schema_parts import object_schema
from nodes.trigger_manual import TriggerProcessor

INTERVAL_UNITS = ("weeks", "days", "hours", "minutes", "seconds")

CONFIG_SCHEMA: dict[str, Any] = {
    **object_schema({
        "cron": {"type": "string", "minLength": 1, "title": "Cron expression",
                 "description": "Five fields: minute hour day month weekday, e.g. */15 * * * *"},
        "interval": {**object_schema({u: {"type": "integer", "minimum": 0} for u in INTERVAL_UNITS}),
                     "title": "Every", "minProperties": 1},
        "timezone": {"type": "string", "minLength": 1, "title": "Time zone",
                     "description": "IANA name such as Europe/Paris; the server's zone when empty."},
    }),
    "oneOf": [{"required": ["cron"]}, {"required": ["interval"]}],
}


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Problems a schema cannot see: a cron expression APScheduler refuses, an unknown time zone."""
    problems: list[tuple[tuple, str]] = []
    zone = None
    if config.get("timezone"):
        try:
            zone = ZoneInfo(config["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append((("timezone",), f"'{config['timezone']}' is not a known time zone"))
    if isinstance(config.get("cron"), str):
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(config["cron"], timezone=zone)
        except ValueError as error:
            problems.append((("cron",), f"'{config['cron']}' is not a valid cron expression: {error}"))
    interval = config.get("interval")
    if isinstance(interval, dict) and not any(isinstance(v, int) and v > 0 for v in interval.values()):
        problems.append((("interval",), "the interval must be longer than zero"))
    return problems


def describe(config: dict[str, Any]) -> str:
    """The schedule in words, for the Flows page."""
    if config.get("cron"):
        text = f"cron {config['cron']}"
    else:
        parts = [f"{n} {u[:-1] if n == 1 else u}" for u, n in (config.get("interval") or {}).items() if n]
        text = "every " + " ".join(parts)
    return text + (f" ({config['timezone']})" if config.get("timezone") else "")


NODE_TYPE = NodeType(
    type="trigger.schedule",
    family="trigger",
    title="Schedule",
    description="Starts on a cron expression or at a fixed interval.",
    config_schema=CONFIG_SCHEMA,
    build=TriggerProcessor,
    inputs=(),
    check=check,
)
