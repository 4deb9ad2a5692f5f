"""Validating a flow document: its schema, each node's config, its expressions and its graph.

Every problem names its place (node id and JSON path) and says what is wrong in a sentence, with a
"did you mean" where a name is probably misspelt. Validation never raises on a bad document.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

import nodes
from app.engine.expressions import ExpressionCompileError, ExpressionProgram, SandboxEnvironment
from app.problems import Problem, json_path
from nodes.base import NodeType, Source, find_expressions

FLOW_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "flows" / "flow.schema.json"
# Validation compiles every expression: these bound the work one document can ask for. Drawn
# flows have tens of nodes; a 5 MB document could otherwise hold 50,000 and take minutes.
MAX_NODES = 1_000
MAX_EDGES = 5_000
MAX_EXPRESSIONS = 5_000
MAX_NODE_SUGGESTIONS = 20  # "did you mean" compares with every node id: not for 5,000 broken edges


@cache
def flow_schema() -> dict[str, Any]:
    return json.loads(FLOW_SCHEMA_PATH.read_text())


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    # JSON Schema patterns are ECMA-262, where a final `$` is the end of the text; Python's `$` also
    # matches before a trailing newline, which would let the node id "keep\n" through.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    if validator.is_type(instance, "string") and not re.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_FlowValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})


@cache
def _validator(schema_json: str) -> Draft202012Validator:
    return _FlowValidator(json.loads(schema_json))


def _config_validator(node_type: NodeType) -> Draft202012Validator:
    return _validator(json.dumps(node_type.config_schema, sort_keys=True))


def suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _json_text(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it (JSON), cut short: a 4 MB string must not become a 4 MB message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if isinstance(value, str):  # quoted like the other messages: 'merge', not "merge"
        text = f"'{text[1:-1]}'"
    return text if len(text) <= limit else text[:limit] + "…"


_KINDS = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _schema_message(error: ValidationError) -> str:
    """jsonschema's messages, made readable where they are not."""
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        names = ", ".join(f"{_json_text(e)}{suggest(e, allowed)}" for e in extra[:5])
        more = f" and {len(extra) - 5:,} more" if len(extra) > 5 else ""
        return f"unknown field{'s' if len(extra) > 1 else ''} {names}{more}; allowed: {', '.join(allowed) or 'none'}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "const":
        return f"expected {_json_text(error.validator_value)}, not {_json_text(error.instance)}"
    if error.validator == "enum":
        options = [str(o) for o in error.validator_value]
        hint = suggest(error.instance, options) if isinstance(error.instance, str) else ""
        return f"{_json_text(error.instance)} is not one of {', '.join(options)}{hint}"
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"must be {' or '.join(_KINDS.get(k, k) for k in kinds)}, not {_json_text(error.instance)}"
    if error.validator == "pattern" and error.schema.get("description"):
        return f"{_json_text(error.instance)} is not allowed: {error.schema['description']}"
    if error.validator is None:  # a `false` schema: this field may not be here at all
        return f"{_json_text(error.instance)} is not allowed here"
    # Other messages quote the value with repr(): shorten it.
    return error.message.replace(repr(error.instance), _json_text(error.instance))


def _explain(error: ValidationError) -> list[tuple[tuple, str]]:
    """One schema error as (path, sentence) pairs; a oneOf/anyOf explained by its closest branch."""
    if error.validator not in ("oneOf", "anyOf"):
        return [(tuple(error.absolute_path), _schema_message(error))]
    path = tuple(error.absolute_path)
    branches_schema = error.validator_value
    if isinstance(error.instance, dict) and all(set(b) == {"required"} for b in branches_schema):
        options = [", ".join(b["required"]) for b in branches_schema]
        return [(path, f"set exactly one of: {' or '.join(options)}")]
    if not error.context:  # valid under more than one branch
        return [(path, f"{_json_text(error.instance)} fits more than one of the allowed forms")]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    failures = list(branches.values())
    # Every branch wants another constant for the same field (a transform step's `op`): name the field.
    consts = [next((e for e in errors if e.validator == "const"), None) for errors in failures]
    if all(consts) and len({tuple(e.relative_path) for e in consts}) == 1:
        key_path = tuple(consts[0].absolute_path)
        options = [str(e.validator_value) for e in consts]
        value = consts[0].instance
        hint = suggest(value, options) if isinstance(value, str) else ""
        field = key_path[-1] if key_path else "value"
        return [(key_path, f"{_json_text(value)} is not a known {field}{hint}; choose one of: {', '.join(options)}")]
    if all(len(errors) == 1 and errors[0].validator == "type" and not errors[0].relative_path for errors in failures):
        kinds = list(
            dict.fromkeys(
                k
                for errors in failures
                for k in (
                    errors[0].validator_value
                    if isinstance(errors[0].validator_value, list)
                    else [errors[0].validator_value]
                )
            )
        )
        return [(path, f"must be {' or '.join(_KINDS.get(k, k) for k in kinds)}, not {_json_text(error.instance)}")]

    def distance(errors: list[ValidationError]) -> tuple[int, int]:
        # A wrong type, a wrong constant or a forbidden field near the top means "another branch";
        # among the rest, the branch with the fewest errors is the one the user meant.
        wrong_kind = sum(1 for e in errors if e.validator in ("type", "const", None) and len(e.relative_path) <= 1)
        return wrong_kind, len(errors)

    closest = min(failures, key=distance)
    return [place for sub in closest for place in _explain(sub)]


