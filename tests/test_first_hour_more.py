"""Issue 13's first-hour points that had no test: skips name the plugin that stopped the
pipeline, a plugin's exception is an ERROR record, tables keep whole ids at 80 columns,
`--json` is ISO 8601 everywhere and log fields are JSON; `plugins --json` fails on a
broken plugin like the table does."""
from __future__ import annotations

import json
import re

from conftest import ok, plugin_source

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?$")
TIME_KEYS = ("started", "finished", "time", "heartbeat", "created")

STOPPING = """
pipelines:
  chain:
    hooks: [first, second, third]
"""


def chain_project(make_project):
    return make_project(STOPPING, {
        "gatekeeper": plugin_source("gatekeeper", "first", "chain",
                                    "raise RuntimeError('the gate is shut')", FAIL_HARD=True),
        "middle": plugin_source("middle", "second", "chain", "return 2"),
        "last": plugin_source("last", "third", "chain", "return 3")})


def run_json(cli, project, pipeline) -> dict:
    result = cli("run", pipeline, "--json", project=project)
    assert result.returncode in (0, 1, 3), result.stdout + result.stderr
    return json.loads(result.stdout)


def test_every_skipped_task_names_the_plugin_that_stopped_the_pipeline(cli, make_project):
    project = chain_project(make_project)
    run = run_json(cli, project, "chain")
    assert run["status"] == "failed"
    shown = json.loads(ok(cli("show", run["run_id"], "--json", project=project)).stdout)
    tasks = {task["plugin"]: task for task in shown["tasks"]}
    assert tasks["gatekeeper"]["status"] == "failed"
    for skipped in ("middle", "last"):
        assert tasks[skipped]["status"] == "skipped"
        assert "gatekeeper" in tasks[skipped]["error"], tasks[skipped]
        assert "middle" not in tasks[skipped]["error"], tasks[skipped]


def test_a_plugins_exception_is_an_error_record(cli, make_project):
    project = make_project("pipelines:\n  one:\n    hooks: [work]\n", {
        "breaker": plugin_source("breaker", "work", "one",
                                 "raise ValueError('kaboom in the plugin')")})
    run = run_json(cli, project, "one")
    errors = ok(cli("logs", run["run_id"], "--level", "error", project=project)).stdout
    assert "kaboom in the plugin" in errors and "ERROR" in errors, errors
    assert "breaker" in errors


def test_runs_table_keeps_whole_run_ids_at_80_columns(cli, make_project):
    project = make_project("pipelines:\n  a_rather_long_pipeline_name:\n    hooks: [work]\n",
                           {"worker": plugin_source("worker", "work", "*", "return 1")})
    run = run_json(cli, project, "a_rather_long_pipeline_name")
    table = ok(cli("runs", project=project, env={"COLUMNS": "80"})).stdout
    assert run["run_id"] in table and "a_rather_long_pipeline_name" in table, table
    assert max(len(line) for line in table.splitlines()) <= 80, table


def _times(data, path=""):
    """Every (path, value) under a time key, anywhere in `data`."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in TIME_KEYS and value is not None:
                yield f"{path}.{key}", value
            yield from _times(value, f"{path}.{key}")
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _times(item, f"{path}[{index}]")


def test_json_output_is_iso_8601_everywhere_and_log_fields_are_json(cli, make_project):
    body = ("import datetime\ncontext['services']['log'].info('stats', rows=[1, 2], "
            "meta={'a': 1}, when=datetime.datetime(2024, 1, 2, 3, 4, 5))\nreturn 1")
    project = make_project("pipelines:\n  one:\n    hooks: [work]\n",
                           {"counter": plugin_source("counter", "work", "one", body)})
    run = run_json(cli, project, "one")
    shown = json.loads(ok(cli("show", run["run_id"], "--json", project=project)).stdout)
    runs = json.loads(ok(cli("runs", "--json", project=project)).stdout)
    for name, data in (("run", run), ("show", shown), ("runs", runs)):
        found = list(_times(data))
        assert found, name
        for path, value in found:
            assert isinstance(value, str) and ISO.match(value), (name, path, value)
    logs = ok(cli("logs", run["run_id"], project=project)).stdout
    line = next(line for line in logs.splitlines() if "stats" in line)
    fields = json.loads(line[line.index("{"):])
    assert fields == {"rows": [1, 2], "meta": {"a": 1}, "when": "2024-01-02T03:04:05"}, line
    assert ISO.match(line.split(" ")[0]), line


def test_plugins_json_fails_on_a_broken_plugin(cli, make_project):
    project = make_project("pipelines:\n  one:\n    hooks: [work]\n", {
        "fine": plugin_source("fine", "work", "one", "return 1"),
        "broken": "import no_such_module_anywhere\nPLUGIN_NAME = 'broken'\n"})
    result = cli("plugins", "--json", project=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert [plugin["id"] for plugin in json.loads(result.stdout)] == ["fine"]
    assert "no_such_module_anywhere" in result.stderr
    table = cli("plugins", project=project)
    assert table.returncode == 1 and "no_such_module_anywhere" in table.stdout
    assert ok(cli("plugins", "--json", project=make_project(
        "pipelines:\n  one:\n    hooks: [work]\n",
        {"broken": plugin_source("broken", "work", "one", "return 1")}))).stdout
