"""Webhook secrets and the checks a webhook call must pass before it may start a run.

Each flow's webhook has its own secret, sealed in the store like connection settings. A caller
proves it knows the secret either by sending it in the X-Flowbridge-Token header, or (auth
"hmac") by signing the body: X-Flowbridge-Signature: sha256=<hex HMAC-SHA256 of the body>.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from app.errors import NotFound
from app.store import flows
from app.store.database import Store
from app.store.models import WebhookSecret
from app.store.secrets import Secrets

TOKEN_HEADER = "x-flowbridge-token"
SIGNATURE_HEADER = "x-flowbridge-signature"
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


def webhook_config(store: Store, flow_id: str) -> dict[str, Any]:
    """The trigger.webhook config of the flow's current version; refusals for the wrong flow."""
    try:
        document, _ = flows.get_document(store, flow_id)
    except NotFound:
        raise HookRefusal(404, f"there is no flow '{flow_id}'") from None
    node = next((n for n in document.get("nodes", []) if n.get("type") == "trigger.webhook"), None)
    if node is None:
        raise HookRefusal(409, f"flow '{flow_id}' does not start from a webhook")
    return node.get("config") or {}


def check_call(store: Store, flow_id: str, config: dict[str, Any], headers: dict[str, str], body: bytes) -> None:
    """Raise HookRefusal unless the call carries the flow's secret (401) and the flow is on (409)."""
    secret = secret_for(store, flow_id)
    if config.get("auth", "token") == "hmac":
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        given = headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(expected, given):
            raise HookRefusal(401, "missing or wrong signature (X-Flowbridge-Signature: sha256=<HMAC of the body>)")
    elif not hmac.compare_digest(secret, headers.get(TOKEN_HEADER, "")):
        raise HookRefusal(401, "missing or wrong token (X-Flowbridge-Token)")
    if not flows.get_flow(store, flow_id).enabled:
        raise HookRefusal(409, f"flow '{flow_id}' is switched off")


def records_from(body: bytes) -> list[dict[str, Any]]:
    """The body's records: one JSON object, or a list of them."""
    try:
        value = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HookRefusal(400, f"the body is not JSON: {error}") from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise HookRefusal(400, "the body must be a JSON object or a list of objects")


def max_body_bytes(config: dict[str, Any]) -> int:
    return int(config.get("max_body_kb", DEFAULT_MAX_BODY_KB)) * 1024
