"""Validating a flow document: its schema, each node's config, its expressions and its graph.

Every problem names its place (node id and JSON path) and says what is wrong in a sentence, with a
"did you mean" where a name is probably misspelt. Validation never raises on a bad document.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

import nodes
from app.engine.expressions import ExpressionCompileError, ExpressionProgram, SandboxEnvironment
from app.engine.problems import Problem, json_path
from nodes.base import NodeType, Source, find_expressions

FLOW_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "flows" / "flow.schema.json"


@cache
def flow_schema() -> dict[str, Any]:
    return json.loads(FLOW_SCHEMA_PATH.read_text())


@cache
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _config_validator(node_type: NodeType) -> Draft202012Validator:
    return _validator(json.dumps(node_type.config_schema, sort_keys=True))


def suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _schema_message(error: ValidationError) -> str:
    """jsonschema's messages, made readable where they are not."""
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = sorted(error.schema.get("properties", {}))
        hints = "".join(suggest(e, allowed) for e in extra[:1])
        return f"unknown field(s) {', '.join(extra)}{hints}; allowed: {', '.join(allowed)}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        options = [", ".join(s.get("required", [])) for s in error.schema.get("oneOf", []) if s.get("required")]
        if options:
            return f"set exactly one of: {' or '.join(options)}"
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.relative_path)) * -1)
        return _schema_message(best)
    return error.message


def _schema_problems(validator: Draft202012Validator, instance: Any, prefix: tuple,
                     node_id: str | None = None) -> list[Problem]:
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        path = (*prefix, *error.absolute_path)
        problems.append(Problem(_schema_message(error), json_path(path), node_id))
    return problems


def validate_document(document: Any) -> list[Problem]:
    """Every problem of a parsed document; an empty list means it can run."""
    if not isinstance(document, dict):
        return [Problem("a flow document is a JSON object")]
    problems = _schema_problems(_validator(json.dumps(flow_schema())), document, ())
    raw_nodes = document.get("nodes") if isinstance(document.get("nodes"), list) else []
    raw_edges = document.get("edges") if isinstance(document.get("edges"), list) else []
    node_types: dict[str, NodeType] = {}
    value_maps = document.get("value_maps") if isinstance(document.get("value_maps"), dict) else {}
    env = SandboxEnvironment(value_maps={k: v for k, v in value_maps.items() if isinstance(v, dict)})
    for index, node in enumerate(raw_nodes):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        node_id, place = node["id"], ("nodes", index)
        if node_id in node_types or any(
                isinstance(n, dict) and n.get("id") == node_id for n in raw_nodes[:index]):
            problems.append(Problem(f"node id '{node_id}' is used more than once", json_path((*place, "id")), node_id))
            continue
        node_type = nodes.get(node.get("type")) if isinstance(node.get("type"), str) else None
        if node_type is None:
            if isinstance(node.get("type"), str):
                known = sorted(nodes.registry())
                problems.append(Problem(f"unknown node type '{node['type']}'{suggest(node['type'], known)}",
                                        json_path((*place, "type")), node_id))
            continue
        node_types[node_id] = node_type
        problems += _node_problems(node_type, node.get("config", {}), place, node_id, env)
    problems += _graph_problems(raw_nodes, raw_edges, node_types)
    return problems


def _node_problems(node_type: NodeType, config: Any, place: tuple, node_id: str,
                   env: SandboxEnvironment) -> list[Problem]:
    prefix = (*place, "config")
    if not isinstance(config, dict):
        return []  # the flow schema already said config must be an object
    problems = _schema_problems(_config_validator(node_type), config, prefix, node_id)
    if problems:
        return problems
    for path, message in node_type.check(config):
        problems.append(Problem(message, json_path((*prefix, *path)), node_id))
    for found in find_expressions(node_type.config_schema, config):
        try:
            ExpressionProgram(env, [Source(found.name, found.text, found.kind)])
        except ExpressionCompileError as error:
            message = str(error).split(": ", 1)[-1]
            problems.append(Problem(f"{found.kind} does not compile: {message}",
                                    json_path((*prefix, *found.path)), node_id))
    return problems


def default_port(node_type: NodeType) -> str | None:
    return node_type.outputs[0] if node_type.outputs else None


