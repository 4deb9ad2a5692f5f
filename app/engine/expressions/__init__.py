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

The package: limits.py (the caps' sizes, the compile error), value_maps.py, caps.py (weighing and
capping what an expression builds), environment.py (the sandbox and its filters), program.py
(compiling a node's sources into one program, the compiled-code cache, evaluation).
"""

from app.engine.expressions.environment import SandboxEnvironment  # noqa: F401
from app.engine.expressions.limits import (  # noqa: F401
    MAX_JSON_INDENT,
    MAX_LOOP_STEPS,
    MAX_NUMBER_BITS,
    MAX_SOURCE_LENGTH,
    MAX_VALUE_SIZE,
    ExpressionCompileError,
)
from app.engine.expressions.program import COMPILED_KEPT, Evaluation, ExpressionProgram, compile_check, describe_error  # noqa: F401
from app.engine.expressions.value_maps import ValueMap  # noqa: F401
