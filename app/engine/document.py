"""Reading flow documents from bytes or files, whatever they hold, without a traceback.

Binary files, empty files, huge files and absurd nesting all come back as problems, never as
exceptions: the caller decides what to show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.problems import Problem

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_NESTING = 64  # real flow documents nest about 8 deep


class _DuplicateKey(ValueError):
    pass


class _NotJson(ValueError):
    """Something Python's json module accepts but JSON does not."""


def _no_constants(name: str) -> float:
    raise _NotJson(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJson(f"the number {text[:20]} is too large")
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _nesting_depth(value: Any) -> int:
    """Depth of a parsed JSON value, measured without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_document(data: bytes | str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The document as a dict, or None with the problems that stop it from being read."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_DOCUMENT_BYTES:
        size = len(data) / 1024 / 1024
        return None, [
            Problem(
                f"the file is {size:.1f} MB; a flow document may be at most {MAX_DOCUMENT_BYTES // 1024 // 1024} MB",
                code="file_too_big",
            )
        ]
    if not data.strip():
        return None, [Problem("the file is empty; a flow document is a JSON object", code="empty_file")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [
            Problem(
                f"the file is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                f"{error.start}); is it a binary file?",
                code="not_text",
            )
        ]
    if "\x00" in text:
        return None, [Problem("the file holds NUL characters; is it a binary file?", code="not_text")]
    try:
        document = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants, parse_float=_finite
        )
    except json.JSONDecodeError as error:
        return None, [
            Problem(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}", code="invalid_json")
        ]
    except _DuplicateKey as error:
        return None, [Problem(f"invalid JSON: key '{error}' appears twice in the same object", code="invalid_json")]
    except _NotJson as error:
        return None, [Problem(f"invalid JSON: {error}", code="invalid_json")]
    except RecursionError:
        return None, [Problem(f"the JSON nests deeper than {MAX_NESTING} levels", code="too_deep")]
    except ValueError as error:  # Python refuses to read integers of more than 4,300 digits
        return None, [Problem(f"invalid JSON: {str(error).split(';')[0]}", code="invalid_json")]
    if _nesting_depth(document) > MAX_NESTING:
        return None, [Problem(f"the JSON nests deeper than {MAX_NESTING} levels", code="too_deep")]
    if _LONE_SURROGATE_ESCAPE.search(text) and not _encodable(document):
        # "\ud800" on its own is valid JSON syntax but no character: it cannot be stored or shown.
        return None, [
            Problem("invalid JSON: a \\u escape names half a character (a lone surrogate)", code="invalid_json")
        ]
    if not isinstance(document, dict):
        return None, [Problem(f"a flow document is a JSON object, not {_json_kind(document)}", code="not_an_object")]
    return document, []


_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(document: Any) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def read_document_file(path: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Read and parse a file; problems carry the file name."""
    name = str(path)
    try:
        if path.is_dir():
            return None, [Problem("is a folder, not a flow document", file=name, code="not_a_file")]
        if path.exists() and not path.is_file():
            # /dev/zero never ends and a named pipe blocks: only regular files are read.
            return None, [
                Problem(
                    "is not a regular file (a device or a pipe?), not a flow document", file=name, code="not_a_file"
                )
            ]
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            # Don't read 50 MB to say it is too big.
            return None, [
                Problem(
                    f"the file is {size / 1024 / 1024:.1f} MB; a flow document may be at most "
                    f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MB",
                    file=name,
                    code="file_too_big",
                )
            ]
        with path.open("rb") as file:
            # At most one byte over the cap, in case the file grew since stat().
            data = file.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        return None, [Problem("no such file", file=name, code="no_such_file")]
    except OSError as error:
        return None, [Problem(f"cannot read the file: {error.strerror}", file=name, code="unreadable_file")]
    document, problems = parse_document(data)
    return document, [p.in_file(name) for p in problems]
