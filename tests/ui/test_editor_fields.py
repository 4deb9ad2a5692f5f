"""The node form's fields that depend on the connected systems: pickers, and the map node's field mapper."""

from __future__ import annotations

import asyncio
import json

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


def _template_of(user: User, target: str) -> str:
    [box] = user.find(marker=f"template-{target}").elements
    return box.value


async def test_the_field_mapper_maps_a_dropped_source_refines_it_and_counts_what_is_covered(user: User) -> None:
    await user.open("/flows/crm_accounts_to_erp_customers")
    user.find(FlowCanvas).trigger("selection", {"nodes": ["to_customer"], "edges": []})
    user.find("Field mapper").click()
    # erp.customers has 14 columns; the demo maps 10 of them (and crm_updated_at, for the sync).
    await user.should_see("10 of 14 target fields mapped", retries=100)
    assert _template_of(user, "state") == "{{ record.state | value_map('us_states') }}"
    await user.should_see("name *")  # NOT NULL without a default: required
    await user.should_see("crm_id *")  # the write's key
    await user.should_see(marker="line-crm_updated_at")  # not a column: listed after the table's own

    # Unmapped, the required name is missing; a CRM field dropped on it maps it again.
    user.find(marker="unmap-name").click()
    await user.should_see("9 of 14 target fields mapped, 1 required missing (name)")
    user.find(marker="line-name").trigger("drop", "name")
    await user.should_see("10 of 14 target fields mapped")
    assert _template_of(user, "name") == "{{ record.name }}"
    # Refined from the line's menu; the preview shows it on the sample records.
    user.find(marker="filters-name").click()
    user.find(marker="filter-name-upper").click()
    assert _template_of(user, "name") == "{{ record.name | upper }}"
    [preview] = user.find(marker="preview-name").elements
    assert preview.text and preview.text == preview.text.upper() and "·" in preview.text

    # Pick a target by a click, then click a source: the same as a drop.
    user.find(marker="target-payment_terms").click()
    user.find(marker="source-country").click()
    assert _template_of(user, "payment_terms") == "{{ record.country }}"
    await user.should_see("11 of 14 target fields mapped")

    user.find(marker="mapper-close").click()
    user.find(marker="export").click()
    exported = json.loads((await user.download.next()).content)
    fields = next(n for n in exported["nodes"] if n["id"] == "to_customer")["config"]["fields"]
    assert fields["name"] == "{{ record.name | upper }}" and fields["payment_terms"] == "{{ record.country }}"
    assert fields["crm_updated_at"] == "{{ record.updated_at }}"  # what the mapper did not touch stays


async def test_test_results_say_stale_after_an_edit_and_not_after_undoing_it(user: User) -> None:
    await user.open("/flows/crm_accounts_to_erp_customers")
    await user.should_see("version 1")
    canvas = user.find(FlowCanvas)
    canvas.trigger("selection", {"nodes": ["approved"], "edges": []})
    user.find("Test node").click()
    await user.should_see("Test up to 'approved'", retries=200)
    stale = "stale: the flow changed since this test"
    await user.should_not_see(stale)

    [condition] = [e for e in user.find(ui.input).elements if "fb-drop-expression" in e.classes]
    condition.set_value("record.credit_status != 'approved'")
    await user.should_see(stale)
    await user.should_see("unsaved changes")
    canvas.trigger("shortcut", {"action": "undo", "selection": {"nodes": [], "edges": []}})
    await user.should_not_see("unsaved changes", retries=50)  # back to the saved document
    await user.should_not_see(stale)


async def test_a_nodes_input_fields_are_listed_beside_its_form(user: User) -> None:
    await user.open("/flows/crm_accounts_to_erp_customers")
    user.find(FlowCanvas).trigger("selection", {"nodes": ["approved"], "edges": []})
    await user.should_see("Input and output fields")
    [view] = [e for e in user.find(ui.expansion).elements if "fb-io-view" in e.classes]
    view.set_value(True)
    await user.should_see("In (20 sample records)", retries=200)
    await user.should_see("credit_status")
    await user.should_see("Out: Test node shows what it sends on")
