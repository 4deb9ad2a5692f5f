"""validate_document and find_expressions on small literal flows: each problem's node id and JSON path."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nodes
from app.engine import validation
from app.engine.document import parse_document
from app.engine.validation import validate_document
from app.problems import Problem
from nodes.base import find_expressions

FLOW: dict[str, Any] = {
    "schema_version": 1,
    "id": "three-nodes",
    "name": "Three nodes",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "keep", "type": "filter", "config": {"condition": "record.a == 1"}},
        {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "out.csv"}},
    ],
    "edges": [{"from": "start", "to": "keep"}, {"from": "keep", "port": "match", "to": "out"}],
}


def flow(middle: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The three-node flow, with another node in the middle when given."""
    document = copy.deepcopy(FLOW)
    if middle is not None:
        document["nodes"][1] = {"id": "keep", **middle}
        if middle.get("type") != "filter":
            document["edges"][1] = {"from": "keep", "to": "out"}
    document.update(changes)
    return document


def places(problems: list[Problem]) -> list[tuple[str | None, str]]:
    return [(p.node_id, p.path) for p in problems]


def test_the_three_node_flow_is_valid() -> None:
    assert validate_document(flow()) == []


# --- graph rules ---------------------------------------------------------------------------------


def test_a_duplicate_node_id_points_at_the_second_one() -> None:
    document = flow()
    document["nodes"].append({"id": "keep", "type": "filter", "config": {"condition": "true"}})
    problems = validate_document(document)
    assert places(problems) == [("keep", "$.nodes[3].id")]
    assert problems[0].message == "node id 'keep' is used more than once"


def test_an_edge_to_a_missing_node_belongs_to_the_node_it_leaves() -> None:
    document = flow()
    document["edges"][1]["to"] = "nowhere"
    problems = validate_document(document)
    assert places(problems)[0] == ("keep", "$.edges[1].to")
    assert problems[0].message == "edge to 'nowhere': there is no such node"


def test_an_edge_from_a_missing_node_suggests_the_closest_id() -> None:
    document = flow()
    document["edges"][0]["from"] = "strat"
    problems = validate_document(document)
    assert places(problems)[0] == ("keep", "$.edges[0].from")
    assert problems[0].message == "edge from 'strat': there is no such node (did you mean 'start'?)"


def test_an_unknown_port_suggests_the_right_one_and_nothing_downstream_complains() -> None:
    document = flow()
    document["edges"][1]["port"] = "matches"
    problems = validate_document(document)
    # 'out' is connected, only by a misspelt port: saying it has no input would be wrong.
    assert places(problems) == [("keep", "$.edges[1].port")]
    assert "(did you mean 'match'?)" in problems[0].message


def test_an_unknown_node_type_does_not_leave_its_neighbours_unconnected() -> None:
    document = flow()
    document["nodes"][1]["type"] = "fliter"
    problems = validate_document(document)
    assert places(problems) == [("keep", "$.nodes[1].type")]
    assert problems[0].message == "unknown node type 'fliter' (did you mean 'filter'?)"


def test_a_cycle_names_its_nodes_and_points_at_the_edge_that_closes_it() -> None:
    document = flow({"type": "map", "config": {"fields": {"a": "{{ record.a }}"}}})
    document["nodes"].insert(2, {"id": "again", "type": "map", "config": {"fields": {"a": "{{ record.a }}"}}})
    document["edges"] = [
        {"from": "start", "to": "keep"},
        {"from": "keep", "to": "again"},
        {"from": "again", "to": "keep"},
        {"from": "again", "to": "out"},
    ]
    problems = validate_document(document)
    assert len(problems) == 1
    assert problems[0].path in ("$.edges[1]", "$.edges[2]")
    assert problems[0].message in (
        "the flow has a cycle: keep -> again -> keep; records would go round forever",
        "the flow has a cycle: again -> keep -> again; records would go round forever",
    )
    assert problems[0].code == "cycle"


