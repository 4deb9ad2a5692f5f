"""Webhook secrets and the checks a webhook call must pass before it may start a run.

Each flow's webhook has its own secret, sealed in the store like connection settings. A caller
proves it knows the secret either by sending it in the X-Flowbridge-Token header, or (auth
"hmac") by signing the call: X-Flowbridge-Timestamp: <unix seconds> and
X-Flowbridge-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">. A signed call is taken
within 5 minutes of its timestamp, once: the same signature seen again is a replay and refused
(the signatures seen are kept in the store, so every server of one store knows them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import nodes
from app.errors import NotFound
from app.store import flows
from app.store.database import Store
from app.store.models import WebhookCall, WebhookSecret
from app.store.secrets import Secrets
from nodes.base import NodeTypes

TOKEN_HEADER = "x-flowbridge-token"
SIGNATURE_HEADER = "x-flowbridge-signature"
TIMESTAMP_HEADER = "x-flowbridge-timestamp"
REPLAY_WINDOW_SECONDS = 300  # a signed call is taken this long before or after its timestamp
DEFAULT_MAX_BODY_KB = 1024


def secret_for(store: Store, flow_id: str, *, rotate: bool = False) -> str:
    """The flow's webhook secret, made on first use (or anew with `rotate`)."""
    sealer = Secrets(store.home)
    with store.session() as session:
        row = session.get(WebhookSecret, flow_id)
        if row is not None and not rotate:
            return sealer.open(row.sealed, f"webhook secret of {flow_id}")["secret"]
        value = secrets.token_urlsafe(32)
        if row is None:
            row = WebhookSecret(flow_id=flow_id, sealed="")
        row.sealed = sealer.seal({"secret": value})
        session.add(row)
        session.commit()
        return value


@dataclass
class HookRefusal(Exception):
    """A webhook call refused before any run: the HTTP status and the sentence to answer."""

    status: int
    message: str


def webhook_config(store: Store, flow_id: str, types: NodeTypes | None = None) -> dict[str, Any]:
    """The trigger.webhook config of the flow's current version; refusals for the wrong flow."""
    try:
        document, _ = flows.get_document(store, flow_id)
    except NotFound:
        raise HookRefusal(404, f"there is no flow '{flow_id}'") from None
    node = next((n for n in document.get("nodes", []) if _takes_webhooks(n, types)), None)
    if node is None:
        raise HookRefusal(409, f"flow '{flow_id}' does not start from a webhook")
    return node.get("config") or {}


def _takes_webhooks(node: dict[str, Any], types: NodeTypes | None) -> bool:
    node_type = nodes.get(str(node.get("type")), types)
    return node_type is not None and node_type.takes_webhooks


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Flowbridge-Signature of a call: what a sender computes, and what is checked."""
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    # As bytes: compare_digest refuses a str with non-ASCII characters (a header can hold them).
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def check_call(
    store: Store, flow_id: str, config: dict[str, Any], headers: dict[str, str], body: bytes, now: float | None = None
) -> None:
    """Raise HookRefusal unless the call carries the flow's secret or a fresh signature seen for the
    first time (401; 409 for a replay) and the flow is on (409). `now`: the clock, in Unix seconds."""
    secret = secret_for(store, flow_id)
    if config.get("auth", "token") == "hmac":
        moment = time.time() if now is None else now
        stamp = headers.get(TIMESTAMP_HEADER, "").strip()
        if not (stamp.isascii() and stamp.isdigit()):
            raise HookRefusal(401, "missing X-Flowbridge-Timestamp (Unix seconds when the call was signed)")
        if abs(moment - int(stamp)) > REPLAY_WINDOW_SECONDS:
            raise HookRefusal(
                401,
                "X-Flowbridge-Timestamp is more than 5 minutes from this server's clock; "
                "sign each call when it is sent",
            )
        given = headers.get(SIGNATURE_HEADER, "")
        if not _same(sign(secret, stamp, body), given):
            raise HookRefusal(
                401, 'missing or wrong signature (X-Flowbridge-Signature: sha256=<HMAC of "<timestamp>.<body>">)'
            )
        if not flows.get_flow(store, flow_id).enabled:
            raise HookRefusal(409, f"flow '{flow_id}' is switched off")
        _first_time(store, flow_id, given, moment)
        return
    if not _same(secret, headers.get(TOKEN_HEADER, "")):
        raise HookRefusal(401, "missing or wrong token (X-Flowbridge-Token)")
    if not flows.get_flow(store, flow_id).enabled:
        raise HookRefusal(409, f"flow '{flow_id}' is switched off")


def _first_time(store: Store, flow_id: str, signature: str, now: float) -> None:
    """Remember a signature for the replay window; HookRefusal(409) when it was seen already."""
    import sqlalchemy as sa

    seen_at = dt.datetime.fromtimestamp(now, dt.UTC)
    key = hashlib.sha256(f"{flow_id}:{signature}".encode()).hexdigest()
    with store.session() as session:
        # Signatures older than twice the window can never be taken again: they need no keeping.
        session.execute(
            sa.delete(WebhookCall).where(
                WebhookCall.seen_at < seen_at - dt.timedelta(seconds=2 * REPLAY_WINDOW_SECONDS)
            )
        )
        session.add(WebhookCall(signature_hash=key, flow_id=flow_id, seen_at=seen_at))
        try:
            session.commit()
        except sa.exc.IntegrityError:
            raise HookRefusal(
                409, "this signed call was received before: a replay is never run twice; sign each call anew"
            ) from None


def records_from(body: bytes) -> list[dict[str, Any]]:
    """The body's records: one JSON object, or a list of them."""
    try:
        value = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HookRefusal(400, f"the body is not JSON: {error}") from None
    except RecursionError:
        raise HookRefusal(400, "the body nests too deeply to be records") from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise HookRefusal(400, "the body must be a JSON object or a list of objects")


def max_body_bytes(config: dict[str, Any]) -> int:
    return int(config.get("max_body_kb", DEFAULT_MAX_BODY_KB)) * 1024