def _graph_problems(raw_nodes: list, raw_edges: list, node_types: dict[str, NodeType]) -> list[Problem]:
    problems: list[Problem] = []
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(node_types)
    known_ids = [n["id"] for n in raw_nodes if isinstance(n, dict) and isinstance(n.get("id"), str)]
    seen_edges: set[tuple] = set()
    for index, edge in enumerate(raw_edges):
        if not isinstance(edge, dict) or not isinstance(edge.get("from"), str) or not isinstance(edge.get("to"), str):
            continue
        place = ("edges", index)
        source, target = edge["from"], edge["to"]
        bad = False
        for end, name in (("from", source), ("to", target)):
            if name not in known_ids:
                problems.append(Problem(f"edge {end} '{name}': there is no such node{suggest(name, known_ids)}",
                                        json_path((*place, end)), name))
                bad = True
        if bad or source not in node_types or target not in node_types:
            continue
        source_type, target_type = node_types[source], node_types[target]
        port = edge.get("port") or default_port(source_type)
        if not source_type.outputs:
            problems.append(Problem(f"'{source}' ({source_type.type}) has no output to connect",
                                    json_path(place), source))
            continue
        if port not in source_type.outputs:
            problems.append(Problem(f"'{source}' ({source_type.type}) has no output port '{port}'"
                                    f"{suggest(port, list(source_type.outputs))}; its ports: "
                                    f"{', '.join(source_type.outputs)}", json_path((*place, "port")), source))
            continue
        if not target_type.inputs:
            problems.append(Problem(f"'{target}' is a trigger; nothing can flow into it", json_path((*place, "to")),
                                    target))
            continue
        if (source, port, target) in seen_edges:
            problems.append(Problem(f"the edge {source}.{port} -> {target} is there twice", json_path(place), source))
            continue
        seen_edges.add((source, port, target))
        graph.add_edge(source, target, port=port)
    problems += _cycle_problems(graph)
    problems += _reachability_problems(graph, node_types, raw_nodes)
    return problems


def _cycle_problems(graph: nx.MultiDiGraph) -> list[Problem]:
    problems = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1 and not graph.has_edge(next(iter(component)), next(iter(component))):
            continue
        cycle = nx.find_cycle(graph.subgraph(component))
        names = [edge[0] for edge in cycle] + [cycle[0][0]]
        problems.append(Problem(f"the flow has a cycle: {' -> '.join(names)}; records would go round forever",
                                "$.edges", names[0]))
    return problems


def _reachability_problems(graph: nx.MultiDiGraph, node_types: dict[str, NodeType], raw_nodes: list) -> list[Problem]:
    problems = []
    paths = {n["id"]: json_path(("nodes", i)) for i, n in enumerate(raw_nodes)
             if isinstance(n, dict) and isinstance(n.get("id"), str)}
    triggers = [n for n, t in node_types.items() if t.is_trigger]
    if not triggers:
        problems.append(Problem("the flow has no trigger; add one (manual, schedule or webhook)", "$.nodes"))
    elif len(triggers) > 1:
        problems.append(Problem(f"the flow has {len(triggers)} triggers ({', '.join(triggers)}); it needs exactly one",
                                "$.nodes", triggers[1]))
    reachable = set(triggers[:1]) | (nx.descendants(graph, triggers[0]) if triggers else set())
    for node_id, node_type in node_types.items():
        if node_type.is_trigger:
            continue
        if graph.in_degree(node_id) == 0:
            what = "write node" if node_type.family == "write" else "node"
            problems.append(Problem(f"{what} '{node_id}' has no input; connect something to it", paths[node_id], node_id))
        elif triggers and node_id not in reachable:
            problems.append(Problem(f"node '{node_id}' cannot be reached from the trigger '{triggers[0]}'",
                                    paths[node_id], node_id))
        connected = {data["port"] for _, _, data in graph.out_edges(node_id, data=True)}
        for port in node_type.outputs:
            if port not in connected and port not in node_type.discard_ports:
                problems.append(Problem(f"records leaving '{node_id}' by port '{port}' would go nowhere; "
                                        "connect it to a node", paths[node_id], node_id))
    return problems


def flow_graph(document: dict[str, Any]) -> nx.MultiDiGraph:
    """The graph of a valid document, edges labelled with their port."""
    graph = nx.MultiDiGraph()
    for node in document["nodes"]:
        graph.add_node(node["id"])
    for edge in document["edges"]:
        port = edge.get("port") or default_port(nodes.get(_type_of(document, edge["from"])))
        graph.add_edge(edge["from"], edge["to"], port=port)
    return graph


def _type_of(document: dict[str, Any], node_id: str) -> str:
    return next(n["type"] for n in document["nodes"] if n["id"] == node_id)
