"""The node form's fields that depend on the connected systems: pickers, and the map node's field mapper."""

from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.testing.user import User

from app.ui.canvas.flow_canvas import FlowCanvas


def _select(user: User, label: str) -> ui.select:
    [found] = [e for e in user.find(ui.select).elements if e.props.get("label") == label]
    return found


async def _options_of(user: User, label: str, expected: str) -> list[str]:
    for _ in range(100):
        options = list(_select(user, label).options)
        if expected in options:
            return options
        await asyncio.sleep(0.05)
    raise AssertionError(f"'{expected}' never listed in {label!r}: {options}")


async def test_a_picked_connection_lists_its_tables_and_a_picked_table_its_columns(user: User) -> None:
    await user.open("/flows/new?name=Pickers&id=pickers")
    user.find(FlowCanvas).trigger("add", {"type": "read.sql", "x": 0, "y": 0})
    await user.should_see("Connection *")
    assert _select(user, "Table").options == []  # nothing named yet: nothing to list

    _select(user, "Connection *").set_value("crm")
    tables = await _options_of(user, "Table", "accounts")
    assert "customers" not in tables  # the CRM's tables, not the ERP's

    _select(user, "Table").set_value("accounts")
    columns = await _options_of(user, "Cursor field", "updated_at")
    assert {"id", "name", "state"} <= set(columns)