def test_an_edge_from_a_node_to_itself_is_a_cycle() -> None:
    document = flow()
    document["edges"].append({"from": "keep", "port": "reject", "to": "keep"})
    problems = validate_document(document)
    assert [(p.node_id, p.path, p.message) for p in problems] == [
        ("keep", "$.edges[2]", "the flow has a cycle: keep -> keep; records would go round forever")
    ]


def test_no_trigger() -> None:
    document = flow()
    document["nodes"][0] = {"id": "start", "type": "filter", "config": {"condition": "true"}}
    document["edges"].append({"from": "start", "port": "reject", "to": "out"})
    problems = validate_document(document)
    assert places(problems) == [(None, "$.nodes"), ("start", "$.nodes[0]")]
    assert problems[0].message == "the flow has no trigger; add one (manual, schedule or webhook)"


def test_two_triggers_point_at_the_second() -> None:
    document = flow()
    document["nodes"].append({"id": "again", "type": "trigger.schedule", "config": {"interval": {"hours": 1}}})
    document["edges"].append({"from": "again", "to": "keep"})
    problems = validate_document(document)
    assert places(problems) == [("again", "$.nodes[3]")]


def test_an_edge_into_a_trigger() -> None:
    document = flow()
    document["edges"].append({"from": "keep", "port": "reject", "to": "start"})
    problems = validate_document(document)
    assert [(p.node_id, p.path, p.message) for p in problems] == [
        ("start", "$.edges[2].to", "'start' is a trigger; nothing can flow into it")
    ]


def test_an_edge_out_of_a_write_node() -> None:
    document = flow()
    document["nodes"].append({"id": "more", "type": "write.file", "config": {"connection": "f", "path": "b.csv"}})
    document["edges"].append({"from": "out", "to": "more"})
    problems = validate_document(document)
    assert ("out", "$.edges[2]") in places(problems)
    assert "'out' (write.file) has no output to connect" in [p.message for p in problems]


def test_the_same_edge_twice() -> None:
    document = flow()
    document["edges"].append({"from": "keep", "port": "match", "to": "out"})
    problems = validate_document(document)
    assert [(p.node_id, p.path, p.message) for p in problems] == [
        ("keep", "$.edges[2]", "the edge keep.match -> out is there twice")
    ]


def test_an_unreachable_node_and_the_one_without_input_before_it() -> None:
    document = flow()
    document["nodes"] += [
        {"id": "orphan", "type": "map", "config": {"fields": {"a": "x"}}},
        {"id": "side", "type": "write.file", "config": {"connection": "f", "path": "b.csv"}},
    ]
    document["edges"].append({"from": "orphan", "to": "side"})
    problems = validate_document(document)
    assert [(p.node_id, p.path, p.message) for p in problems] == [
        ("orphan", "$.nodes[3]", "node 'orphan' has no input; connect something to it"),
        ("side", "$.nodes[4]", "node 'side' cannot be reached from the trigger 'start'"),
    ]


def test_a_write_without_input() -> None:
    document = flow()
    del document["edges"][1]
    problems = validate_document(document)
    assert [(p.node_id, p.path, p.message) for p in problems] == [
        ("keep", "$.nodes[1]", "records leaving 'keep' by port 'match' would go nowhere; connect it to a node"),
        ("out", "$.nodes[2]", "write node 'out' has no input; connect something to it"),
    ]


def test_a_filters_rejects_may_go_nowhere_but_a_transforms_output_may_not() -> None:
    document = flow({"type": "transform", "config": {"steps": [{"op": "drop", "fields": ["a"]}]}})
    document["edges"][1] = {"from": "keep", "port": "duplicate", "to": "out"}
    problems = validate_document(document)
    assert [(p.node_id, p.path) for p in problems] == [("keep", "$.nodes[1]")]
    assert "by port 'out' would go nowhere" in problems[0].message


# --- the document's schema -----------------------------------------------------------------------


