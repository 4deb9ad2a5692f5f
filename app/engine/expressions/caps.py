"""Caps on what one expression may build: value sizes, loop steps, number sizes, repetition."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from app.engine.expressions.limits import _SCALARS, MAX_LOOP_STEPS, MAX_NUMBER_BITS, MAX_VALUE_SIZE
from app.engine.expressions.value_maps import _is_missing
from app.errors import ExpressionLimit

# --- caps on what one expression may build -------------------------------------------------------


def _weight(value: Any, budget: int = MAX_VALUE_SIZE) -> int:
    """What a value holds: the items of its lists, tuples, sets and dicts plus the characters of
    the texts in them, a part held several times counted every time. A number alone weighs 1, in a
    list it is the item the list counts already. Counting stops once past `budget`, so weighing a
    value that would be gigabytes as text costs at most about `budget` steps."""
    if isinstance(value, (str, bytes)):  # Markup and other text types too
        return len(value)
    if not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return 1
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            if total <= budget:
                stack.extend(k for k in item.keys() if type(k) not in _SCALARS)
                stack.extend(v for v in item.values() if type(v) not in _SCALARS)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            if total <= budget:
                stack.extend(v for v in item if type(v) not in _SCALARS)
        if total > budget:
            return total
    return total


def _check_size(value: Any, what: str) -> Any:
    weight = len(value) if type(value) is str else _weight(value)
    if weight > MAX_VALUE_SIZE:
        # Weighing stops past the cap: what it found is a floor, not the whole.
        raise ExpressionLimit(
            f"{what} would build a value of at least {weight:,} characters and items; the cap is {MAX_VALUE_SIZE:,}"
        )
    return value


def _check_count(count: int, what: str) -> None:
    if count > MAX_VALUE_SIZE:
        raise ExpressionLimit(f"{what} would build a value of {count:,} items; the cap is {MAX_VALUE_SIZE:,}")


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and abs(width) > MAX_VALUE_SIZE:
        raise ExpressionLimit(f"{what} asks for width {width:,}; the cap is {MAX_VALUE_SIZE:,}")


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_NUMBER_BITS:
        raise ExpressionLimit(f"{what} is too large a number (about {bits * 3 // 10:,} digits)")


def _spec_number(digits: str) -> int:
    # int() of a 5,000-digit run raises; any run this long is far over the cap anyway.
    return int(digits) if len(digits) <= 12 else 10**12


def _capped_join(items: Iterable[Any], separator: str = "") -> str:
    """`separator.join(str(x) for x in items)`, refused as soon as the text would pass the cap:
    each part is weighed before it is turned into text, and the total is kept as parts come."""
    parts: list[str] = []
    total, gap = 0, len(separator)
    for item in items:
        if type(item) is not str:
            _over(total + _weight(item, MAX_VALUE_SIZE - total), "joining")
            item = str(item)
        total += len(item) + (gap if parts else 0)
        _over(total, "joining")
        parts.append(item)
    return separator.join(parts)


def _over(total: int, what: str) -> None:
    if total > MAX_VALUE_SIZE:
        raise ExpressionLimit(f"{what} would build {total:,} characters; the cap is {MAX_VALUE_SIZE:,}")


def _capped_native_concat(values: Iterable[Any]) -> Any:
    """Jinja's native_concat (the output of a macro, a {% set %} block, a {% filter %} block),
    joined under the cap: one value keeps its type, several become their capped text."""
    from jinja2.nativetypes import native_concat

    rest = iter(values)
    head = list(itertools.islice(rest, 2))
    if len(head) < 2:
        return native_concat(head)
    return native_concat([_capped_join(itertools.chain(head, rest))])


def _capped_filter(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A filter whose result is weighed like any other value an expression makes."""

    def capped(*args: Any, **kwargs: Any) -> Any:
        return _check_size(fn(*args, **kwargs), f"filter '{name}'")

    if hasattr(fn, "jinja_pass_arg"):
        capped.jinja_pass_arg = fn.jinja_pass_arg  # type: ignore[attr-defined]
    return capped


# Filters that never make a value larger than the one they are given: not weighed again (they
# run for every field of every record).
_NON_GROWING_FILTERS = frozenset(
    {
        "trim",
        "lower",
        "upper",
        "title",
        "capitalize",
        "to_number",
        "digits",
        "value_map",
        "default",
        "d",
        "length",
        "count",
        "int",
        "float",
        "abs",
        "round",
        "first",
        "last",
        "bool",
        "truncate",
        "striptags",
        "join",
        "format",
        "center",
        "replace",
        "indent",
        "wordwrap",
        "sum",
        "tojson",  # capped on their own
    }
)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.DOTALL)


class _Guard:
    """Per-evaluation loop budget; reset before each record so records don't share it."""

    __slots__ = ("left", "prepaid", "written", "counted")

    def __init__(self) -> None:
        self.left = MAX_LOOP_STEPS
        self.prepaid: dict[int, range] = {}
        self.written = 0
        self.counted: dict[int, Any] = {}  # macro results: their pieces were counted as the macro wrote them

    def reset(self) -> None:
        self.left = MAX_LOOP_STEPS
        self.prepaid.clear()
        self.written = 0
        self.counted.clear()

    def out(self, value: Any) -> Any:
        """A piece of a template's output, counted: a loop or a macro writing a large value again
        and again stops once the record's output passes the cap, before it is all held."""
        if self.counted.get(id(value)) is value:  # a macro's output, written here: counted already
            del self.counted[id(value)]
            return value
        self.written += len(value) if type(value) is str else _weight(value)
        if self.written > MAX_VALUE_SIZE:
            raise ExpressionLimit(
                f"the template would write more than {MAX_VALUE_SIZE:,} characters for one "
                f"record; the cap is {MAX_VALUE_SIZE:,}"
            )
        return value

    @staticmethod
    def check(value: Any) -> Any:
        """A list, tuple or dict literal, weighed: `[a, a, a]` holds `a` three times."""
        return _check_size(value, "a list or dict")

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        # range() charged its length when it was made: its first loop is paid for already, so
        # `for i in range(6000)` costs 6,000 steps, not 12,000. Held by reference: ids stay unique.
        if type(iterable) is range and self.prepaid.get(id(iterable)) is iterable:
            del self.prepaid[id(iterable)]
            yield from iterable
            return
        for item in iterable:
            self.left -= 1
            if self.left < 0:
                raise ExpressionLimit(f"loops ran more than {MAX_LOOP_STEPS:,} steps for one record")
            yield item

    def range(self, *args: int) -> range:
        result = range(*args)
        try:
            self.left -= len(result)
        except OverflowError:  # more numbers than an index can count
            self.left = -1
        if self.left < 0:
            raise ExpressionLimit(f"range() asked for more than {MAX_LOOP_STEPS:,} steps for one record")
        self.prepaid[id(result)] = result
        return result

    def step(self) -> None:
        # A macro calling itself twice doubles the work at each level without any loop.
        self.left -= 1
        if self.left < 0:
            raise ExpressionLimit(f"loops and macro calls ran more than {MAX_LOOP_STEPS:,} steps for one record")

    def concat(self, *parts: Any) -> str:
        return _capped_join("" if _is_missing(p) else p for p in parts)
