"""Page logic through NiceGUI's simulated user: lists, search, import, the editor's gestures, saving."""

from __future__ import annotations

import json
from pathlib import Path

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User

from app.services.runs import run_flow
from app.store import flows as flow_store
from app.store.database import Store
from app.ui.canvas.flow_canvas import FlowCanvas
from app.ui.editor.schema_form import label_of, resolve

FLOW = "crm_accounts_to_erp_customers"
NOTHING_SELECTED = {"nodes": [], "edges": []}


async def test_the_flows_page_lists_the_demo_flows_and_finds_one_by_search(user: User) -> None:
    await user.open("/")
    await user.should_see("CRM accounts → ERP customers")
    await user.should_see("ERP invoices → CRM accounts")
    user.find(marker="flow-search").type("stock")
    await user.should_see("ERP stock → CRM products")
    await user.should_not_see("ERP invoices → CRM accounts")


async def test_an_invalid_import_is_refused_with_every_problem_named(user: User, store: Store) -> None:
    await user.open("/")
    document = json.loads(Path(f"flows/{FLOW}.json").read_text())
    document["id"] = "imported_broken"
    document["edges"] = document["edges"][:-1]  # the write node loses its input
    upload = next(iter(user.find(ui.upload).elements))
    await upload.handle_uploads([SmallFileUpload("broken.json", "application/json", json.dumps(document).encode())])
    await user.should_see("has no input; connect something to it")
    assert "imported_broken" not in {f.id for f in flow_store.list_flows(store)}
    user.find("Import anyway as a draft").click()
    await user.should_see("(draft)")
    assert "imported_broken" in {f.id for f in flow_store.list_flows(store)}


async def test_a_file_that_is_not_json_says_where_it_breaks(user: User) -> None:
    await user.open("/")
    upload = next(iter(user.find(ui.upload).elements))
    await upload.handle_uploads([SmallFileUpload("notes.json", "application/json", b'{"nodes": [}')])
    await user.should_see("invalid JSON at line 1")


# The editor checks a changed document in the background: a problem that goes away leaves the page
# when that check is done, not at once. Waiting until it has gone (up to 5 s, in 0.05 s steps) is what a
# user does; the default of 3 looks raced the check on a loaded machine.
CHECKED = 100


async def test_gestures_on_an_empty_canvas_build_a_flow_and_its_problems_follow(user: User) -> None:
    await user.open("/flows/new?name=Drawn&id=drawn")
    await user.should_see("not saved yet")
    canvas = user.find(FlowCanvas)
    # The events the canvas script emits; the editor turns each into a change of the document.
    for type_name, x in (("trigger.manual", 0), ("read.sql", 260), ("filter", 520)):
        canvas.trigger("add", {"type": type_name, "x": x, "y": 100})
    await user.should_see("Lets through the records for which a condition holds.")  # the new node's form
    canvas.trigger("connect", {"source": "trigger", "sourceHandle": "out", "target": "read", "targetHandle": "in"})
    canvas.trigger("connect", {"source": "read", "sourceHandle": "out", "target": "filter", "targetHandle": "in"})
    await user.should_see("'condition' is required")
    await user.should_not_see("node 'filter' has no input", retries=CHECKED)
    # Nothing flows into a trigger: the gesture is refused with a sentence.
    canvas.trigger("connect", {"source": "filter", "sourceHandle": "match", "target": "trigger", "targetHandle": "in"})
    await user.should_see("is a trigger; nothing can flow into it")
    # Undo takes the last edge away, redo brings it back.
    canvas.trigger("shortcut", {"action": "undo", "selection": NOTHING_SELECTED})
    await user.should_see("node 'filter' has no input")
    canvas.trigger("shortcut", {"action": "redo", "selection": NOTHING_SELECTED})
    await user.should_not_see("node 'filter' has no input", retries=CHECKED)
    # Copy and paste the filter: a new id; then delete the copy.
    canvas.trigger("shortcut", {"action": "copy", "selection": {"nodes": ["filter"], "edges": []}})
    canvas.trigger("shortcut", {"action": "paste", "selection": NOTHING_SELECTED})
    await user.should_see("Pasted 1 node")
    await user.should_see("node 'filter_2' has no input")
    canvas.trigger("remove", {"nodes": ["filter_2"], "edges": []})
    await user.should_not_see("node 'filter_2' has no input", retries=CHECKED)