def _schema_problems(
    validator: Draft202012Validator, instance: Any, prefix: tuple, node_id: str | None = None
) -> list[Problem]:
    places: list[tuple[tuple, str]] = []
    for error in validator.iter_errors(instance):
        places += _explain(error)
    unique = dict.fromkeys(((*prefix, *path), message) for path, message in places)
    return [
        Problem(message, json_path(path), node_id, code="schema")
        for path, message in sorted(unique, key=lambda place: [str(p) for p in place[0]])
    ]


_checked: OrderedDict[str, list[Problem]] = OrderedDict()  # document text -> its problems (recent ones)
_checked_lock = threading.Lock()
CHECKED_KEPT = 64


def validate_document(document: Any, types: Mapping[str, NodeType] | None = None) -> list[Problem]:
    """Every problem of a parsed document; an empty list means it can run. `types`: the node types
    it may use, by name (default: the registry of nodes/; a test brings its own).

    Against the registry the answer depends on the document alone, so the last few are kept: a
    webhook flow validated for each of its runs is checked once (with its expressions compiled),
    not 200 times in a burst."""
    registry = nodes.registry()
    if types is not None and types is not registry:
        return _validate(document, types)
    types = registry
    try:
        key = json.dumps(document, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # not plain JSON (a test's odd object): check it every time
        return _validate(document, types)
    if len(key) > 1_000_000:  # a huge document: don't keep its text around
        return _validate(document, types)
    with _checked_lock:
        if key in _checked:
            _checked.move_to_end(key)
            return list(_checked[key])
    problems = _validate(document, types)
    with _checked_lock:
        _checked[key] = list(problems)
        while len(_checked) > CHECKED_KEPT:
            _checked.popitem(last=False)
    return problems


def _validate(document: Any, types: Mapping[str, NodeType]) -> list[Problem]:
    if not isinstance(document, dict):
        return [Problem("a flow document is a JSON object", code="not_an_object")]
    raw_nodes = document.get("nodes") if isinstance(document.get("nodes"), list) else []
    raw_edges = document.get("edges") if isinstance(document.get("edges"), list) else []
    if len(raw_nodes) > MAX_NODES:
        # Each node is schema-checked and compiled: bound the work one document can ask for.
        return [
            Problem(
                f"the flow has {len(raw_nodes):,} nodes; a flow may have at most {MAX_NODES:,}",
                "$.nodes",
                code="too_many_nodes",
            )
        ]
    if len(raw_edges) > MAX_EDGES:
        return [
            Problem(
                f"the flow has {len(raw_edges):,} edges; a flow may have at most {MAX_EDGES:,}",
                "$.edges",
                code="too_many_edges",
            )
        ]
    problems = _schema_problems(_validator(json.dumps(flow_schema())), document, ())
    node_types: dict[str, NodeType] = {}
    seen_ids: set[str] = set()
    value_maps = document.get("value_maps") if isinstance(document.get("value_maps"), dict) else {}
    env = SandboxEnvironment(value_maps={k: v for k, v in value_maps.items() if isinstance(v, dict)})
    expressions = 0
    for index, node in enumerate(raw_nodes):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        node_id, place = node["id"], ("nodes", index)
        if node_id in seen_ids:
            problems.append(
                Problem(
                    f"node id '{node_id}' is used more than once",
                    json_path((*place, "id")),
                    node_id,
                    code="duplicate_node_id",
                )
            )
            continue
        seen_ids.add(node_id)
        node_type = types.get(node["type"]) if isinstance(node.get("type"), str) else None
        if node_type is None:
            if isinstance(node.get("type"), str):
                known = sorted(types)
                problems.append(
                    Problem(
                        f"unknown node type '{node['type']}'{suggest(node['type'], known)}",
                        json_path((*place, "type")),
                        node_id,
                        code="unknown_node_type",
                    )
                )
            continue
        node_types[node_id] = node_type
        node_problems, count = _node_problems(
            node_type, node.get("config", {}), place, node_id, env, MAX_EXPRESSIONS - expressions
        )
        problems += node_problems
        expressions += count
    # Without both lists every graph rule would fire at once; the schema problem says what is wrong.
    if isinstance(document.get("nodes"), list) and isinstance(document.get("edges"), list):
        problems += _graph_problems(raw_nodes, raw_edges, node_types)
    return problems


def _node_problems(
    node_type: NodeType, config: Any, place: tuple, node_id: str, env: SandboxEnvironment, room: int
) -> tuple[list[Problem], int]:
    """The problems of one node's config, and how many expressions it holds."""
    prefix = (*place, "config")
    if not isinstance(config, dict):
        return [], 0  # the flow schema already said config must be an object
    problems = _schema_problems(_config_validator(node_type), config, prefix, node_id)
    if problems:
        return problems, 0
    for path, message in node_type.check(config):
        problems.append(Problem(message, json_path((*prefix, *path)), node_id, code="node_check"))
    found = find_expressions(node_type.config_schema, config)
    if len(found) > room:
        problems.append(
            Problem(
                f"the flow holds more than {MAX_EXPRESSIONS:,} expressions and templates; split it into several flows",
                json_path(prefix),
                node_id,
                code="too_many_expressions",
            )
        )
        return problems, len(found)
    # One program for the whole node compiles in one go; only when it fails, look for the culprits.
    try:
        ExpressionProgram(env, [Source(f.name, f.text, f.kind) for f in found])
        return problems, len(found)
    except ExpressionCompileError:
        pass
    for field in found:
        try:
            ExpressionProgram(env, [Source(field.name, field.text, field.kind)])
        except ExpressionCompileError as error:
            message = str(error).split(": ", 1)[-1]
            problems.append(
                Problem(
                    f"{field.kind} does not compile: {message}",
                    json_path((*prefix, *field.path)),
                    node_id,
                    code="expression_does_not_compile",
                )
            )
    return problems, len(found)


def default_port(node_type: NodeType) -> str | None:
    return node_type.outputs[0] if node_type.outputs else None


def _graph_problems(raw_nodes: list, raw_edges: list, node_types: dict[str, NodeType]) -> list[Problem]:
    problems: list[Problem] = []
    graph = nx.MultiDiGraph()
    known_ids = list(dict.fromkeys(n["id"] for n in raw_nodes if isinstance(n, dict) and isinstance(n.get("id"), str)))
    # Nodes of an unknown type stay in the graph: what they connect is still connected.
    graph.add_nodes_from(known_ids)
    unchecked: set[str] = set()  # nodes with an edge whose port could not be checked
    seen_edges: set[tuple] = set()
    missing = 0
    for index, edge in enumerate(raw_edges):
        if not isinstance(edge, dict) or not isinstance(edge.get("from"), str) or not isinstance(edge.get("to"), str):
            continue
        place = ("edges", index)
        source, target = edge["from"], edge["to"]
        bad = False
        for end, name, other in (("from", source, target), ("to", target, source)):
            if name not in graph:
                missing += 1
                hint = suggest(name, known_ids) if missing <= MAX_NODE_SUGGESTIONS else ""
                # The problem belongs to the node the edge hangs from, not to the one that isn't there.
                problems.append(
                    Problem(
                        f"edge {end} '{name}': there is no such node{hint}",
                        json_path((*place, end)),
                        other if other in graph else None,
                        code="edge_to_unknown_node",
                    )
                )
                bad = True
        if bad:
            continue
        if source not in node_types or target not in node_types:
            # An unknown node type, already reported: keep the edge so its neighbours count as connected.
            graph.add_edge(source, target, port=None, index=index)
            unchecked.add(source)
            continue
        source_type, target_type = node_types[source], node_types[target]
        port = edge.get("port") or default_port(source_type)
        if not source_type.outputs:
            problems.append(
                Problem(
                    f"'{source}' ({source_type.type}) has no output to connect",
                    json_path(place),
                    source,
                    code="no_output",
                )
            )
            continue
        if port not in source_type.outputs:
            problems.append(
                Problem(
                    f"'{source}' ({source_type.type}) has no output port '{port}'"
                    f"{suggest(str(port), list(source_type.outputs))}; its ports: "
                    f"{', '.join(source_type.outputs)}",
                    json_path((*place, "port")),
                    source,
                    code="unknown_port",
                )
            )
            # The target is connected all the same: don't also say it has no input.
            graph.add_edge(source, target, port=None, index=index)
            unchecked.add(source)
            continue
        if not target_type.inputs:
            problems.append(
                Problem(
                    f"'{target}' is a trigger; nothing can flow into it",
                    json_path((*place, "to")),
                    target,
                    code="edge_into_trigger",
                )
            )
            continue
        if (source, port, target) in seen_edges:
            problems.append(
                Problem(
                    f"the edge {source}.{port} -> {target} is there twice",
                    json_path(place),
                    source,
                    code="duplicate_edge",
                )
            )
            continue
        seen_edges.add((source, port, target))
        graph.add_edge(source, target, port=port, index=index)
    problems += _cycle_problems(graph)
    problems += _reachability_problems(graph, node_types, raw_nodes, unchecked)
    return problems


def _cycle_problems(graph: nx.MultiDiGraph) -> list[Problem]:
    problems = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1 and not graph.has_edge(next(iter(component)), next(iter(component))):
            continue
        cycle = nx.find_cycle(graph.subgraph(component))
        names = [edge[0] for edge in cycle] + [cycle[0][0]]
        closing = graph.edges[cycle[-1]]["index"]  # the edge that closes the loop
        problems.append(
            Problem(
                f"the flow has a cycle: {' -> '.join(names)}; records would go round forever",
                json_path(("edges", closing)),
                names[0],
                code="cycle",
            )
        )
    return problems


def _reachability_problems(
    graph: nx.MultiDiGraph, node_types: dict[str, NodeType], raw_nodes: list, unchecked: set[str]
) -> list[Problem]:
    problems = []
    paths: dict[str, str] = {}
    for i, n in enumerate(raw_nodes):
        if isinstance(n, dict) and isinstance(n.get("id"), str):
            paths.setdefault(n["id"], json_path(("nodes", i)))
    triggers = [n for n, t in node_types.items() if t.is_trigger]
    if not triggers:
        problems.append(
            Problem("the flow has no trigger; add one (manual, schedule or webhook)", "$.nodes", code="no_trigger")
        )
    elif len(triggers) > 1:
        problems.append(
            Problem(
                f"the flow has {len(triggers)} triggers ({', '.join(triggers)}); it needs exactly one",
                paths[triggers[1]],
                triggers[1],
                code="several_triggers",
            )
        )
    reachable = set(triggers[:1]) | (nx.descendants(graph, triggers[0]) if triggers else set())
    for node_id, node_type in node_types.items():
        if node_type.is_trigger:
            continue
        if graph.in_degree(node_id) == 0:
            what = "write node" if node_type.family == "write" else "node"
            problems.append(
                Problem(
                    f"{what} '{node_id}' has no input; connect something to it",
                    paths[node_id],
                    node_id,
                    code="no_input",
                )
            )
        elif triggers and node_id not in reachable:
            problems.append(
                Problem(
                    f"node '{node_id}' cannot be reached from the trigger '{triggers[0]}'",
                    paths[node_id],
                    node_id,
                    code="unreachable",
                )
            )
        if node_id in unchecked:
            continue
        connected = {data["port"] for _, _, data in graph.out_edges(node_id, data=True)}
        for port in node_type.outputs:
            if port not in connected and port not in node_type.discard_ports:
                problems.append(
                    Problem(
                        f"records leaving '{node_id}' by port '{port}' would go nowhere; connect it to a node",
                        paths[node_id],
                        node_id,
                        code="open_port",
                    )
                )
    return problems


def flow_graph(document: dict[str, Any], types: Mapping[str, NodeType] | None = None) -> nx.MultiDiGraph:
    """The graph of a valid document, edges labelled with their port."""
    types = nodes.registry() if types is None else types
    graph = nx.MultiDiGraph()
    for node in document["nodes"]:
        graph.add_node(node["id"])
    for edge in document["edges"]:
        port = edge.get("port") or default_port(types[_type_of(document, edge["from"])])
        graph.add_edge(edge["from"], edge["to"], port=port)
    return graph


def _type_of(document: dict[str, Any], node_id: str) -> str:
    return next(n["type"] for n in document["nodes"] if n["id"] == node_id)
