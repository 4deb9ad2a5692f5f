"""Value maps: lookup tables such as US state codes to names, matched trimmed and case-insensitively."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2.runtime import Undefined

from app.errors import RecordError


@dataclass(frozen=True)
class ValueMap:
    """A lookup table such as US state codes to names, matched trimmed and case-insensitively."""

    entries: dict[str, Any]
    on_missing: str = "pass"  # pass the value through, use `default`, or fail the record
    default: Any = None

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> ValueMap:
        if isinstance(raw.get("entries"), Mapping):
            entries, on_missing, default = raw["entries"], raw.get("on_missing", "pass"), raw.get("default")
        else:
            entries, on_missing, default = raw, "pass", None
        return cls({_fold(k): v for k, v in entries.items()}, on_missing, default)

    def lookup(self, value: Any, name: str) -> Any:
        if value is None or isinstance(value, Undefined):
            return None
        folded = _fold(value)
        if folded in self.entries:
            return self.entries[folded]
        if self.on_missing == "default":
            return self.default
        if self.on_missing == "fail":
            raise RecordError(f"value {value!r} has no entry in value map '{name}'")
        return value


def _fold(value: Any) -> str:
    return str(value).strip().casefold()


def _is_missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)
