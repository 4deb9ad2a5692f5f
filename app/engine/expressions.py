"""Analyst expressions: Jinja2 in its immutable sandbox, compiled once per node, run a batch at a time.

Two kinds of source:
- an *expression* (a filter condition, a compute step): `record.amount > 100`;
- a *template* (a map field): `{{ record.first }} {{ record.last }}`. A template that is a single
  `{{ expr }}` keeps the expression's type, so `{{ record.id }}` stays a number.

A node compiles all its expressions into one `ExpressionProgram`. The program evaluates a whole batch
with a single sandboxed render (one Jinja loop over the records) because a render per record costs
about 5 µs, which alone would blow the engine's throughput target; a failure in one record restarts
the loop after it, so one bad record never stops the others.

Expressions are written by people, not trusted code: loop steps and macro calls, value sizes,
number sizes, repetition and the known string amplifiers are capped, and a record that breaks a cap
fails with that reason. A value's size is what it holds (`_weight`): the characters of its texts
and the items of its lists and dicts, a part it holds several times counted every time, as its
text would repeat it. Every value an expression makes is weighed where it is made (operators,
literals, calls, filters, joined output) before any text is built from it, so `[a] * 99999` of a
100,000-character `a` is refused as what it is: ten billion characters. What can never work (dunder attributes, Jinja's text globals, includes,
unknown filters) is refused when compiling, so validation reports it before any run.
"""

from __future__ import annotations

import difflib
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.filters import do_batch, do_slice, do_tojson, do_wordwrap, make_attrgetter
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.parser import Parser
from jinja2.runtime import Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.visitor import NodeTransformer

from app.errors import ExpressionLimit, RecordError
from nodes.base import Source

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


# --- the sandboxed environment --------------------------------------------------------------------


def _none_safe(fn: Callable[[str], str]) -> Callable[[Any], Any]:
    # Jinja's own string filters turn None into "None" and undefined into "": a missing e-mail
    # must stay missing, not become the string "none".
    def apply(value: Any, *args: Any) -> Any:
        if value.__class__ is str:  # the common case first: this runs for every field of every record
            return fn(value, *args)
        return None if _is_missing(value) else fn(str(value), *args)

    return apply


def _to_number(value: Any) -> Any:
    if _is_missing(value) or value == "":
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        text = str(value).strip().replace(",", "")
        return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    except ValueError:
        raise RecordError(f"{value!r} is not a number") from None


def _b64encode(value: Any, urlsafe: bool = False) -> Any:
    """Base64 of a text (UTF-8), as APIs want encoded filters: Tryton's REST takes a JSON domain so,
    `{{ [["crm_id", "=", record.id]] | tojson | b64encode }}`."""
    import base64

    if _is_missing(value):
        return None
    data = str(value).encode()
    return (base64.urlsafe_b64encode(data) if urlsafe else base64.b64encode(data)).decode("ascii")


def _digits(value: Any) -> Any:
    return None if _is_missing(value) else re.sub(r"\D", "", str(value))


def _capped_format(value: str, *args: Any, **kwargs: Any) -> str:
    """The `format` filter: `value % args`, or `value % kwargs` for %(name)s."""
    return _percent_format(str(value), kwargs or args)


def _percent_format(text: str, args: tuple | Mapping[str, Any]) -> str:
    """`text % args` that refuses widths and precisions over the cap before building anything."""
    if not isinstance(args, tuple):
        args = (args,) if not isinstance(args, Mapping) else args
    position = 0  # `*` takes the width or precision from the next argument
    for match in _PERCENT_SPEC.finditer(text):
        if match.group(3) == "%":
            continue
        for number in match.group(1, 2):
            if number == "*":
                number = args[position] if isinstance(args, tuple) and position < len(args) else 0
                position += 1
            if number is not None:
                _check_width(_spec_number(number) if isinstance(number, str) else number, "format")
        position += 1
    return _check_size(text % args, "format")


