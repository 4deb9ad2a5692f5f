"""The caps an expression works under, and the error of one that does not compile."""

from __future__ import annotations

import re

MAX_LOOP_STEPS = 10_000  # per record, summed over every {% for %} and range() it runs
MAX_VALUE_SIZE = 100_000  # characters of a string, or items of a list or dict, one step may build
MAX_NUMBER_BITS = 4096  # about 1,200 digits: no business number is longer
MAX_JSON_INDENT = 16
MAX_SOURCE_LENGTH = 20_000  # characters of one expression or template; compiling costs about 4 µs each
_RESERVED_PREFIX = "__"
# Jinja's own globals that make text or state rather than read a record; refused when compiling.
_REMOVED_GLOBALS = ("lipsum", "range", "cycler", "joiner")

_SINGLE_OUTPUT = re.compile(r"^\s*\{\{-?(?P<expr>.*?)-?\}\}\s*$", re.DOTALL)


class ExpressionCompileError(ValueError):
    """An expression or template that does not compile; the message is Jinja2's, with its line."""


# Values that hold nothing else: weighing and evaluation pass them by.
_SCALARS = frozenset({int, float, bool, type(None)})
