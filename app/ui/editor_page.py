"""The editor pages: /flows/new (a flow not stored yet) and /flows/{id} (a stored flow's current version)."""

from __future__ import annotations

from nicegui import ui

from app.errors import NotFound
from app.services import designer, flow_reads
from app.ui import context
from app.ui.editor.editor import Editor, not_found
from app.ui.feedback import tell_error
from app.ui.frame import frame


@ui.page("/flows/new")
def new_flow_page(name: str = "", id: str = "") -> None:  # noqa: A002 - the query parameter is called id
    document = designer.new_document(name or "Untitled flow", id or None)
    with frame(document["name"], active="Flows", full_height=True):
        Editor(document, based_on=0, is_new=True).build()


@ui.page("/flows/{flow_id}")
def editor_page(flow_id: str) -> None:
    with frame(flow_id, active="Flows", full_height=True):
        try:
            document, version = flow_reads.document(context.store(), flow_id)
        except NotFound:
            not_found(flow_id)
            return
        except Exception as error:
            tell_error(error, "open the flow")
            return
        ui.page_title(f"{document.get('name', flow_id)} · Flowbridge")
        Editor(document, based_on=version, is_new=False).build()
