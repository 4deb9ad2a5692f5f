"""A problem found in a flow document: where it is (file, node, JSON path), a machine-readable code
and a plain sentence. At the bottom of the layers beside app/records.py: the engine finds problems,
the services, pages, API and CLI word them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

# A node type, file name or cron text may hold a newline or a NUL: escape them so one problem
# stays one line of output. Lone surrogates (a file name that is not UTF-8) would make print() fail.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]")


def one_line(text: str) -> str:
    """`text` with control characters written as escapes (a newline becomes \\n)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@dataclass(frozen=True)
class Problem:
    message: str
    path: str = "$"
    node_id: str | None = None
    file: str | None = None
    # What kind of problem, for code that acts on it (e.g. "open_port", "cycle", "schema");
    # the message is for people and may be reworded.
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"node '{self.node_id}' at {self.path}" if self.node_id else self.path
        text = f"{self.file}: {where}: {self.message}" if self.file else f"{where}: {self.message}"
        return one_line(text)

    def as_dict(self) -> dict:
        return asdict(self)

    def in_file(self, file: str) -> Problem:
        return Problem(self.message, self.path, self.node_id, file, self.code)


def json_path(parts: tuple | list) -> str:
    """('nodes', 2, 'config', 'condition') -> $.nodes[2].config.condition"""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif str(part).isidentifier():
            text += f".{part}"
        else:
            text += f"[{part!r}]"
    return text
