"""A problem found in a flow document: where it is (file, node, JSON path) and a plain sentence."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    message: str
    path: str = "$"
    node_id: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = f"node '{self.node_id}' at {self.path}" if self.node_id else self.path
        return f"{self.file}: {where}: {self.message}" if self.file else f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)

    def in_file(self, file: str) -> "Problem":
        return Problem(self.message, self.path, self.node_id, file)


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
