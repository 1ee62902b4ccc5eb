"""`dataflow validate` through the real CLI: every bad input gives its located message
(file, key, line for YAML) and a fix, exit 1; a clean project exits 0; every problem
is listed at once; `dataflow run` refuses an invalid project with the same messages."""
from __future__ import annotations

import re

import pymongo
import pytest
from conftest import plugin_source

PIPELINES = """\
pipelines:
  p:
    hooks: ["first"]
    schedule: "*/10 * * * *"
"""


def plugin(name="a", pipelines=("p",), default=5, marker=""):
    """A plugin of hook `first`; if `marker` is a path, it writes "ran" there when it runs."""
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": default}}}
    return plugin_source(name, "first", pipelines, CONFIG_SCHEMA=schema, MARKER=marker, body="""
        if MARKER:
            open(MARKER, "w").write("ran")
        return config["n"]""")


def line_of(source: str, text: str) -> int:
    """The number of the first line of `source` that holds `text`."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


# A plugin that fails on import, and one that is no valid Python (the colon of run() is missing).
IMPORT_ERROR = plugin_source("c", "first", code="RATIO = 1 / 0")
SYNTAX_ERROR = plugin_source("c", "first").replace("def run(context, config):",
                                                   "def run(context, config)")

GOOD = {"a": plugin()}

# id -> (pipelines.yaml, system.yaml, plugin folders, expected located message, expected fix)
CASES = {
    "yaml-syntax-pipelines": (
        "pipelines:\n  p:\n    hooks: [first]\n    description: a: b\n  q:\n    hooks: [x]\n",
        "", GOOD, "config/pipelines.yaml:4: YAML syntax error: mapping values are not allowed here",
        "fix the indentation/quoting at that line"),
    "yaml-syntax-system": (
        PIPELINES, "cluster:\n  cpu_target: 0.5\n\tn_workers: 2\n", GOOD,
        "config/system.yaml:3: YAML syntax error: found character '\\t' that cannot start any token",
        "fix the indentation/quoting at that line"),
    "unknown-key-pipelines": (
        PIPELINES + "    shedule: '*/5 * * * *'\n", "", GOOD,
        "config/pipelines.yaml:5 [pipelines.p.shedule]: unknown key 'shedule' "
        "(did you mean 'schedule'?)",
        "remove it or use one of: alerts, atomic, catchup, config, depends_on, description, "
        "enabled, "
        "env, expected_duration, gates, grace_seconds, hooks, max_active_runs, max_catchup, "
        "max_data_age, on_unmet, overlap, paused, priority, provides, requires, retention, "
        "schedule, timezone"),
    "unknown-key-system": (
        PIPELINES, "cluster:\n  cpu_target: 0.5\n  adress: tcp://127.0.0.1:8786\n", GOOD,
        "config/system.yaml:3 [cluster.adress]: unknown key 'adress'",
        "remove it or use one of: address, cancel_grace_seconds, cpu_target"),
    "hook-map-unknown-plugin": (
        PIPELINES + "hooks:\n  first: ['a', 'nope']\n", "", GOOD,
        "config/pipelines.yaml:6 [hooks.first.1]: hook 'first' maps to unknown plugin 'nope'",
        "use a loaded plugin id (known: a) or add the plugin"),
    "plugin-names-missing-pipeline": (
        PIPELINES, "", {"a": plugin(pipelines=["p", "ghost"])},
        "plugins/a/__init__.py [PIPELINES]: plugin 'a' names pipeline 'ghost', which does not exist",
        "define 'ghost' in config/pipelines.yaml or remove it from PIPELINES"),
    "invalid-cron": (
        PIPELINES.replace("*/10 * * * *", "61 * * * *"), "", GOOD,
        "config/pipelines.yaml:4 [pipelines.p.schedule]: invalid cron expression '61 * * * *'",
        "use five fields: minute hour day-of-month month day-of-week"),
    "duplicate-plugin-name": (
        PIPELINES, "", {"a": plugin(), "b": plugin(name="a")},
        "plugins/b/__init__.py [PLUGIN_NAME]: PLUGIN_NAME 'a' is already used by "
        "plugins/a/__init__.py", "give each plugin a unique PLUGIN_NAME"),
    "plugin-import-error": (
        PIPELINES, "", {**GOOD, "c": IMPORT_ERROR},
        "plugins/c/__init__.py: plugin failed to import: ZeroDivisionError: division by zero "
        "(at ", "fix the error in the plugin's code"),
    "plugin-syntax-error": (
        PIPELINES, "", {**GOOD, "c": SYNTAX_ERROR},
        "plugins/c/__init__.py: plugin failed to import: SyntaxError: expected ':'",
        "fix the error in the plugin's code"),
    "default-config-mismatch": (
        PIPELINES, "", {"a": plugin(default="five")},
        "plugins/a/__init__.py [CONFIG_SCHEMA.n]: default/YAML config of plugin 'a' for pipeline "
        "'p' does not match CONFIG_SCHEMA: 'five' is not of type 'integer'",
        "correct the default in CONFIG_SCHEMA"),
}

# Where the failing import is, as printed after "(at ": the plugin file and its line.
IMPORT_LOCATIONS = {
    "plugin-import-error": f"plugins/c/__init__.py:{line_of(IMPORT_ERROR, 'RATIO')})",
    "plugin-syntax-error": f"plugins/c/__init__.py:{line_of(SYNTAX_ERROR, 'def run')})"}


def problem_lines(output: str) -> list[str]:
    """The problems of a validate report, each 'location: message' (mark stripped)."""
    return [line[2:] for line in output.splitlines() if line.startswith("✗ ")]


def assert_reported(result, message: str, fix: str):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    index = next((i for i, line in enumerate(lines) if message in line), None)
    assert index is not None, f"{message!r} not in:\n{result.stdout}"
    assert lines[index + 1].strip().startswith("fix: ") and fix in lines[index + 1], lines[index + 1]


@pytest.mark.parametrize("case", list(CASES))
def test_each_bad_input_is_located_with_a_fix(case, make_project, cli):
    pipelines, system, plugins, message, fix = CASES[case]
    project = make_project(pipelines, plugins, system=system)
    result = cli("validate", project=project)
    assert_reported(result, message, fix)
    assert "1 problem found" in result.stdout
    if case in IMPORT_LOCATIONS:
        assert IMPORT_LOCATIONS[case] in result.stdout


def test_stored_config_not_matching_schema(make_project, cli, store_env):
    project = make_project(PIPELINES, GOOD)
    client = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])
    client[store_env["DATAFLOW_MONGO_DB"]]["plugin_configs"].insert_one(
        {"_id": "a:p", "plugin": "a", "pipeline": "p", "config": {"n": "many"}})
    client.close()
    message = ("plugins/a/__init__.py [CONFIG_SCHEMA.n]: stored config of plugin 'a' for "
               "pipeline 'p' does not match CONFIG_SCHEMA: 'many' is not of type 'integer'")
    result = cli("validate", project=project)
    assert_reported(result, message, "`dataflow config set a --pipeline p")
    refused = cli("run", "p", project=project)
    assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr


def test_clean_project_is_valid(make_project, cli):
    project = make_project(PIPELINES, GOOD)
    result = cli("validate", project=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"ok: .* is valid \(1 plugins?, 1 pipelines?\)", result.stdout), result.stdout
    assert problem_lines(result.stdout) == []


def test_every_problem_is_listed_at_once(make_project, cli):
    pipelines = PIPELINES.replace("*/10 * * * *", "every ten minutes") + "    shedule: x\n"
    project = make_project(pipelines, {"a": plugin(), "b": plugin(name="a"),
                                       "c": plugin_source("c", "first", imports=[
                                           "no_such_module_for_dataflow_tests"])},
                           system="cluster:\n  adress: tcp://127.0.0.1:8786\n")
    result = cli("validate", project=project)
    assert result.returncode == 1
    found = "\n".join(problem_lines(result.stdout))
    for expected in ("config/system.yaml:2 [cluster.adress]: unknown key 'adress'",
                     "config/pipelines.yaml:5 [pipelines.p.shedule]: unknown key 'shedule'",
                     "config/pipelines.yaml:4 [pipelines.p.schedule]: invalid cron expression",
                     "plugins/b/__init__.py [PLUGIN_NAME]: PLUGIN_NAME 'a' is already used",
                     "plugins/c/__init__.py: plugin failed to import: ModuleNotFoundError"):
        assert expected in found, f"{expected!r} missing from:\n{result.stdout}"
    assert "5 problems found" in result.stdout


def test_run_refuses_an_invalid_project_with_the_same_messages(make_project, cli, tmp_path):
    marker = tmp_path / "ran.marker"
    pipelines = PIPELINES.replace("*/10 * * * *", "61 * * * *")
    project = make_project(pipelines, {"a": plugin(marker=str(marker)), "b": plugin(name="a")})
    report = cli("validate", project=project)
    problems = problem_lines(report.stdout)
    assert len(problems) == 2, report.stdout
    refused = cli("run", "p", project=project)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "2 problems in the project configuration" in refused.stderr
    for problem in problems:
        assert problem in refused.stderr, f"{problem!r} missing from:\n{refused.stderr}"
    assert not marker.exists(), "no plugin code may run for an invalid project"