async def test_saving_over_a_version_someone_else_saved_is_refused_naming_them(user: User, store: Store) -> None:
    await user.open(f"/flows/{FLOW}")
    await user.should_see("version 1")
    document, _ = flow_store.get_document(store, FLOW)
    flow_store.save_flow(
        store, {**document, "description": "changed by Maria"}, author="Maria", comment="hers", based_on=1
    )
    user.find(marker="save").click()
    user.find(marker="author").type("Ada")
    user.find(marker="comment").type("mine")
    user.find(marker="save-confirm").click()
    await user.should_see("Maria saved version 2")
    await user.should_see("Save mine as a copy")
    assert flow_store.get_document(store, FLOW)[1] == 2  # nothing was overwritten
    user.find("Save mine as a copy").click()
    await user.should_see(f"Saved as a new flow '{FLOW}_copy'")
    copy_document, version = flow_store.get_document(store, f"{FLOW}_copy")
    assert version == 1 and copy_document["name"].endswith("(copy)")


async def test_saving_a_flow_with_problems_keeps_it_as_a_draft(user: User, store: Store) -> None:
    await user.open(f"/flows/{FLOW}")
    canvas = user.find(FlowCanvas)
    edge = "accounts.>"  # any edge out of the read node: take the first
    document, _ = flow_store.get_document(store, FLOW)
    first = next(e for e in document["edges"] if e["from"] == document["nodes"][1]["id"])
    edge = f"{first['from']}.{first.get('port') or ''}>{first['to']}"
    canvas.trigger("remove", {"nodes": [], "edges": [edge]})
    await user.should_see("problem")
    user.find(marker="save").click()
    await user.should_see("saved as a draft")
    user.find(marker="author").type("Ada")
    user.find(marker="save-confirm").click()
    await user.should_see("Saved version 2 as a draft")


async def test_a_run_shows_its_ledger_and_failed_records(user: User, store: Store) -> None:
    document, version = flow_store.get_document(store, FLOW)
    result = run_flow(store, document, version=version, env="sandbox")
    await user.open(f"/runs/{result.run_id}")
    await user.should_see("Ledger")
    await user.should_see("Failed records")
    await user.open("/runs")
    table = next(iter(user.find(ui.table).elements))
    assert [row["id"] for row in table.rows] == [result.run_id]
    assert table.rows[0]["flow"] == FLOW


async def test_an_unknown_flow_says_so(user: User) -> None:
    await user.open("/flows/no_such_flow")
    await user.should_see("There is no flow 'no_such_flow'.")


async def test_every_node_type_gets_a_form_from_its_schema(user: User, store: Store) -> None:
    import nodes

    document = {
        "schema_version": 1,
        "id": "every_type",
        "name": "Every type",
        "edges": [],
        "nodes": [{"id": f"n{i}", "type": t, "config": {}} for i, t in enumerate(sorted(nodes.registry()))],
    }
    flow_store.save_flow(store, document, author="test")
    await user.open("/flows/every_type")
    canvas = user.find(FlowCanvas)
    for index, type_name in enumerate(sorted(nodes.registry())):
        canvas.trigger("selection", {"nodes": [f"n{index}"], "edges": []})
        node_type = nodes.get(type_name)
        await user.should_see(node_type.description)
        await user.should_see("Test node")
        schema = node_type.config_schema
        required = set(schema.get("required", []))
        for name, sub in schema.get("properties", {}).items():  # each top-level setting has its field
            sub = resolve(schema, sub)
            if "const" not in sub:
                await user.should_see(label_of(name, sub, name in required))


async def test_positions_are_saved_in_the_document_and_export_downloads_it(user: User, store: Store) -> None:
    await user.open(f"/flows/{FLOW}")
    user.find(FlowCanvas).trigger("moved", [{"id": "accounts", "x": 333, "y": 444}])
    await user.should_see("unsaved changes")
    user.find(marker="export").click()
    exported = json.loads((await user.download.next()).content)
    assert next(n for n in exported["nodes"] if n["id"] == "accounts")["position"] == {"x": 333, "y": 444}
    user.find(marker="save").click()
    user.find(marker="author").type("Ada")
    user.find(marker="save-confirm").click()
    await user.should_see("Saved version 2")
    stored, _ = flow_store.get_document(store, FLOW)
    assert next(n for n in stored["nodes"] if n["id"] == "accounts")["position"] == {"x": 333, "y": 444}


