"""OUTPUT_SCHEMA: a plugin's output checked after run() — JSON Schema for plain data, a
column → dtype map for DataFrames (and dicts of them); a violation fails the task with
the field or column, expected and found, and FAIL_HARD applies."""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import RUN_TIMEOUT, plugin_source

from dataflow.plugins.registry import PluginRegistry
from dataflow.plugins.output_schema import schema_problem
from dataflow.worker.output_check import output_problems

PRICES = {"columns": {"close": "float64", "volume": {"dtype": "int", "nullable": False}}}


@pytest.mark.fast
def test_frame_columns_are_checked_by_dtype_and_nulls():
    good = pd.DataFrame({"close": [1.0, 2.0], "volume": [1, 2]})
    assert output_problems(PRICES, good) == []
    assert output_problems(PRICES, {"AAPL": good, "MSFT": good}) == []
    bad = pd.DataFrame({"close": pd.Series(["1", "x"], dtype=object), "volume": [1.0, None]})
    assert output_problems(PRICES, bad) == [
        "column 'close' expected float64, found object",
        "column 'volume' expected int, found float64"]
    assert output_problems(PRICES, {"MSFT": good.drop(columns="close")})[0].startswith(
        "frame 'MSFT': column 'close' expected float64, found no such column")
    nulls = pd.DataFrame({"close": [1.0], "volume": pd.array([None], dtype="Int64")})
    assert output_problems(PRICES, nulls) == [
        "column 'volume' expected no nulls (nullable: false), found 1"]
    assert output_problems({"close": "float64"}, [1, 2]) == [
        "expected a DataFrame or a dict of DataFrames, found list"]


@pytest.mark.fast
def test_plain_data_is_checked_by_json_schema_naming_the_field():
    schema = {"type": "object", "required": ["rows"],
              "properties": {"rows": {"type": "integer"}, "name": {"type": "string"}}}
    assert output_problems(schema, {"rows": 3}) == []
    assert output_problems(schema, {"rows": "3"}) == ["field 'rows': '3' is not of type 'integer'"]
    assert output_problems(schema, {}) == ["'rows' is a required property"]
    assert output_problems(None, object()) == []


@pytest.mark.fast
def test_bad_schemas_are_refused_when_the_plugin_loads():
    assert schema_problem(PRICES) is None
    assert schema_problem({"type": "object"}) is None
    assert "unknown dtype 'flaot64'" in schema_problem({"columns": {"close": "flaot64"}})
    assert "nullable must be true or false" in schema_problem(
        {"close": {"dtype": "float64", "nullable": "no"}})
    assert "not a valid JSON Schema" in schema_problem({"type": "tuple"})
    assert "must be a dict" in schema_problem(["close"])


@pytest.mark.fast
def test_a_plugin_with_a_bad_output_schema_is_reported(make_project):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n", {
        "loader": plugin_source("loader", "load", OUTPUT_SCHEMA={"columns": {"close": "flaot"}})})
    problems = PluginRegistry(project, entry_points=False).problems
    assert len(problems) == 1 and "OUTPUT_SCHEMA column 'close': unknown dtype 'flaot'" \
        in problems[0].message


FRAME_BODY = """
frame = pd.DataFrame({"close": ["1.5", "n/a"]})
return {"AAPL": frame} if AS_DICT else frame
"""
PIPELINES = "pipelines:\n  p:\n    hooks: [load, use]\n"


def test_a_frame_violation_fails_the_task_and_fail_hard_stops_the_pipeline(make_project,
                                                                             engine_for):
    project = make_project(PIPELINES, {
        "loader": plugin_source("loader", "load", ["p"], FRAME_BODY, imports=["pandas as pd"],
                                FAIL_HARD=True, AS_DICT=True,
                                OUTPUT_SCHEMA={"columns": {"close": "float64"}}),
        "user": plugin_source("user", "use", ["p"], "return 1")})
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    assert result.status == "failed"
    task = result.tasks["load.loader"]
    assert task["status"] == "failed"
    assert "output does not match OUTPUT_SCHEMA: frame 'AAPL': column 'close' expected " \
           "float64, found " in task["error"]
    assert "OutputInvalid" in task["error"]
    assert result.tasks["use.user"]["status"] == "skipped"


def test_a_data_violation_fails_only_its_task_and_is_not_retried(make_project, engine_for):
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}}
    project = make_project(PIPELINES, {
        "loader": plugin_source("loader", "load", ["p"], 'return {"count": "many"}',
                                OUTPUT_SCHEMA=schema, RETRY={"max_retries": 2, "delay": 0}),
        "good": plugin_source("good", "load", ["p"], "return pd.DataFrame({'close': [1.0]})",
                              imports=["pandas as pd"], OUTPUT_SCHEMA={"close": "float"}),
        "user": plugin_source("user", "use", ["p"], "return sorted(context['inputs'])")})
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed_with_errors"
    task = result.tasks["load.loader"]
    assert "field 'count': 'many' is not of type 'integer'" in task["error"]
    assert len(task.get("attempts", [])) <= 1, "an invalid output is not retried"
    assert result.tasks["load.good"]["status"] == "completed"
    assert result.output("user", timeout=RUN_TIMEOUT) == ["good"]
