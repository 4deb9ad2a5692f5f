"""Compiling a node's sources into one program, kept in a bounded cache, evaluated a batch at a time."""

from __future__ import annotations

import difflib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import Undefined
from jinja2.visitor import NodeTransformer

from app.engine.expressions.caps import _capped_join, _check_size, _Guard
from app.engine.expressions.environment import SandboxEnvironment
from app.engine.expressions.limits import (
    _REMOVED_GLOBALS,
    _RESERVED_PREFIX,
    _SCALARS,
    _SINGLE_OUTPUT,
    MAX_SOURCE_LENGTH,
    MAX_VALUE_SIZE,
    ExpressionCompileError,
)
from app.engine.expressions.value_maps import _is_missing
from app.errors import ExpressionLimit, RecordError
from nodes.base import Source

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