class _CappedFormatter(SandboxedFormatter):
    """str.format in the sandbox, refusing widths and precisions over the cap, counting what it builds."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.built = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        for digits in re.findall(r"\d+", format_spec):
            _check_width(_spec_number(digits), "format")
        text = super().format_field(value, format_spec)
        self.built += len(text)
        _check_count(self.built, "format")
        return text


def _capped_center(value: Any, width: int = 80) -> str:
    _check_width(width, "center")
    return str(value).center(width)


def _capped_wordwrap(
    environment: Any,
    value: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    text, joiner = str(value), wrapstring if wrapstring is not None else environment.newline_sequence
    # Each line holds at least one character, and every line break costs len(wrapstring).
    lines = len(text)
    if isinstance(width, int):
        lines = min(lines, 2 * len(text) // max(width, 1) + text.count("\n") + 1)
    _check_count(len(text) + lines * len(str(joiner)), "wordwrap")
    return _check_size(
        do_wordwrap(environment, text, width, break_long_words, wrapstring, break_on_hyphens), "wordwrap"
    )


def _capped_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    _check_width(linecount, "batch")
    return do_batch(value, linecount, fill_with)


def _capped_slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    _check_width(slices, "slice")
    return do_slice(value, slices, fill_with)


def _capped_tojson(eval_ctx: Any, value: Any, indent: Any = None) -> Any:
    # Every line of the JSON repeats the indent once per level: keep it small.
    if indent is not None and not (isinstance(indent, int) and 0 <= indent <= MAX_JSON_INDENT):
        raise ExpressionLimit(f"tojson indent must be a number from 0 to {MAX_JSON_INDENT}")
    return _check_size(do_tojson(eval_ctx, _check_size(value, "tojson"), indent), "tojson")


_capped_tojson.jinja_pass_arg = do_tojson.jinja_pass_arg  # type: ignore[attr-defined]
_capped_wordwrap.jinja_pass_arg = do_wordwrap.jinja_pass_arg  # type: ignore[attr-defined]


def _capped_replace(value: Any, old: str, new: str, count: int | None = None) -> Any:
    if _is_missing(value):
        return None
    text = str(value)
    growth = text.count(str(old)) * max(len(str(new)) - len(str(old)), 0) if old else len(text) * len(str(new))
    if len(text) + growth > MAX_VALUE_SIZE:
        raise ExpressionLimit(
            f"replace would build about {len(text) + growth:,} characters; the cap is {MAX_VALUE_SIZE:,}"
        )
    return text.replace(str(old), str(new), -1 if count is None else count)


_AMPLIFYING_STR_METHODS = {"center", "ljust", "rjust", "zfill"}


def _check_str_method(text: str, name: str, args: tuple) -> None:
    """Refuse a str method call that would build more than the cap, before it builds it."""
    if name in _AMPLIFYING_STR_METHODS:
        for arg in args:
            _check_width(arg, f"str.{name}")
    elif name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        _check_count(len(text) + text.count("\t") * max(size, 0), "str.expandtabs")
    elif name == "translate" and args and isinstance(args[0], Mapping):
        growth = sum(
            text.count(chr(k)) * (len(v) - 1)
            for k, v in args[0].items()
            if isinstance(k, int) and 0 <= k < 0x110000 and isinstance(v, str) and len(v) > 1
        )
        _check_count(len(text) + growth, "str.translate")


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, emitting native values, with caps on what an expression may build."""

    code_generator_class = NativeCodeGenerator
    intercepted_binops = frozenset(["*", "**", "%", "+"])
    undefined = ChainableUndefined
    concat = staticmethod(_capped_native_concat)

    def __init__(
        self, value_maps: Mapping[str, Any] | None = None, functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> None:
        super().__init__(autoescape=False, undefined=ChainableUndefined)
        self.value_maps = {name: ValueMap.from_document(raw) for name, raw in (value_maps or {}).items()}
        for name in _REMOVED_GLOBALS:
            self.globals.pop(name, None)
        self.globals.update(functions or {})
        # random: not repeatable; urlize: HTML, and its target/rel text is repeated for every link.
        for name in ("random", "urlize"):
            self.filters.pop(name, None)
        self.filters.update(
            {
                "value_map": self._value_map,
                "trim": _none_safe(lambda s, chars=None: s.strip(chars)),
                "lower": _none_safe(str.lower),
                "upper": _none_safe(str.upper),
                "title": _none_safe(str.title),
                "capitalize": _none_safe(str.capitalize),
                "to_number": _to_number,
                "digits": _digits,
                "join": lambda items, d="", attribute=None: _capped_join(
                    (self.getattr(x, attribute) for x in items) if attribute else items, d
                ),
                "format": _capped_format,
                "center": _capped_center,
                "replace": _capped_replace,
                "indent": self._capped_indent,
                "wordwrap": _capped_wordwrap,
                "batch": _capped_batch,
                "slice": _capped_slice,
                "sum": self._capped_sum,
                "tojson": _capped_tojson,
                "b64encode": _b64encode,
            }
        )
        for name, fn in list(self.filters.items()):
            if name not in _NON_GROWING_FILTERS:
                self.filters[name] = _capped_filter(fn, name)

    def _capped_indent(self, value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> str:
        from jinja2.filters import do_indent

        text = str(value)
        indention = width if isinstance(width, int) else len(str(width))
        _check_width(indention, "indent")
        # Every line gets the indent: 100,000 lines of 100,000 spaces is 10 GB.
        _check_count(len(text) + (text.count("\n") + 1) * max(indention, 0), "indent")
        return _check_size(do_indent(text, width, *args, **kwargs), "indent")

    def _capped_sum(self, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
        if attribute is not None:
            iterable = map(make_attrgetter(self, attribute), iterable)
        if not isinstance(start, (list, tuple)):
            total = start
            for item in iterable:  # numbers: each addition goes through the capped `+`
                total = self.call_binop(None, "+", total, item)
            return total
        # Lists: Python's sum copies the growing list at every item; build it once instead.
        joined = list(start)
        for item in iterable:
            if type(item) is not type(start):
                raise TypeError(f"can only sum {type(start).__name__}s onto a {type(start).__name__}")
            _check_count(len(joined) + len(item), "sum")
            joined.extend(item)
        return type(start)(joined)

    def _value_map(self, value: Any, name: str) -> Any:
        table = self.value_maps.get(name)
        if table is None:
            raise RecordError(f"there is no value map named '{name}' in this flow")
        return table.lookup(value, name)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Jinja hands back an undefined that only fails when printed; a native value of None would
        # hide the attempt. Fail the record instead.
        raise SecurityError(f"{type(obj).__name__}.{attribute}")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is None:
            return None
        text, is_map = str(value.__self__), value.__name__ == "format_map"

        def capped_format(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return _CappedFormatter(self).vformat(text, args, kwargs)

        return capped_format

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Records are plain dicts: look the key up first (fast, and `record.items` means the field).
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and times > 0:
                    # What the copies hold, not how many: [a] * n holds a n times.
                    _check_count(_weight(seq, MAX_VALUE_SIZE // times + 1) * times, "repetition")
            if isinstance(left, int) and isinstance(right, int):
                # Squaring a number in a loop doubles its digits each time.
                _check_bits(left.bit_length() + right.bit_length(), "multiplication")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                _check_bits(right * abs(left).bit_length(), f"{left} ** {right}")
        elif operator == "%" and isinstance(left, str):
            return _percent_format(left, right)
        elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _check_count(_weight(left) + _weight(right), "+")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(__obj, Macro):
            guard = __context.get("__guard")
            if guard is not None:
                guard.step()
                result = _check_size(super().call(__context, __obj, *args, **kwargs), name or "macro")
                guard.counted[id(result)] = result  # held, so its id stays its own until it is written
                return result
        if isinstance(owner, str):
            if name == "replace" and len(args) >= 2:
                return _capped_replace(owner, *args)
            if name == "join" and args:
                return _capped_join(args[0], owner)
            _check_str_method(owner, name, args)
        return _check_size(super().call(__context, __obj, *args, **kwargs), name or "call")


# --- compiling sources into one program per node --------------------------------------------------


def _parse_expression(env: SandboxEnvironment, source: str) -> nodes.Expr:
    parser = Parser(env, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        token = parser.stream.current
        raise TemplateSyntaxError(f"unexpected '{token.value}' after the expression", token.lineno)
    return expr


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Guarder(NodeTransformer):
    """Route loops, range() and ~ through the per-record guard; refuse what an expression may not use."""

    def __init__(self, env: SandboxEnvironment) -> None:
        self.env = env

    def visit_Name(self, node: nodes.Name) -> nodes.Name:
        if node.name.startswith(_RESERVED_PREFIX):
            raise TemplateSyntaxError(f"names starting with '{_RESERVED_PREFIX}' are reserved", node.lineno)
        if node.name == "range" and node.ctx == "load":
            return nodes.Name("__range", "load", lineno=node.lineno)
        if node.name in _REMOVED_GLOBALS and node.ctx == "load":
            raise TemplateSyntaxError(f"'{node.name}' is not available in expressions", node.lineno)
        return node

    def visit_Getattr(self, node: nodes.Getattr) -> nodes.Node:
        # record.__class__ and the like: the way out of every sandbox; no field is named so.
        if node.attr.startswith(_RESERVED_PREFIX):
            raise TemplateSyntaxError(f"attributes starting with '{_RESERVED_PREFIX}' are not allowed", node.lineno)
        return self.generic_visit(node)

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        # Jinja only finds an unknown filter inside {% if %} when a record reaches it: check now.
        if node.name not in self.env.filters:
            raise TemplateSyntaxError(
                f"there is no filter named '{node.name}'{_did_you_mean(node.name, self.env.filters)}", node.lineno
            )
        return self.generic_visit(node)

    def visit_Test(self, node: nodes.Test) -> nodes.Node:
        if node.name not in self.env.tests:
            raise TemplateSyntaxError(
                f"there is no test named '{node.name}'{_did_you_mean(node.name, self.env.tests)}", node.lineno
            )
        return self.generic_visit(node)

    def visit_Include(self, node: nodes.Node) -> nodes.Node:
        raise TemplateSyntaxError("an expression cannot include, import or extend other templates", node.lineno)

    visit_Import = visit_FromImport = visit_Extends = visit_Include

    def visit_For(self, node: nodes.For) -> nodes.For:
        node = self.generic_visit(node)
        node.iter = _call("__iterate", [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        node = self.generic_visit(node)
        return _call("__concat", node.nodes, node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Output:
        # Every piece a template writes (in loops, macros and {% set %} blocks too) is counted.
        node = self.generic_visit(node)
        node.nodes = [
            _call("__out", [nodes.Const(child.data) if isinstance(child, nodes.TemplateData) else child], child.lineno)
            for child in node.nodes
        ]
        return node

    def _weighed(self, node: nodes.Expr) -> nodes.Expr:
        node = self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # `{% for a, b in ... %}` assigns, it makes nothing
            return node
        return _call("__check", [node], node.lineno)

    visit_List = visit_Tuple = visit_Dict = _weighed


def _call(function: str, args: list[nodes.Expr], lineno: int | None) -> nodes.Call:
    return nodes.Call(nodes.Name("__" + function.lstrip("_"), "load"), args, [], None, None, lineno=lineno or 1)


def _unwrap(text: str) -> str:
    """Analysts sometimes wrap an expression in {{ }}; both forms mean the same."""
    match = _SINGLE_OUTPUT.match(text)
    if match and "{{" not in match.group("expr") and "}}" not in match.group("expr"):
        return match.group("expr")
    return text


def _guard_tree(tree: nodes.Node, env: SandboxEnvironment) -> nodes.Node:
    guarded = _Guarder(env).visit(tree)
    guarded.set_lineno(1)
    return guarded


def _template_as_expression(env: SandboxEnvironment, source: str) -> nodes.Expr | None:
    """Turn a template made only of text and {{ }} into one expression; None if it has statements."""
    match = _SINGLE_OUTPUT.match(source)
    if match and "{{" not in match.group("expr") and "}}" not in match.group("expr"):
        return _guard_tree(_parse_expression(env, match.group("expr")), env)
    body = env.parse(source).body
    if not all(isinstance(n, nodes.Output) for n in body):
        return None
    parts: list[nodes.Expr] = [child for out in body for child in out.nodes]
    if len(parts) == 1:  # one {{ }} the regex could not take apart, e.g. {{ '}}' }}: keep its type
        return nodes.Const(parts[0].data) if isinstance(parts[0], nodes.TemplateData) else _guard_tree(parts[0], env)
    texts = [nodes.Const(p.data) if isinstance(p, nodes.TemplateData) else _guard_tree(p, env) for p in parts]
    return _call("__concat", texts, 1)


@contextmanager
def _compiling(name: str) -> Iterator[None]:
    """Compile errors of one source as ExpressionCompileError naming it."""
    try:
        yield
    except TemplateSyntaxError as exc:
        raise ExpressionCompileError(f"{name}: {exc.message} (line {exc.lineno})") from None
    except TemplateError as exc:
        raise ExpressionCompileError(f"{name}: {exc}") from None
    except (RecursionError, SyntaxError):
        # Jinja's parser recurses about 15 frames per bracket, and Python refuses code nested 200
        # deep: ((((...)))) or 1+1+...+1 written a few hundred times. No real expression does that.
        raise ExpressionCompileError(f"{name}: the expression nests too deeply") from None


class Evaluation:
    """The result of a program on one record: values by name, or the reason it failed."""

    __slots__ = ("values", "error")

    def __init__(self, values: dict[str, Any] | None, error: str | None = None) -> None:
        self.values = values
        self.error = error


_SCALARS = frozenset({int, float, bool, type(None)})


# Compiled code of recent programs. Compiling a node's expressions costs about 2 ms, more than a
# webhook's three records take to run; the code depends only on the sources and the names of the
# environment's filters and tests (everything else is looked up when it runs), so runs share it.
_compiled_code: OrderedDict[tuple, tuple[Any, dict[str, Any]]] = OrderedDict()
_compiled_lock = threading.Lock()
COMPILED_KEPT = 512


def _code_key(env: SandboxEnvironment, sources: list[Source]) -> tuple:
    return (
        type(env),
        frozenset(env.filters),
        frozenset(env.tests),
        tuple((source.name, source.kind, source.text) for source in sources),
    )


def _keep_code(key: tuple, code: tuple[Any, dict[str, Any]]) -> None:
    with _compiled_lock:
        _compiled_code[key] = code
        while len(_compiled_code) > COMPILED_KEPT:
            _compiled_code.popitem(last=False)


def _from_code(env: SandboxEnvironment, code: Any) -> Any:
    return env.template_class.from_code(env, code, env.make_globals(None), None)


class ExpressionProgram:
    """Every expression of one node, compiled once, evaluated a batch at a time."""

    def __init__(self, env: SandboxEnvironment, sources: Iterable[Source]) -> None:
        self._env = env
        self._sources = list(sources)
        self._singles: list[ExpressionProgram] | None = None  # built when a record fails, to name the source
        key = _code_key(env, self._sources)
        compiled = _compiled_code.get(key)
        if compiled is not None:  # the same expressions compiled before (an earlier run of the flow)
            batch, statements = compiled
            self._batch_template = _from_code(env, batch)
            self._statement_templates = {name: _from_code(env, code) for name, code in statements.items()}
            return
        self._compile(env)
        _keep_code(key, (self._batch_code, self._statement_codes))

    def _compile(self, env: SandboxEnvironment) -> None:
        pairs: list[nodes.Pair] = []
        self._statement_templates: dict[str, Any] = {}
        self._statement_codes: dict[str, Any] = {}
        for source in self._sources:
            with _compiling(source.name):
                if len(source.text) > MAX_SOURCE_LENGTH:
                    raise ExpressionCompileError(
                        f"{source.name}: {len(source.text):,} characters is too long; the cap is {MAX_SOURCE_LENGTH:,}"
                    )
                expr = (
                    _guard_tree(_parse_expression(env, _unwrap(source.text)), env)
                    if source.kind == "expression"
                    else _template_as_expression(env, source.text)
                )
                if expr is None:  # a template with {% %} statements: rendered on its own
                    code = env.compile(_guard_tree(env.parse(source.text), env))
                    self._statement_codes[source.name] = code
                    self._statement_templates[source.name] = _from_code(env, code)
                    continue
                pairs.append(nodes.Pair(nodes.Const(source.name), expr))
        # The tuple with `record` keeps the output from being constant-folded into a string.
        output = nodes.Output([nodes.Tuple([nodes.Dict(pairs), nodes.Name("record", "load")], "load")])
        loop = nodes.For(nodes.Name("record", "store"), nodes.Name("__records", "load"), [output], [], None, False)
        template = nodes.Template([loop], lineno=1)
        template.set_environment(env)
        template.set_lineno(1)
        try:
            with _compiling(self._sources[0].name if self._sources else "expression"):
                self._batch_code = env.compile(template)
                self._batch_template = _from_code(env, self._batch_code)
        except ExpressionCompileError:
            # Found while generating code, after every source parsed: find the one it belongs to.
            for source in self._sources if len(self._sources) > 1 else ():
                ExpressionProgram(env, [source])
            raise

    @property
    def sources(self) -> list[Source]:
        return self._sources

    def evaluate(self, records: list[dict[str, Any]], names: Mapping[str, Any]) -> list[Evaluation]:
        """Evaluate every source on every record; one Evaluation per record, in order."""
        results: list[Evaluation] = []
        start = 0
        while start < len(records):
            guard = _Guard()
            try:
                for values, _record in self._render(records, start, guard, names):
                    results.append(self._finish(values, records[len(results)], guard, names))
                break
            except Exception as exc:  # one record broke: record why, go on after it
                results.append(Evaluation(None, self._explain(records[len(results)], names, exc)))
            start = len(results)
        return results

    def _render(
        self, records: list[dict[str, Any]], start: int, guard: _Guard, names: Mapping[str, Any]
    ) -> Iterator[tuple[dict[str, Any], Any]]:
        def fresh_budget_per_record() -> Iterator[dict[str, Any]]:
            for index in range(start, len(records)):
                guard.reset()
                yield records[index]

        context = self._batch_template.new_context(
            {
                **names,
                "__records": fresh_budget_per_record(),
                "__iterate": guard.iterate,
                "__range": guard.range,
                "__concat": guard.concat,
                "__check": guard.check,
                "__out": guard.out,
                "__guard": guard,
            }
        )
        return self._batch_template.root_render_func(context)

    def _finish(
        self, values: dict[str, Any], record: dict[str, Any], guard: _Guard, names: Mapping[str, Any]
    ) -> Evaluation:
        for key, value in values.items():
            kind = type(value)
            if kind in _SCALARS:
                continue  # the common case, kept cheap
            if kind is str:
                if len(value) > MAX_VALUE_SIZE:
                    _check_size(value, key)
            elif isinstance(value, Undefined):
                values[key] = None
            elif callable(value):  # `record.items` on a record without that field: a method, not a value
                raise RecordError(f"'{key}' is a function, not a value; call it or name a field")
            else:
                _check_size(value, key)
        for name, template in self._statement_templates.items():
            guard.reset()
            values[name] = self._render_statements(template, record, guard, names)
        return Evaluation(values)

    def _render_statements(self, template: Any, record: dict[str, Any], guard: _Guard, names: Mapping[str, Any]) -> str:
        context = template.new_context(
            {
                **names,
                "record": record,
                "__iterate": guard.iterate,
                "__range": guard.range,
                "__concat": guard.concat,
                "__check": guard.check,
                "__out": guard.out,
                "__guard": guard,
            }
        )
        return _capped_join("" if _is_missing(part) else part for part in template.root_render_func(context))

    def _explain(self, record: dict[str, Any], names: Mapping[str, Any], exc: Exception) -> str:
        """Find which source failed on this record, for a reason that names it."""
        if self._singles is None:  # compiled once: a batch where every record fails stays fast
            self._singles = [ExpressionProgram(self._env, [source]) for source in self._sources]
        for source, single in zip(self._sources, self._singles):
            try:
                single._evaluate_one(record, names)
            except Exception as inner:  # the failing source: name it
                return f"{source.kind} '{source.name}' failed: {describe_error(inner)}"
        return f"expression failed: {describe_error(exc)}"

    def _evaluate_one(self, record: dict[str, Any], names: Mapping[str, Any]) -> dict[str, Any]:
        guard = _Guard()
        for values, _ in self._render([record], 0, guard, names):
            return self._finish(values, record, guard, names).values or {}
        return {}


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a record's failure, without Python internals."""
    if isinstance(exc, (RecordError, ExpressionLimit)):
        return str(exc)
    if isinstance(exc, SecurityError):
        return f"not allowed in an expression: {exc}"
    if isinstance(exc, UndefinedError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "expression nests too deeply"
    if isinstance(exc, TemplateError):
        return exc.message or type(exc).__name__
    if isinstance(exc, (TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError)):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def compile_check(source: str, kind: str) -> str | None:
    """Compile one source on its own; the error message, or None when it compiles."""
    try:
        ExpressionProgram(SandboxEnvironment(), [Source("value", source, kind)])
    except ExpressionCompileError as exc:
        return str(exc).split(": ", 1)[1]
    return None
