"""Flows and their versions: saving a document makes a new version; old ones stay."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from app.errors import FlowbridgeError, NotFound
from app.store.database import Store
from app.store.models import Flow, FlowVersion, utcnow


class VersionConflict(FlowbridgeError):
    """Someone saved the flow after the version the editor started from."""

    def __init__(self, flow_id: str, latest: FlowVersion) -> None:
        self.latest = latest
        super().__init__(
            f"flow '{flow_id}' was saved as version {latest.version} by "
            f"{latest.author or 'someone'} at {latest.created_at:%Y-%m-%d %H:%M} UTC meanwhile"
        )


def save_flow(
    store: Store, document: dict[str, Any], *, author: str = "", comment: str = "", based_on: int | None = None
) -> int:
    """Store the document as the flow's next version and return that version number.

    `based_on` is the version the author edited; saving on top of a newer one is refused.
    """
    flow_id = document.get("id")
    if not isinstance(flow_id, str) or not flow_id:
        raise FlowbridgeError("the document has no id")
    with store.session() as session:
        flow = session.get(Flow, flow_id)
        latest = session.exec(
            select(FlowVersion).where(FlowVersion.flow_id == flow_id).order_by(FlowVersion.version.desc())
        ).first()
        if based_on is not None and latest is not None and latest.version != based_on:
            raise VersionConflict(flow_id, latest)
        version = (latest.version if latest else 0) + 1
        if flow is None:
            flow = Flow(id=flow_id, name=document.get("name") or flow_id)
        flow.name = document.get("name") or flow_id
        flow.description = document.get("description", "")
        flow.current_version = version
        flow.updated_at = utcnow()
        session.add(flow)
        session.add(FlowVersion(flow_id=flow_id, version=version, document=document, comment=comment, author=author))
        session.commit()
    return version


def get_flow(store: Store, flow_id: str) -> Flow:
    return store.fetch(Flow, flow_id, f"there is no flow '{flow_id}'")


def get_document(store: Store, flow_id: str, version: int | None = None) -> tuple[dict[str, Any], int]:
    """A flow's document (its current version unless one is named) and the version number."""
    flow = get_flow(store, flow_id)
    wanted = version or flow.current_version
    with store.session() as session:
        row = session.exec(
            select(FlowVersion).where(FlowVersion.flow_id == flow_id, FlowVersion.version == wanted)
        ).first()
    if row is None:
        raise NotFound(f"flow '{flow_id}' has no version {wanted}")
    return row.document, row.version


def list_flows(store: Store) -> list[Flow]:
    with store.session() as session:
        return list(session.exec(select(Flow).order_by(Flow.name)).all())


def list_versions(store: Store, flow_id: str) -> list[FlowVersion]:
    with store.session() as session:
        return list(
            session.exec(
                select(FlowVersion).where(FlowVersion.flow_id == flow_id).order_by(FlowVersion.version.desc())
            ).all()
        )


def flow_count(store: Store) -> int:
    with store.session() as session:
        return session.exec(select(func.count()).select_from(Flow)).one()


def delete_flow(store: Store, flow_id: str) -> None:
    """Remove a flow and its versions; its runs, dead letters and links stay (history is kept)."""
    with store.session() as session:
        flow = session.get(Flow, flow_id)
        if flow is None:
            raise NotFound(f"there is no flow '{flow_id}'")
        for version in session.exec(select(FlowVersion).where(FlowVersion.flow_id == flow_id)).all():
            session.delete(version)
        session.flush()  # the versions go first: they point at the flow
        session.delete(flow)
        session.commit()
