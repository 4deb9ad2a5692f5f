"""Helpers for the HTTP tests: a client for a sandbox system, and its rows read straight from SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from app.sandbox.http_serve import RunningSandbox

FLOWS = Path(__file__).resolve().parents[2] / "flows"
ACCOUNTS = 200  # a smaller demo than the default 600: the same kinds of records, faster runs


def client(sandbox: RunningSandbox, system: str, token: str | None = "default") -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {sandbox.token if token == 'default' else token}"}
    return httpx.Client(base_url=sandbox.url(system), headers=headers, timeout=10)


def rows(sandbox: RunningSandbox, system: str, query: str, *params: Any) -> list[dict[str, Any]]:
    """Rows read straight from a sandbox system's SQLite file."""
    with sqlite3.connect(sandbox.data[system].path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(query, params)]


def execute(sandbox: RunningSandbox, system: str, statement: str, *params: Any) -> None:
    with sqlite3.connect(sandbox.data[system].path) as db:
        db.execute(statement, params)
