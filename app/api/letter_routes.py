"""/api/dead-letters: the records that could not go on, retrying them (as they were or edited) and
discarding them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException

from app.api.answers import LETTER_ID, LETTER_LIMIT, allowed, caller, refusal, root
from app.composition import Flowbridge
from app.errors import FlowbridgeError
from app.services import access, dead_letters, overview, run_reads

router = APIRouter()


@router.get("/api/dead-letters")
def list_letters(
    flow: str | None = None,
    status: str | None = "open",
    limit: int = LETTER_LIMIT,
    who: access.Principal = Depends(caller),
    app: Flowbridge = Depends(root),
) -> dict[str, Any]:
    letters = run_reads.dead_letters(app.store, flow_id=flow, status=status, limit=limit)
    return {"reasons": dead_letters.reasons(app.store, flow), "letters": [overview.letter_row(d) for d in letters]}


@router.post("/api/dead-letters/{letter_id}/retry")
def retry_letter(
    letter_id: int = LETTER_ID,
    record: dict[str, Any] | None = Body(None),
    who: access.Principal = Depends(caller),
    app: Flowbridge = Depends(root),
) -> dict[str, Any]:
    allowed(who, "dead_letters")
    try:
        letter = dead_letters.get_letter(app.store, letter_id)
        allowed(who, "run", letter.env)  # a retry is a run there
        if (
            record is not None
            and set(record) == {"record"}
            and isinstance(record["record"], dict)
            and "record" not in letter.record
        ):
            raise HTTPException(
                400,
                "the body is the record itself (its fields, as the letter holds them), "
                'not {"record": {...}}; send what GET /api/dead-letters shows as the '
                "letter's record, edited",
            )
        return {"runs": dead_letters.retry(app.store, [letter_id], who=who, edited=record, types=app.node_types)}
    except FlowbridgeError as error:
        raise refusal(error) from None


@router.post("/api/dead-letters/retry")
def retry_reason(
    flow: str, node: str, reason: str, who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)
) -> dict[str, Any]:
    allowed(who, "dead_letters")
    try:
        for env in dead_letters.reason_envs(app.store, flow, node, reason):  # a retry is a run there
            allowed(who, "run", env)
        return {"runs": dead_letters.retry_reason(app.store, flow, node, reason, who=who, types=app.node_types)}
    except FlowbridgeError as error:
        raise refusal(error) from None


@router.post("/api/dead-letters/{letter_id}/discard")
def discard_letter(
    letter_id: int = LETTER_ID, who: access.Principal = Depends(caller), app: Flowbridge = Depends(root)
) -> dict[str, Any]:
    allowed(who, "dead_letters")
    try:
        dead_letters.discard(app.store, [letter_id], who=who)
    except FlowbridgeError as error:
        raise refusal(error) from None
    return {"discarded": letter_id}