def test_without_nodes_only_the_missing_key_is_reported() -> None:
    document = flow()
    del document["nodes"]
    assert [(p.node_id, p.path, p.message) for p in validate_document(document)] == [(None, "$", "'nodes' is required")]


def test_a_node_id_with_a_trailing_newline_is_refused() -> None:
    # Python's `$` matches before a final newline; JSON Schema's does not.
    document = flow()
    document["nodes"][0]["id"] = "start\n"
    document["edges"][0]["from"] = "start\n"
    problems = validate_document(document)
    assert places(problems) == [(None, "$.nodes[0].id")]
    assert problems[0].message.startswith("'start\\n' is not allowed: Unique in the flow")


def test_a_value_map_with_a_bad_on_missing_points_at_it() -> None:
    document = flow(value_maps={"states": {"entries": {"CA": "California"}, "on_missing": "explode"}})
    assert [(p.path, p.message) for p in validate_document(document)] == [
        ("$.value_maps.states.on_missing", "'explode' is not one of pass, default, fail")
    ]


def test_a_read_with_both_table_and_query() -> None:
    document = flow({"type": "read.sql", "config": {"connection": "crm", "table": "t", "query": "SELECT 1"}})
    assert [(p.node_id, p.path, p.message) for p in validate_document(document)] == [
        ("keep", "$.nodes[1].config", "set exactly one of: table or query")
    ]


def test_a_key_that_is_neither_a_column_nor_a_list() -> None:
    document = flow({"type": "read.sql", "config": {"connection": "crm", "table": "t", "key": 5}})
    assert [(p.path, p.message) for p in validate_document(document)] == [
        ("$.nodes[1].config.key", "must be a string or an array, not 5")
    ]


@pytest.mark.parametrize(
    "step, path, message",
    [
        ({"op": "compute", "field": "total"}, "$.nodes[1].config.steps[0]", "'expression' is required"),
        (
            {"op": "compute", "field": "t", "expression": "1", "expresion": "2"},
            "$.nodes[1].config.steps[0]",
            "unknown field 'expresion' (did you mean 'expression'?); allowed: expression, field, op",
        ),
        (
            {"op": "computer", "field": "t", "expression": "1"},
            "$.nodes[1].config.steps[0].op",
            "'computer' is not a known op (did you mean 'compute'?); choose one of: "
            "set, compute, rename, drop, keep, lookup, dedupe, each",
        ),
        (
            {"op": "each", "field": "lines", "steps": [{"op": "dedupe", "key": "record.a"}]},
            "$.nodes[1].config.steps[0].steps[0].op",
            "'dedupe' is not a known op; choose one of: set, compute, rename, drop, keep, lookup",
        ),
        ("compute", "$.nodes[1].config.steps[0]", "must be an object, not 'compute'"),
    ],
    ids=["missing-key", "misspelt-key", "unknown-op", "op-not-allowed-in-each", "not-an-object"],
)
def test_a_bad_transform_step_is_explained_by_the_step_it_was_meant_to_be(step: Any, path: str, message: str) -> None:
    document = flow({"type": "transform", "config": {"steps": [step]}})
    assert [(p.node_id, p.path, p.message) for p in validate_document(document)] == [("keep", path, message)]


def test_a_huge_value_is_not_quoted_in_full() -> None:
    document = flow()
    document["nodes"][1]["config"] = "x" * 1_000_000
    problems = validate_document(document)
    assert places(problems) == [(None, "$.nodes[1].config")]
    assert len(problems[0].message) < 200


def test_too_many_nodes_is_one_problem_found_quickly() -> None:
    document = flow()
    document["nodes"] += [
        {"id": f"n{i}", "type": "filter", "config": {"condition": f"record.a == {i}"}}
        for i in range(validation.MAX_NODES)
    ]
    assert [(p.path, p.message) for p in validate_document(document)] == [
        (
            "$.nodes",
            f"the flow has {validation.MAX_NODES + 3:,} nodes; a flow may have at most {validation.MAX_NODES:,}",
        )
    ]


