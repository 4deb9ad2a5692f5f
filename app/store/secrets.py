"""Encrypting connection settings at rest (Fernet, from the cryptography package).

The key comes from FLOWBRIDGE_SECRET_KEY, else from a key file made once beside the store
(readable by its owner only). Losing the key means re-entering the connections' passwords.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from app.errors import FlowbridgeError

KEY_FILE = ".flowbridge-secret"
COOKIE_KEY_FILE = ".flowbridge-cookie-secret"


def _key(home: Path) -> bytes:
    if os.environ.get("FLOWBRIDGE_SECRET_KEY"):
        return os.environ["FLOWBRIDGE_SECRET_KEY"].encode()
    return _made_once(home / KEY_FILE, Fernet.generate_key)


def _made_once(path: Path, make: Any) -> bytes:
    """The key in `path`, made by `make()` the first time, readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            return path.read_bytes().strip()
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(make())
    return path.read_bytes().strip()


def cookie_secret(home: Path) -> str:
    """The key the web app signs its cookies with: derived from FLOWBRIDGE_SECRET_KEY when it is set
    (so every server of one store agrees), else random, made at first start beside the store."""
    import hashlib
    import hmac
    import secrets

    if os.environ.get("FLOWBRIDGE_SECRET_KEY"):
        return hmac.new(
            os.environ["FLOWBRIDGE_SECRET_KEY"].encode(), b"flowbridge web cookies", hashlib.sha256
        ).hexdigest()
    return _made_once(home / COOKIE_KEY_FILE, lambda: secrets.token_hex(32).encode()).decode()


class Secrets:
    def __init__(self, home: Path) -> None:
        try:
            self._fernet = Fernet(_key(home))
        except ValueError:
            raise FlowbridgeError(
                "the secret key (FLOWBRIDGE_SECRET_KEY or .flowbridge-secret) is not a valid Fernet key"
            ) from None

    def seal(self, settings: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(settings).encode()).decode()

    def open(self, token: str, what: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise FlowbridgeError(
                f"{what}: its settings were encrypted with another secret key; set the connection again"
            ) from None
