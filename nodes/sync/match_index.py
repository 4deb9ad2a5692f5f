"""The target rows' match keys (normalised e-mail, name and postcode...) in a temporary SQLite file.

Finding an existing row by `lower(trim(email))` cannot use the target's indexes, so each batch
would scan the whole table: fine for a few records, quadratic for a first sync of a large system.
After a couple of batches that needed matching, the write builds this index once (one pass over the
target) and keeps it up to date with the rows it writes during the run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any


class MatchIndex:
    def __init__(
        self, path: Path, rules: list[dict[str, Any]], normalise: Callable[[Any, str], Any], fetch: list[str]
    ) -> None:
        self.rules = rules
        self.normalise = normalise
        self.fetch = fetch  # the columns a match returns (match columns, key, target id)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE entry (rule INTEGER, match_key TEXT, target_id TEXT, row TEXT)")
        self.db.execute("CREATE INDEX entry_key ON entry (rule, match_key)")
        self.db.execute("CREATE INDEX entry_target ON entry (target_id)")

    def _keys(self, row: dict[str, Any]) -> list[tuple[int, str]]:
        found = []
        for number, rule in enumerate(self.rules):
            key = tuple(self.normalise(row.get(c), rule.get("normalise", "text")) for c in rule["columns"])
            if all(part not in (None, "") for part in key):
                found.append((number, json.dumps(key)))
        return found

    def add(self, rows: list[dict[str, Any]], target_id: str) -> None:
        """Index rows of the target (as read, or as just written)."""
        entries = []
        for row in rows:
            kept = json.dumps({c: row.get(c) for c in self.fetch}, default=str)
            entries += [(rule, key, str(row.get(target_id)), kept) for rule, key in self._keys(row)]
        ids = list({str(row.get(target_id)) for row in rows})
        for start in range(0, len(ids), 500):  # a row written again replaces its old keys
            chunk = ids[start : start + 500]
            self.db.execute(f"DELETE FROM entry WHERE target_id IN ({','.join('?' * len(chunk))})", chunk)
        self.db.executemany("INSERT INTO entry VALUES (?, ?, ?, ?)", entries)

    def find(self, rule: int, keys: list[tuple]) -> list[dict[str, Any]]:
        """Rows whose match key for `rule` is one of `keys` (already normalised)."""
        encoded = [json.dumps(k) for k in keys]
        rows = []
        for start in range(0, len(encoded), 500):
            chunk = encoded[start : start + 500]
            rows += [
                json.loads(r)
                for (r,) in self.db.execute(
                    f"SELECT row FROM entry WHERE rule = ? AND match_key IN ({','.join('?' * len(chunk))})",
                    [rule, *chunk],
                )
            ]
        return rows

    def close(self) -> None:
        self.db.close()
