"""The sandboxed Jinja2 environment: the project's filters, each capped, and Python internals refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import ChainableUndefined
from jinja2.exceptions import SecurityError
from jinja2.filters import do_batch, do_slice, do_tojson, do_wordwrap, make_attrgetter
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.runtime import Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

from app.engine.expressions.caps import (
    _NON_GROWING_FILTERS,
    _PERCENT_SPEC,
    _capped_filter,
    _capped_join,
    _capped_native_concat,
    _check_bits,
    _check_count,
    _check_size,
    _check_width,
    _spec_number,
    _weight,
)
from app.engine.expressions.limits import _REMOVED_GLOBALS, MAX_JSON_INDENT, MAX_VALUE_SIZE
from app.engine.expressions.value_maps import ValueMap, _is_missing
from app.errors import ExpressionLimit, RecordError

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
