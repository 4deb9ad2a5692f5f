"""What the run pages (runs, replay, test cases) show of a run alike: status and environment chips,
and links to filtered run lists."""

from __future__ import annotations

from urllib.parse import urlencode

from nicegui import ui

STATUS_CHIP = {
    "succeeded": "fb-chip-ok",
    "partial": "fb-chip-warn",
    "failed": "fb-chip-draft",
    "interrupted": "fb-chip-draft",
    "cancelled": "fb-chip-neutral",
    "running": "fb-chip-run",
    "queued": "fb-chip-run",
}


def env_chip(env: str) -> ui.label:
    return ui.label(env).classes(f"fb-chip fb-env-chip fb-env-chip-{env}")


def runs_link(**filters: str) -> str:
    wanted = {k: v for k, v in filters.items() if v}
    return "/runs" + ("?" + urlencode(wanted) if wanted else "")
