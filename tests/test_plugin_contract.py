"""The plugin contract as a plugin author sees it: `context["dry_run"]` is gone from the
contract but old plugins still read it (always False); the registry describes a plugin
with its get_metadata() and get_config_ui(), reporting a broken one instead of raising;
`format` in a CONFIG_SCHEMA is checked (`dataflow config set`, `dataflow validate`); code
shared between plugins is part of every plugin using it (source hash, cache, the copy the
workers run); and the examples of docs/configuration.md are valid for the shipped plugins."""
from __future__ import annotations

import json
import re
import shlex
from importlib import import_module

import yaml
from conftest import REPO, ok, refused

from dataflow import Project
from dataflow.config.schema_check import config_field_errors
from dataflow.config.settings import SYSTEM_SCHEMA
from dataflow.statuses import RunStatus

RUN_TIMEOUT = 120

# Written to the old contract: it branches on dry_run and reads it every way a mapping can.
OLD_STYLE = '''
PLUGIN_NAME = "old_style"
HOOKS = ["load"]
def run(context, config):
    if not context["dry_run"]:
        context["services"]["db"]["written"].insert_one({"by": PLUGIN_NAME})
    return {"item": context["dry_run"], "attribute": context.dry_run,
            "get": context.get("dry_run", "missing"), "contains": "dry_run" in context,
            "in_dict": dict(context)["dry_run"]}
'''


def test_a_plugin_reading_dry_run_still_works_and_sees_false(make_project, engine_for):
    project = make_project("pipelines: {p: {hooks: [load]}}", {"old_style": OLD_STYLE})
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == RunStatus.COMPLETED, result.error
    assert result.output("old_style", timeout=RUN_TIMEOUT) == {
        "item": False, "attribute": False, "get": False, "contains": True, "in_dict": False}
    assert engine.project.store.data_db()["written"].count_documents({}) == 1


def test_the_shipped_plugins_no_longer_branch_on_dry_run():
    users = [str(path.relative_to(REPO)) for path in sorted((REPO / "plugins").rglob("*.py"))
             if "dry_run" in path.read_text()]
    assert users == []


HEAD = 'PLUGIN_NAME = "{}"\nHOOKS = ["load"]\ndef run(context, config):\n    return 1\n'
SCHEMA_N = 'CONFIG_SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}\n'
DESCRIBED = {name: HEAD.format(name) + body for name, body in {
    "shown": '''
def get_metadata():
    return {"author": "ops", "sources": ["bokeh"]}
def get_config_ui():
    return "<form><input name='n'></form>"
''',
    "schema_form": SCHEMA_N + '''
def get_config_ui():
    return {"type": "object", "properties": {"n": {"type": "integer", "title": "N"}}}
''',
    "broken": SCHEMA_N + '''
def get_metadata():
    raise ValueError("no metadata today")
def get_config_ui():
    return 42
''',
    "wrong_type": '''
def get_metadata():
    return ["not", "a", "dict"]
def get_config_ui():
    raise RuntimeError("no form")
''',
    "plain": SCHEMA_N.replace('"integer"', '"integer", "default": 2'),
}.items()}


def test_describe_includes_metadata_and_config_ui_and_reports_broken_ones(make_project):
    registry = Project(make_project("pipelines: {p: {hooks: [load]}}", DESCRIBED)).registry
    assert registry.problems == []
    shown = registry.describe("shown")
    assert shown["id"] == "shown" and shown["source_hash"] and shown["hooks"] == ["load"]
    assert shown["metadata"] == {"author": "ops", "sources": ["bokeh"]}
    assert shown["config_ui"] == {"kind": "html", "html": "<form><input name='n'></form>"}
    assert "metadata_error" not in shown and "config_ui_error" not in shown
    form = registry.describe("schema_form")
    assert form["metadata"] == {}
    assert form["config_ui"]["kind"] == "schema"
    assert form["config_ui"]["schema"]["properties"]["n"]["title"] == "N"
    broken = registry.describe("broken")
    assert broken["metadata"] is None
    assert "ValueError" in broken["metadata_error"] and "no metadata today" in broken["metadata_error"]
    assert "int" in broken["config_ui_error"]
    assert broken["config_ui"] == {"kind": "schema", "schema": broken["config_schema"]}
    wrong = registry.describe("wrong_type")
    assert wrong["metadata"] is None and "list" in wrong["metadata_error"]
    assert "RuntimeError" in wrong["config_ui_error"] and "no form" in wrong["config_ui_error"]
    plain = registry.describe("plain")
    assert plain["metadata"] == {} and "metadata_error" not in plain
    assert plain["config_ui"] == {"kind": "schema", "schema": plain["config_schema"]}
    assert plain["config_schema"]["properties"]["n"]["default"] == 2
    json.dumps([registry.describe(pid) for pid in registry.plugins])   # the panel gets JSON


DATED = '''
PLUGIN_NAME = "dated"
HOOKS = ["load"]
CONFIG_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "start": {"type": ["string", "null"], "format": "date", "default": None}}}
def run(context, config):
    return config["start"]
'''


def history(cli, project) -> list:
    return json.loads(ok(cli("config", "history", "dated", "--pipeline", "p", "--json",
                             project=project)).stdout)


