"""Flow files and stored flows as wholes: checking a file, importing it (validated first), deleting a flow."""

from __future__ import annotations

from pathlib import Path

from app.engine.document import read_document_file
from app.engine.validation import validate_document
from app.errors import InvalidFlow
from app.problems import Problem
from app.services import access
from app.store import flows as flow_store
from app.store.database import Store
from app.store.flows import save_flow
from nodes.base import NodeTypes

EXAMPLE_FLOWS = Path(__file__).resolve().parents[2] / "flows"


def check_flow_file(file: str, types: NodeTypes | None = None) -> list[Problem]:
    """Every problem of a flow file (reading, its schema, its nodes' configs, its graph), each naming
    the file as given; empty when it is valid."""
    document, problems = read_document_file(Path(file))
    if document is not None:
        problems = [p.in_file(file) for p in validate_document(document, types)]
    return problems


def import_flow_file(
    store: Store, path: Path, *, author: str = "", comment: str = "", types: NodeTypes | None = None
) -> tuple[str, int]:
    """Store a valid flow file as the next version of its flow; InvalidFlow lists every problem."""
    document, problems = read_document_file(path)
    if document is not None:
        problems = [p.in_file(str(path)) for p in validate_document(document, types)]
    if problems:
        raise InvalidFlow(problems)
    return document["id"], save_flow(store, document, author=author, comment=comment)


def example_flow_files() -> list[Path]:
    return sorted(p for p in EXAMPLE_FLOWS.glob("*.json") if p.name != "flow.schema.json")


def delete_flow(store: Store, flow_id: str, *, who: access.Principal | None) -> None:
    """Delete a flow with its versions (its runs stay, for the record); an admin's act, as switching
    is. A running scheduler drops the flow's job at its next reconcile."""
    access.require(who, "switch")
    flow_store.delete_flow(store, flow_id)