async def test_a_draft_cannot_be_switched_on_from_the_flows_page(user: User, store: Store) -> None:
    document, _ = flow_store.get_document(store, FLOW)
    flow_store.save_flow(store, {**document, "edges": document["edges"][:-1]}, author="Ada", comment="wip")
    await user.open("/")
    await user.should_see("Draft · 2 problems")
    user.find(marker=f"switch-{FLOW}").click()
    await user.should_see("is a draft with 2 problem(s) and cannot be switched on", retries=50)
    assert not flow_store.get_flow(store, FLOW).enabled


async def test_value_maps_are_edited_as_tables(user: User) -> None:
    await user.open("/flows/new?name=Maps&id=maps")
    user.find(marker="new-value-map").type("countries").trigger("keydown.enter")
    await user.should_see("countries · 0 entries")
    user.find(marker="new-entry-key-countries").type("DE")
    user.find(marker="new-entry-value-countries").type("Germany").trigger("keydown.enter")
    await user.should_see("countries · 1 entry")
    user.find(marker="export").click()
    exported = json.loads((await user.download.next()).content)
    assert exported["value_maps"] == {"countries": {"DE": "Germany"}}


async def test_a_value_map_stays_open_entry_after_entry_and_the_header_counts_the_maps(user: User) -> None:
    await user.open("/flows/new?name=Maps&id=maps")
    await user.should_see("Value maps (0)")
    user.find(marker="new-value-map").type("us_states").trigger("keydown.enter")
    await user.should_see("Value maps (1)")
    await user.should_see("us_states · 0 entries")
    for count, (key, value) in enumerate((("CA", "California"), ("NY", "New York"), ("TX", "Texas")), start=1):
        user.find(marker="new-entry-key-us_states").type(key)
        user.find(marker="new-entry-value-us_states").type(value).trigger("keydown.enter")
        await user.should_see(f"us_states · {count} entr")
    [panel] = [e for e in user.find(ui.expansion).elements if str(e.props.get("label", "")).startswith("us_states")]
    assert panel.value, "the map folded shut after an entry: the analyst has to reopen it for each one"
    user.find(marker="new-value-map").type("countries").trigger("keydown.enter")
    await user.should_see("Value maps (2)")


async def test_a_schedule_named_by_its_cron_is_renamed_with_it_and_a_name_of_ones_own_stays(user: User) -> None:
    await user.open(f"/flows/{FLOW}")
    canvas = user.find(FlowCanvas)
    canvas.trigger("selection", {"nodes": ["start"], "edges": []})
    await user.should_see("Cron expression")
    [cron] = [e for e in user.find(ui.input).elements if e.props.get("label") == "Cron expression"]
    [name] = [e for e in user.find(ui.input).elements if e.props.get("label") == "Name on the canvas"]
    assert name.value == "Every 15 minutes"
    cron.set_value("0 3 * * *")
    assert name.value == "Daily at 03:00"
    user.find(marker="export").click()
    exported = json.loads((await user.download.next()).content)
    assert next(n for n in exported["nodes"] if n["id"] == "start")["name"] == "Daily at 03:00"

    name.set_value("Nightly import")  # the analyst's own name: a later cron leaves it alone
    cron.set_value("0 4 * * *")
    assert name.value == "Nightly import"


async def test_an_address_the_app_does_not_serve_says_so_in_its_frame(user: User) -> None:
    page = await user.http_client.get("/no-such-page/at-all")
    assert page.status_code == 404 and page.headers.get("X-Nicegui-Content") == "page"
    shown = page.text
    assert "There is no page here" in shown and "Nothing is served at /no-such-page/at-all." in shown
    assert "Back to the flows" in shown and "Dead letters" in shown  # in the app's frame, with its menu
    assert "HTTPException" not in shown
    api = await user.http_client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "nothing is served at /api/no-such-thing"}


async def test_the_palette_search_keeps_what_matches_and_enter_adds_the_first(user: User) -> None:
    await user.open("/flows/new?name=Palette&id=palette")
    await user.should_see("Read file")
    user.find(marker="palette-search").type("odata")
    await user.should_see("Read from an OData service")
    await user.should_not_see("Read file")
    await user.should_not_see("Transform")  # a family with nothing left loses its title too
    user.find(marker="palette-search").trigger("keydown.enter")
    await user.should_see("Read file")  # the search is cleared for the next one
    user.find(marker="export").click()
    exported = json.loads((await user.download.next()).content)
    assert [n["type"] for n in exported["nodes"]] == ["read.odata"]

    user.find(marker="palette-search").type("no such thing")
    await user.should_see("No node type matches “no such thing”")