def test_too_many_edges_is_one_problem() -> None:
    document = flow()
    document["edges"] += [{"from": "x", "to": "y"}] * validation.MAX_EDGES
    assert [p.path for p in validate_document(document)] == ["$.edges"]


# --- expressions inside configs ------------------------------------------------------------------


def test_a_bad_expression_in_a_nested_each_step_points_at_it() -> None:
    steps = [
        {
            "op": "each",
            "field": "lines",
            "steps": [
                {"op": "compute", "field": "total", "expression": "record.qty * record.price"},
                {"op": "compute", "field": "tax", "expression": "record.total *"},
            ],
        }
    ]
    problems = validate_document(flow({"type": "transform", "config": {"steps": steps}}))
    assert places(problems) == [("keep", "$.nodes[1].config.steps[0].steps[1].expression")]
    assert problems[0].message.startswith("expression does not compile: ")


def test_every_bad_map_field_is_reported_not_only_the_first() -> None:
    fields = {"a": "{{ record.a }}", "b": "{{ record.b", "c": "{{ record.c | nosuch }}", "d": "{{ lipsum() }}"}
    problems = validate_document(flow({"type": "map", "config": {"fields": fields}}))
    assert places(problems) == [
        ("keep", "$.nodes[1].config.fields.b"),
        ("keep", "$.nodes[1].config.fields.c"),
        ("keep", "$.nodes[1].config.fields.d"),
    ]
    assert problems[1].message == "template does not compile: there is no filter named 'nosuch' (line 1)"
    assert problems[2].message == "template does not compile: 'lipsum' is not available in expressions (line 1)"


def test_a_field_name_that_is_not_an_identifier_gets_a_bracketed_path() -> None:
    problems = validate_document(flow({"type": "map", "config": {"fields": {"first name": "{{ x"}}}))
    assert places(problems) == [("keep", "$.nodes[1].config.fields['first name']")]


def test_find_expressions_walks_map_fields() -> None:
    map_type = nodes.get("map")
    config = {
        "fields": {"id": "{{ record.id }}", "name": "{{ record.name | trim }}"},
        "required": ["id"],
        "defaults": {"name": "unknown"},
    }
    found = find_expressions(map_type.config_schema, config)
    assert [(f.path, f.text, f.kind) for f in found] == [
        (("fields", "id"), "{{ record.id }}", "template"),
        (("fields", "name"), "{{ record.name | trim }}", "template"),
    ]
    assert [f.name for f in found] == ["fields.id", "fields.name"]


def test_find_expressions_finds_a_filter_condition() -> None:
    found = find_expressions(nodes.get("filter").config_schema, {"condition": "record.a > 1"})
    assert [(f.path, f.kind) for f in found] == [(("condition",), "expression")]


def test_find_expressions_walks_transform_steps_through_refs_and_nested_each() -> None:
    steps = [
        {"op": "set", "field": "full", "value": "{{ record.first }} {{ record.last }}"},
        {"op": "rename", "from": "a", "to": "b"},
        {"op": "lookup", "connection": "erp", "table": "customers", "match": {"crm_id": "{{ record.id }}"}},
        {
            "op": "each",
            "field": "lines",
            "steps": [
                {"op": "compute", "field": "total", "expression": "record.qty * record.price"},
                {"op": "drop", "fields": ["qty"]},
                {"op": "set", "field": "sku", "value": "{{ record.sku | upper }}"},
            ],
        },
        {"op": "dedupe", "key": "record.email | lower", "keep": "newest", "order_by": "record.updated_at"},
    ]
    found = find_expressions(nodes.get("transform").config_schema, {"steps": steps})
    assert [(f.path, f.kind) for f in found] == [
        (("steps", 0, "value"), "template"),
        (("steps", 2, "match", "crm_id"), "template"),
        (("steps", 3, "steps", 0, "expression"), "expression"),
        (("steps", 3, "steps", 2, "value"), "template"),
        (("steps", 4, "key"), "expression"),
        (("steps", 4, "order_by"), "expression"),
    ]


