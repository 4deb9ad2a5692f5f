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


def _key(home: Path) -> bytes:
    if os.environ.get("FLOWBRIDGE_SECRET_KEY"):
        return os.environ["FLOWBRIDGE_SECRET_KEY"].encode()
    path = home / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


class Secrets:
    def __init__(self, home: Path) -> None:
        try:
            self._fernet = Fernet(_key(home))
        except ValueError:
            raise FlowbridgeError("the secret key (FLOWBRIDGE_SECRET_KEY or .flowbridge-secret) is not a "
                                  "valid Fernet key") from None

    def seal(self, settings: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(settings).encode()).decode()

    def open(self, token: str, what: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise FlowbridgeError(f"{what}: its settings were encrypted with another secret key; "
                                  "set the connection again") from None
