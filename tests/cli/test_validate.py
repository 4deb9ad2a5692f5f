"""`flowbridge validate` run for real, as a user runs it: one line per problem, exit 0 or 1, no traceback.

Each test writes a flow file (or something that is not one) into a temporary folder and runs
`python -m app.cli validate` on it in a subprocess.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_FLOWS = sorted(p for p in (REPO / "flows").glob("*.json") if p.name != "flow.schema.json")

# A problem line: FILE: [node 'ID' at ]$PATH: sentence
PATH = r"\$(?:\.[A-Za-z_]\w*|\[\d+\]|\['[^']*'\]|\[\"[^\"]*\"\])*"
PROBLEM_LINE = re.compile(rf"^(?P<file>.+?): (?:node '(?P<node>[^']*)' at )?(?P<path>{PATH}): (?P<message>.+)$")

# Three nodes, the smallest flow that validates: start -> keep (match) -> out.
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

# The example of /work/shared/DESIGN.md, as written there.
DESIGN_EXAMPLE = """
{
  "schema_version": 1,
  "id": "crm-accounts-to-erp-customers",
  "name": "CRM accounts -> ERP customers",
  "description": "Credit-approved accounts become ERP customers",
  "value_maps": {"us_states": {"CA": "California", "NY": "New York", "TX": "Texas"}},
  "nodes": [
    {"id": "start", "type": "trigger.schedule", "config": {"cron": "*/15 * * * *"}, "position": {"x": 40, "y": 80}},
    {"id": "accounts", "type": "read.sql", "config": {"connection": "crm", "table": "accounts", "cursor": "updated_at"}},
    {"id": "approved", "type": "filter", "config": {"condition": "record.credit_status == 'approved'"}},
    {"id": "to_customer", "type": "map", "config": {"fields": {"crm_id": "{{ record.id }}", "name": "{{ record.name | trim }}",
        "state": "{{ record.state | value_map('us_states') }}"}}},
    {"id": "customers", "type": "write.sql", "config": {"connection": "erp", "table": "customers", "key": ["crm_id"], "mode": "upsert"}}
  ],
  "edges": [
    {"from": "start", "to": "accounts"},
    {"from": "accounts", "to": "approved"},
    {"from": "approved", "port": "match", "to": "to_customer"},
    {"from": "to_customer", "to": "customers"}
  ]
}
"""


def flow(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(FLOW)
    document.update(changes)
    return document


def write_flow(folder: Path, document: Any, name: str = "flow.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def validate(folder: Path, *files: str | Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "validate", *map(str, files)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return result


def problems(result: subprocess.CompletedProcess) -> list[dict[str, str | None]]:
    """Every line of the output that is not 'FILE: valid', checked to be one well-formed problem."""
    found = []
    for line in result.stdout.splitlines():
        if line.endswith(": valid"):
            continue
        match = PROBLEM_LINE.match(line)
        assert match, f"not a problem line: {line!r}"
        assert len(match["message"].split()) >= 2, f"not a sentence: {line!r}"
        found.append(match.groupdict())
    return found


def only_problem(result: subprocess.CompletedProcess) -> dict[str, str | None]:
    assert result.returncode == 1, result.stdout
    found = problems(result)
    assert len(found) == 1, result.stdout
    return found[0]


def test_every_example_flow_is_valid(tmp_path: Path) -> None:
    result = validate(tmp_path, *EXAMPLE_FLOWS)
    assert result.returncode == 0, result.stdout
    assert problems(result) == []
    assert result.stdout.splitlines() == [f"{p}: valid" for p in EXAMPLE_FLOWS]
    assert result.stderr == ""


def test_the_design_example_flow_is_valid(tmp_path: Path) -> None:
    (tmp_path / "design.json").write_text(DESIGN_EXAMPLE)
    result = validate(tmp_path, "design.json")
    assert result.returncode == 0, result.stdout
    assert result.stdout == "design.json: valid\n"


def test_quiet_prints_nothing_for_a_valid_flow(tmp_path: Path) -> None:
    write_flow(tmp_path, FLOW)
    result = validate(tmp_path, "-q", "flow.json")
    assert (result.returncode, result.stdout) == (0, "")


# --- the document itself -------------------------------------------------------------------------


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "flow.json").write_text('{\n  "schema_version": 1,\n  "id": "x",,\n}')
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["file"] == "flow.json"
    assert problem["path"] == "$"
    assert "invalid JSON at line 3, column 13" in problem["message"]


def test_a_flow_without_nodes_says_nodes_is_required_and_nothing_more(tmp_path: Path) -> None:
    document = flow()
    del document["nodes"]
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["path"], problem["message"]) == ("$", "'nodes' is required")


def test_a_wrong_schema_version_is_refused(tmp_path: Path) -> None:
    write_flow(tmp_path, flow(schema_version=2))
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["path"] == "$.schema_version"
    assert problem["message"] == "expected 1, not 2"


def test_a_misspelt_top_level_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    write_flow(tmp_path, flow(egdes=[]))
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["path"] == "$"
    assert "unknown field 'egdes' (did you mean 'edges'?)" in problem["message"]


def test_an_unknown_node_type_gets_a_suggestion(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][1]["type"] = "fliter"
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("keep", "$.nodes[1].type")
    assert problem["message"] == "unknown node type 'fliter' (did you mean 'filter'?)"


# --- node configs --------------------------------------------------------------------------------


def test_write_sql_mode_merge_breaks_its_schema(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][2] = {
        "id": "out",
        "type": "write.sql",
        "config": {"connection": "erp", "table": "customers", "key": "id", "mode": "merge"},
    }
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("out", "$.nodes[2].config.mode")
    assert problem["message"] == "'merge' is not one of insert, update, upsert"


def test_a_filter_without_condition(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][1]["config"] = {}
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"], problem["message"]) == (
        "keep",
        "$.nodes[1].config",
        "'condition' is required",
    )


def test_an_unknown_config_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][1]["config"]["conditon"] = "record.b"
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("keep", "$.nodes[1].config")
    assert problem["message"] == "unknown field 'conditon' (did you mean 'condition'?); allowed: condition"


def test_a_condition_that_does_not_compile_quotes_jinja(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][1]["config"]["condition"] = "record.a =="
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("keep", "$.nodes[1].config.condition")
    assert problem["message"] == "expression does not compile: unexpected 'end of template' (line 1)"


def test_a_map_template_that_does_not_compile_quotes_jinja(tmp_path: Path) -> None:
    document = flow()
    document["nodes"].insert(2, {"id": "shape", "type": "map", "config": {"fields": {"x": "{{ record.x }"}}})
    document["edges"] = [
        {"from": "start", "to": "keep"},
        {"from": "keep", "port": "match", "to": "shape"},
        {"from": "shape", "to": "out"},
    ]
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("shape", "$.nodes[2].config.fields.x")
    assert problem["message"] == "template does not compile: unexpected '}' (line 1)"


def test_an_unknown_filter_in_a_template_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][1]["config"]["condition"] = "record.a | fliter"
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["path"] == "$.nodes[1].config.condition"
    assert "there is no filter named 'fliter'" in problem["message"]


def test_an_expression_nested_a_hundred_deep_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][1]["config"]["condition"] = "(" * 100 + "record.a" + ")" * 100
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"] == "expression does not compile: the expression nests too deeply"


def test_a_bad_cron_expression(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][0] = {"id": "start", "type": "trigger.schedule", "config": {"cron": "*/15 * * *"}}
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("start", "$.nodes[0].config.cron")
    assert problem["message"].startswith("'*/15 * * *' is not a valid cron expression: ")


def test_a_bad_time_zone(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][0] = {
        "id": "start",
        "type": "trigger.schedule",
        "config": {"cron": "*/15 * * * *", "timezone": "Mars/Olympus_Mons"},
    }
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("start", "$.nodes[0].config.timezone")
    assert problem["message"] == "'Mars/Olympus_Mons' is not a known time zone"


# --- the graph -----------------------------------------------------------------------------------


def test_duplicate_node_ids(tmp_path: Path) -> None:
    document = flow()
    document["nodes"].append({"id": "keep", "type": "filter", "config": {"condition": "true"}})
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("keep", "$.nodes[3].id")
    assert problem["message"] == "node id 'keep' is used more than once"


def test_an_edge_to_a_missing_node(tmp_path: Path) -> None:
    document = flow()
    document["edges"].append({"from": "keep", "port": "reject", "to": "outt"})
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("keep", "$.edges[2].to")
    assert problem["message"] == "edge to 'outt': there is no such node (did you mean 'out'?)"


def test_an_edge_from_an_unknown_port_gets_a_suggestion(tmp_path: Path) -> None:
    document = flow()
    document["edges"][1]["port"] = "matches"
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("keep", "$.edges[1].port")
    assert problem["message"] == (
        "'keep' (filter) has no output port 'matches' (did you mean 'match'?); its ports: match, reject"
    )


def test_a_cycle_names_its_nodes(tmp_path: Path) -> None:
    document = flow()
    document["nodes"].insert(2, {"id": "shape", "type": "map", "config": {"fields": {"a": "{{ record.a }}"}}})
    document["edges"] = [
        {"from": "start", "to": "keep"},
        {"from": "keep", "port": "match", "to": "shape"},
        {"from": "shape", "to": "keep"},
        {"from": "keep", "port": "reject", "to": "out"},
    ]
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["path"] == "$.edges[2]"
    assert re.search(r"the flow has a cycle: (keep -> shape -> keep|shape -> keep -> shape)", problem["message"])


def test_a_flow_without_a_trigger(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][0] = {"id": "start", "type": "filter", "config": {"condition": "true"}}
    document["edges"].append({"from": "start", "port": "reject", "to": "out"})
    write_flow(tmp_path, document)
    result = validate(tmp_path, "flow.json")
    assert result.returncode == 1
    found = problems(result)
    assert {
        "file": "flow.json",
        "node": None,
        "path": "$.nodes",
        "message": "the flow has no trigger; add one (manual, schedule or webhook)",
    } in found
    assert [p for p in found if p["node"] == "start"] == [
        {
            "file": "flow.json",
            "node": "start",
            "path": "$.nodes[0]",
            "message": "node 'start' has no input; connect something to it",
        }
    ]


def test_a_flow_with_two_triggers(tmp_path: Path) -> None:
    document = flow()
    document["nodes"].append({"id": "hook", "type": "trigger.webhook"})
    document["edges"].append({"from": "hook", "to": "keep"})
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("hook", "$.nodes[3]")
    assert problem["message"] == "the flow has 2 triggers (start, hook); it needs exactly one"


def test_a_node_unreachable_from_the_trigger(tmp_path: Path) -> None:
    document = flow()
    document["nodes"] += [
        {"id": "orphan", "type": "map", "config": {"fields": {"a": "x"}}},
        {"id": "side", "type": "write.file", "config": {"connection": "files", "path": "b.csv"}},
    ]
    document["edges"].append({"from": "orphan", "to": "side"})
    write_flow(tmp_path, document)
    result = validate(tmp_path, "flow.json")
    assert result.returncode == 1
    found = problems(result)
    assert {
        "file": "flow.json",
        "node": "side",
        "path": "$.nodes[4]",
        "message": "node 'side' cannot be reached from the trigger 'start'",
    } in found
    assert {
        "file": "flow.json",
        "node": "orphan",
        "path": "$.nodes[3]",
        "message": "node 'orphan' has no input; connect something to it",
    } in found
    assert len(found) == 2


def test_a_write_with_no_input(tmp_path: Path) -> None:
    document = flow()
    document["nodes"].append({"id": "extra", "type": "write.file", "config": {"connection": "files", "path": "b.csv"}})
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert (problem["node"], problem["path"]) == ("extra", "$.nodes[3]")
    assert problem["message"] == "write node 'extra' has no input; connect something to it"


def test_a_control_character_in_a_name_stays_on_one_line(tmp_path: Path) -> None:
    document = flow()
    document["nodes"][1]["type"] = "fil\nter\x00"
    write_flow(tmp_path, document)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"] == "unknown node type 'fil\\nter\\x00' (did you mean 'filter'?)"


# --- hostile files -------------------------------------------------------------------------------


def test_a_binary_file(tmp_path: Path) -> None:
    (tmp_path / "flow.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01" + bytes(range(256)))
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert "is it a binary file?" in problem["message"]


def test_a_file_with_nul_bytes_in_valid_utf8(tmp_path: Path) -> None:
    (tmp_path / "flow.json").write_bytes(b'{"schema_version": 1,\x00\x00\x00}')
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"] == "the file holds NUL characters; is it a binary file?"


@pytest.mark.parametrize("content", ["", "  \n\t\r\n  "], ids=["empty", "whitespace"])
def test_an_empty_file(tmp_path: Path, content: str) -> None:
    (tmp_path / "flow.json").write_text(content)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"] == "the file is empty; a flow document is a JSON object"


def test_a_50_mb_file_is_refused_by_its_size(tmp_path: Path) -> None:
    filler = json.dumps({"note": "x" * 1000})[:-1]
    with (tmp_path / "flow.json").open("w") as file:
        file.write('{"schema_version": 1, "nodes": [')
        file.write(",".join([filler + "}"] * 52_000))
        file.write('], "edges": []}')
    size = (tmp_path / "flow.json").stat().st_size
    assert size > 50 * 1024 * 1024
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"] == f"the file is {size / 1024 / 1024:.1f} MB; a flow document may be at most 5 MB"
    (tmp_path / "flow.json").unlink()  # pytest keeps the last runs' folders: don't keep 50 MB in each


@pytest.mark.parametrize(
    "content",
    ["[" * 10_000 + "]" * 10_000, '{"a":' * 10_000 + "1" + "}" * 10_000, '{"nodes": ' + "[" * 500 + "]" * 500 + "}"],
    ids=["arrays", "objects", "within-python-limit"],
)
def test_nesting_ten_thousand_deep(tmp_path: Path, content: str) -> None:
    (tmp_path / "flow.json").write_text(content)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"] == "the JSON nests deeper than 64 levels"


def test_a_json_array_instead_of_an_object(tmp_path: Path) -> None:
    (tmp_path / "flow.json").write_text(json.dumps([FLOW]))
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"] == "a flow document is a JSON object, not an array"


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema_version": NaN}', "invalid JSON: NaN is not a JSON value"),
        ('{"schema_version": 1e999}', "invalid JSON: the number 1e999 is too large"),
        ('{"schema_version": ' + "1" * 5000 + "}", "invalid JSON: Exceeds the limit (4300 digits)"),
        ('{"id": "\\ud800"}', "invalid JSON: a \\u escape names half a character (a lone surrogate)"),
        ('{"id": "a", "id": "b"}', "invalid JSON: key 'id' appears twice in the same object"),
    ],
    ids=["nan", "infinity", "huge-integer", "lone-surrogate", "duplicate-key"],
)
def test_what_python_reads_but_json_forbids(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "flow.json").write_text(content)
    problem = only_problem(validate(tmp_path, "flow.json"))
    assert problem["message"].startswith(message)


def test_a_folder(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    problem = only_problem(validate(tmp_path, "flows"))
    assert (problem["file"], problem["message"]) == ("flows", "is a folder, not a flow document")


def test_a_missing_file(tmp_path: Path) -> None:
    problem = only_problem(validate(tmp_path, "nowhere.json"))
    assert (problem["file"], problem["message"]) == ("nowhere.json", "no such file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_that_never_ends(tmp_path: Path) -> None:
    problem = only_problem(validate(tmp_path, "/dev/zero"))
    assert problem["message"].startswith("is not a regular file")


def test_several_files_where_one_is_bad(tmp_path: Path) -> None:
    write_flow(tmp_path, FLOW, "good.json")
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe\x00garbage")
    write_flow(tmp_path, FLOW, "also_good.json")
    result = validate(tmp_path, "good.json", "bad.json", "also_good.json")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "good.json: valid"
    assert lines[-1] == "also_good.json: valid"
    assert [p["file"] for p in problems(result)] == ["bad.json"]