def test_find_expressions_ignores_what_is_not_code() -> None:
    # A read's SQL query and a write's key are strings, but not analyst expressions.
    read = {"connection": "crm", "query": "SELECT {{ not_jinja }}", "key": "id"}
    assert find_expressions(nodes.get("read.sql").config_schema, read) == []


# --- never a traceback ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
node_types = st.sampled_from([*nodes.registry(), "fliter", ""]) | st.text(max_size=6)
node_ids = st.sampled_from(["start", "keep", "out", "x"]) | st.text(max_size=4)
some_nodes = st.lists(
    st.fixed_dictionaries(
        {"id": node_ids, "type": node_types},
        optional={
            "config": st.dictionaries(
                st.sampled_from(["condition", "fields", "steps", "cron", "connection", "table", "path", "mode", "key"]),
                json_values,
                max_size=3,
            )
        },
    ),
    max_size=5,
)
some_edges = st.lists(
    st.fixed_dictionaries(
        {"from": node_ids, "to": node_ids}, optional={"port": st.sampled_from(["match", "reject", "out", "x"])}
    ),
    max_size=5,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_value_gives_problems_not_exceptions(value: Any) -> None:
    assert all(isinstance(p, Problem) for p in validate_document(value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(some_nodes, some_edges)
def test_any_mix_of_nodes_and_edges_gives_problems_not_exceptions(raw_nodes: list, raw_edges: list) -> None:
    document = {"schema_version": 1, "id": "t", "name": "t", "nodes": raw_nodes, "edges": raw_edges}
    for problem in validate_document(document):
        assert "\n" not in str(problem)


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200) | st.text(max_size=200).map(str.encode) | json_values.map(lambda v: json.dumps(v).encode())
)
def test_any_bytes_parse_to_a_document_or_problems(data: bytes) -> None:
    document, problems = parse_document(data)
    assert (document is None) == bool(problems)


@pytest.mark.parametrize(
    "node_type, config, place",
    [
        ("read.http", {"connection": "crm_api", "path": "http://127.0.0.1:9/steal"}, "path"),
        ("read.http", {"connection": "crm_api", "path": "//collector.example/steal"}, "path"),
        (
            "write.http",
            {
                "connection": "erp_api",
                "path": "/customers",
                "key": "crm_id",
                "method": "POST",
                "find": {"path": "https://collector.example/find", "params": {"crm_id": "{crm_id}"}},
                "update": {"path": "/customers/{customer_number}"},
            },
            "find.path",
        ),
        (
            "write.http",
            {
                "connection": "erp_api",
                "path": "/customers",
                "key": "crm_id",
                "method": "POST",
                "find": {"path": "/customers", "params": {"crm_id": "{crm_id}"}},
                "update": {"path": "\\\\collector.example\\x"},
            },
            "update.path",
        ),
    ],
)
def test_an_http_path_naming_another_host_is_a_problem_before_any_run(node_type, config, place):
    problems = validate_document(flow({"type": node_type, "config": config}))
    [problem] = [p for p in problems if "names a host of its own" in p.message]
    assert problem.node_id == "keep" and problem.path.endswith(place)


def test_each_problem_carries_a_code_for_the_code_that_acts_on_it() -> None:
    """Code decides by a problem's code, never by its wording (which is for people)."""
    document = flow()
    document["edges"] = document["edges"][:-1]  # the last node loses its input, its source an exit
    document["nodes"].append({"id": "mystery", "type": "no.such.type"})
    codes = {problem.code for problem in validate_document(document)}
    assert {"no_input", "open_port", "unknown_node_type"} <= codes, codes
    assert "invalid" not in codes, "a validation problem without its own code"
