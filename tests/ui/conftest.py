"""NiceGUI's simulated `user` (no browser, no JavaScript) on the real app, with the demo in a fresh store.

The canvas' gestures are fired as the events its script would emit (add, connect, remove, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation

from app.store.database import Store

MAIN = Path(__file__).resolve().parents[2] / "app" / "ui" / "main.py"


@pytest.fixture
async def user(demo: dict, store: Store, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[User]:
    monkeypatch.setenv("FLOWBRIDGE_DB_URL", store.url)
    async with user_simulation(main_file=MAIN) as simulated:
        yield simulated


def canvas_of(user: User):
    from app.ui.canvas.flow_canvas import FlowCanvas

    found = user.find(FlowCanvas).elements
    assert len(found) == 1
    return next(iter(found))


async def sign_in(user: User, name: str, token: str, role: str) -> None:
    """Sign in on the sign-in page the browser was sent to, and wait until the header names them."""
    user.find(marker="sign-in-name").type(name)
    user.find(marker="sign-in-token").type(token)
    user.find(marker="sign-in-submit").click()
    await user.should_see(f"{name} · {role}", retries=30)