def test_a_date_format_is_checked_by_config_set(make_project, cli):
    project = make_project("pipelines: {p: {hooks: [load]}}", {"dated": DATED})
    bad = refused(cli("config", "set", "dated", "--pipeline", "p", "start=2024-13-45",
                      project=project), "start")
    assert "2024-13-45" in bad.stderr and "date" in bad.stderr
    assert history(cli, project) == [], "nothing was saved"
    ok(cli("config", "set", "dated", "--pipeline", "p", "start=2024-01-31", project=project))
    saved = history(cli, project)
    assert len(saved) == 1 and saved[0]["config"] == {"start": "2024-01-31"}


def test_a_bad_date_in_yaml_is_a_validate_problem(make_project, cli):
    project = make_project(
        'pipelines: {p: {hooks: [load], config: {dated: {start: "2024-02-30"}}}}',
        {"dated": DATED})
    result = cli("validate", project=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "start" in result.stdout and "2024-02-30" in result.stdout


# The real case of bar_rebuilder and ohlcv_aggregator: one plugin imports another's module,
# which imports a helper .py file beside the plugin folders (shared transitively).
BASE = '''
from .calc import factor
PLUGIN_NAME = "base_plugin"
HOOKS = ["unused"]
def run(context, config):
    return factor()
'''
CALC = '''from shared_offset import OFFSET

FACTOR = 1


def factor():
    return FACTOR + OFFSET
'''
USER = '''
from base_plugin.calc import factor
PLUGIN_NAME = "user_plugin"
HOOKS = ["compute"]
CACHE = {"ttl": 600}
def scaled(value):
    return value * factor()
def run(context, config):
    jobs = context["services"]["jobs"]
    return {"factor": factor(), "jobs": jobs.gather(jobs.map(scaled, [1, 2], name="scale"))}
'''


def user_run(engine) -> tuple[str, dict]:
    engine.project.reload()
    source = engine.project.registry.get("user_plugin").ref.source_hash
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == RunStatus.COMPLETED, result.error
    return source, result.output("user_plugin", timeout=RUN_TIMEOUT)


def test_editing_shared_code_changes_the_hash_and_the_code_the_workers_run(make_project,
                                                                         engine_for):
    project = make_project("pipelines: {p: {hooks: [compute]}}",
                           {"base_plugin": BASE, "user_plugin": USER})
    (project / "plugins" / "base_plugin" / "calc.py").write_text(CALC)
    (project / "plugins" / "shared_offset.py").write_text("OFFSET = 0\n")
    engine = engine_for(project)
    first, output = user_run(engine)
    assert output == {"factor": 1, "jobs": [1, 2]}
    (project / "plugins" / "base_plugin" / "calc.py").write_text(CALC.replace("= 1", "= 2"))
    second, output = user_run(engine)
    assert second != first, "the shared module is part of user_plugin's source hash"
    assert output == {"factor": 2, "jobs": [2, 4]}, "not the stale copy, nor the cached output"
    (project / "plugins" / "shared_offset.py").write_text("OFFSET = 10\n")
    third, output = user_run(engine)
    assert third not in (first, second), "a module shared transitively counts too"
    assert output == {"factor": 12, "jobs": [12, 24]}


def doc_blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "configuration.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def doc_yaml() -> tuple[dict, dict]:
    """The pipelines.yaml and system.yaml examples of docs/configuration.md."""
    documents = [yaml.safe_load(block) for block in doc_blocks("yaml")]
    pipelines = [d for d in documents if "pipelines" in d]
    system = [d for d in documents if "pipelines" not in d]
    assert len(pipelines) == 1 and len(system) == 1, "the doc's two YAML examples"
    return pipelines[0], system[0]


def test_the_configuration_doc_examples_are_valid_for_the_shipped_plugins(make_project, cli):
    pipelines, system = doc_yaml()
    shipped = {path.parent.name for path in (REPO / "plugins").glob("*/__init__.py")}
    layers = [("plugin_config", pipelines.get("plugin_config") or {})] + [
        (f"pipelines.{name}.config", spec.get("config") or {})
        for name, spec in pipelines["pipelines"].items()]
    assert any(configs for _, configs in layers), "the doc shows plugin config"
    for where, configs in layers:
        for plugin_id, config in configs.items():
            assert plugin_id in shipped, f"{where}.{plugin_id} is not a shipped plugin"
            # the shipped plugins are importable here: pytest puts plugins/ on sys.path
            errors = config_field_errors(config, import_module(plugin_id).CONFIG_SCHEMA)
            assert errors == [], f"{where}.{plugin_id}: {errors}"
    assert config_field_errors(system, SYSTEM_SCHEMA) == []
    # the example in the shipped project, whose plugins name its other pipelines too
    others = yaml.safe_load((REPO / "config" / "pipelines.yaml").read_text())["pipelines"]
    combined = {**pipelines, "pipelines": {**others, **pipelines["pipelines"]}}
    project = make_project(yaml.safe_dump(combined), system=yaml.safe_dump(system),
                           copy_default_plugins=True)
    ok(cli("validate", project=project))
    commands = [shlex.split(line.split("#")[0]) for block in doc_blocks("bash")
                for line in block.splitlines() if line.startswith("dataflow config set ")]
    concrete = [args for args in commands if args[3] in shipped]
    assert len(concrete) >= 2, commands
    for args in concrete:
        ok(cli(*args[1:], project=project))
