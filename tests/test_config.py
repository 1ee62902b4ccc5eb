"""Plugin config through the ConfigManager and the real `dataflow config` CLI, on the real
store: round trip into a run's task record, layering order, rejection with field-level
errors and nothing written, history and restore, clear errors for unknown names."""
from __future__ import annotations

import json
import shutil

import pymongo
import pytest

from dataflow import Project
from dataflow.store.embedded import stop_embedded_server

from conftest import RUN_TIMEOUT, ok, plugin_source, refused

PIPELINES = """
pipelines:
  ok:
    hooks: ["first"]
    config:
      writer: {piped: "pipeline", both: "pipeline"}
  other:
    hooks: ["first"]
plugin_config:
  writer: {shared: "plugin_config", piped: "plugin_config", both: "plugin_config"}
"""

# Writes the config it got to the file SEEN.
WRITER = """
with open(SEEN, "w") as out:
    json.dump(config, out)
return config
"""


def writer(version, maximum, seen):
    """Plugin `writer` of VERSION `version`, its `window` at most `maximum`."""
    schema = {"type": "object", "additionalProperties": False, "properties": {
        "window": {"type": "integer", "default": 5, "minimum": 1, "maximum": maximum},
        "rows": {"type": "integer", "default": 3, "minimum": 1},
        "label": {"type": "string", "default": "none"},
        "shared": {"type": "string", "default": "default"},
        "piped": {"type": "string", "default": "default"},
        "both": {"type": "string", "default": "default"},
        "bands": {"type": "object", "properties": {
            "n": {"type": "integer", "default": 20}, "width": {"type": "number", "default": 2}}}}}
    return plugin_source("writer", "first", body=WRITER, imports=["json"], VERSION=version,
                         CONFIG_SCHEMA=schema, SEEN=str(seen))


@pytest.fixture
def project(make_project, tmp_path):
    seen = tmp_path / "config-seen.json"
    directory = make_project(PIPELINES, {"writer": writer("1.2.0", 100, seen)})
    return {"dir": directory, "seen": seen}


def rewrite_writer(make_project, project, version, maximum):
    """A new plugin version; its stale bytecode is dropped (same size, same second)."""
    folder = make_project.add_plugin("writer", writer(version, maximum, project["seen"]))
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)


def shown(cli, directory, pipeline="ok"):
    return json.loads(ok(cli("config", "show", "writer", "--pipeline", pipeline, "--json",
                             project=directory)).stdout)


def test_set_show_and_the_run_records_the_config_it_used(cli, project):
    directory = project["dir"]
    before = shown(cli, directory)
    assert before["version"] is None and before["config"]["window"] == 5
    result = ok(cli("config", "set", "writer", "--pipeline", "ok", "window=10", "bands.width=2.5",
                    "label=2024-01-31", project=directory))
    assert "stored config version 1 of plugin writer for pipeline ok" in result.stdout
    after = shown(cli, directory)
    expected = {"window": 10, "rows": 3, "label": "2024-01-31", "shared": "plugin_config",
                "piped": "pipeline", "both": "pipeline", "bands": {"n": 20, "width": 2.5}}
    assert after["config"] == expected, "YAML scalars: 10 an int, the date stays a string"
    assert after["version"] == 1 and after["author"].startswith("cli")
    table = ok(cli("config", "show", "writer", "-p", "ok", project=directory)).stdout
    assert "stored version 1" in table and "window" in table and "stored" in table
    run = json.loads(ok(cli("run", "ok", "--json", project=directory)).stdout)
    assert run["status"] == "completed"
    assert json.loads(project["seen"].read_text()) == expected, "the plugin got that config"
    record = json.loads(ok(cli("show", run["run_id"], "--json", project=directory)).stdout)
    assert [task["config"] for task in record["tasks"]] == [expected]


def test_layers_apply_in_order_defaults_yaml_pipeline_stored(cli, project, store_env):
    directory = project["dir"]
    ok(cli("config", "set", "writer", "-p", "ok", "--json", '{"both": "stored", "bands": {"n": 9}}',
           project=directory))
    described = shown(cli, directory)
    config, sources = described["config"], described["sources"]
    assert (config["window"], sources["window"]) == (5, "default")
    assert (config["shared"], sources["shared"]) == ("plugin_config", "yaml")
    assert (config["piped"], sources["piped"]) == ("pipeline", "yaml"), "pipeline over global"
    assert (config["both"], sources["both"]) == ("stored", "stored"), "stored over YAML"
    assert config["bands"] == {"n": 9, "width": 2}, "nested objects merge over the defaults"
    manager = Project(directory).config
    assert manager.get_plugin_config("writer", "ok") == config
    other = manager.get_plugin_config("writer", "other")
    assert (other["piped"], other["both"], other["bands"]) == (
        "plugin_config", "plugin_config", {"n": 20, "width": 2}), "per pipeline, not shared"
    merged = ok(cli("config", "set", "writer", "-p", "ok", "rows=4", project=directory))
    assert '"both": "stored"' in merged.stdout, "set merges new keys into the stored layer"
    replaced = ok(cli("config", "set", "writer", "-p", "ok", "--replace", "rows=6",
                      project=directory))
    assert 'pipeline ok: {"rows": 6}' in replaced.stdout
    assert shown(cli, directory)["config"]["both"] == "pipeline", "--replace dropped 'both'"


def stored_state(store_env):
    client = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])
    db = client[store_env["DATAFLOW_MONGO_DB"]]
    state = (list(db["config_history"].find({}, {"_id": 1})), db["plugin_configs"].find_one(),
             db["meta"].find_one({"_id": "config-version:writer:ok"}))
    client.close()
    return state


def test_invalid_values_are_refused_field_by_field_and_nothing_is_written(cli, project, store_env):
    directory = project["dir"]
    ok(cli("config", "set", "writer", "-p", "ok", "window=7", project=directory))
    before = stored_state(store_env)
    refused(cli("config", "set", "writer", "-p", "ok", "window=abc", "rows=0", "colour=red",
                project=directory),
            "config of plugin 'writer' for pipeline 'ok' is invalid (nothing was saved)",
            "  - window: 'abc' is not of type 'integer'", "  - rows: 0 is less than the minimum of 1",
            "  - colour: unknown field 'colour'", "fix: correct these fields")
    refused(cli("config", "set", "writer", "-p", "ok", "--json", '{"window": 5', project=directory),
            "--json is not valid JSON")
    refused(cli("config", "set", "writer", "-p", "ok", "--json", "[1]", project=directory),
            "--json must be a JSON object")
    bad_file = directory / "bad.yaml"
    bad_file.write_text("window: 5\n  rows: [\n")
    refused(cli("config", "set", "writer", "-p", "ok", "--file", bad_file, project=directory),
            f"{bad_file}:2: YAML syntax error")
    refused(cli("config", "set", "writer", "-p", "ok", project=directory), "give the new values one way")
    refused(cli("config", "set", "writer", "-p", "ok", "window", project=directory),
            "'window' is not KEY=VALUE")
    assert stored_state(store_env) == before, "no version, no stored change, no counter bump"
    history = json.loads(ok(cli("config", "history", "writer", "-p", "ok", "--json",
                                project=directory)).stdout)
    assert [entry["config"] for entry in history] == [{"window": 7}]


def test_history_lists_versions_and_restore_stores_an_old_one_again(cli, project, make_project):
    directory = project["dir"]
    ok(cli("config", "set", "writer", "-p", "ok", "window=10", project=directory))
    rewrite_writer(make_project, project, "1.3.0", 100)
    ok(cli("config", "set", "writer", "-p", "ok", "--json", '{"window": 20}', "--author", "ops",
           project=directory))
    values = directory / "values.yaml"
    values.write_text("label: from-file\n")
    ok(cli("config", "set", "writer", "-p", "ok", "--file", values, project=directory))
    history = json.loads(ok(cli("config", "history", "writer", "-p", "ok", "--json",
                                project=directory)).stdout)
    assert [(h["version"], h["plugin_version"], h["config"]) for h in history] == [
        (3, "1.3.0", {"window": 20, "label": "from-file"}), (2, "1.3.0", {"window": 20}),
        (1, "1.2.0", {"window": 10})], "newest first, with the plugin version of the time"
    assert history[1]["author"] == "ops" and all(h["updated"] for h in history)
    table = ok(cli("config", "history", "writer", "-p", "ok", project=directory)).stdout
    assert "plugin version" in table and "1.2.0" in table and '{"window": 10}' in table
    restored = ok(cli("config", "restore", "writer", "-p", "ok", "--version", "1",
                      project=directory))
    assert "restored version 1 of plugin writer for pipeline ok as version 4" in restored.stdout
    assert shown(cli, directory)["config"]["window"] == 10
    assert shown(cli, directory)["config"]["label"] == "none", "restore replaces the layer"
    latest = Project(directory).config.history("writer", "ok")[0]
    assert (latest["version"], latest["restored_from"]) == (4, 1)
    refused(cli("config", "restore", "writer", "-p", "ok", "--version", "99", project=directory),
            "has no stored config version 99", "(versions: 1, 2, 3, 4)")


def test_a_stored_value_the_schema_no_longer_allows_is_reported(cli, project, make_project):
    directory = project["dir"]
    ok(cli("config", "set", "writer", "-p", "ok", "window=10", project=directory))
    ok(cli("config", "set", "writer", "-p", "ok", "window=3", project=directory))
    rewrite_writer(make_project, project, "2.0.0", 5)
    refused(cli("config", "restore", "writer", "-p", "ok", "--version", "1", project=directory),
            "  - window: 10 is greater than the maximum of 5")
    ok(cli("config", "restore", "writer", "-p", "ok", "--version", "2", project=directory))
    ok(cli("config", "set", "writer", "-p", "ok", "rows=2", project=directory))
    rewrite_writer(make_project, project, "2.1.0", 2)
    described = shown(cli, directory)
    assert described["errors"] == [{"field": "window",
                                    "message": "3 is greater than the maximum of 2"}]
    result = cli("validate", project=directory)
    assert result.returncode == 1
    assert ("stored config of plugin 'writer' for pipeline 'ok' does not match CONFIG_SCHEMA: "
            "3 is greater than the maximum of 2") in result.stdout
    assert "fix: store a valid value with `dataflow config set writer --pipeline ok" in result.stdout


@pytest.mark.parametrize("command", [
    ("show",), ("set", "window=3"), ("history",), ("restore", "--version", "1")])
def test_unknown_plugin_or_pipeline_is_a_clear_error(cli, project, command):
    name, *rest = command
    refused(cli("config", name, "nope", "--pipeline", "ok", *rest, project=project["dir"]),
            "no plugin named 'nope' (known: writer)")
    refused(cli("config", name, "writer", "--pipeline", "ghost", *rest, project=project["dir"]),
            "no pipeline named 'ghost' (known: ok, other)")


# Asks the ConfigManager for writer's config and writes it to the file SEEN.
READER = """
seen = context["services"]["config"].get_plugin_config("writer", context["pipeline"])
with open(SEEN, "w") as out:
    json.dump(seen, out)
"""


def test_a_plugin_reads_config_through_the_manager_on_a_worker(make_project, engine_for, tmp_path,
                                                              cli):
    seen, asked = tmp_path / "writer-seen.json", tmp_path / "reader-asked.json"
    directory = make_project(PIPELINES.replace('hooks: ["first"]', 'hooks: ["first", "second"]'),
                             {"writer": writer("1.0.0", 100, seen),
                              "reader": plugin_source("reader", "second", body=READER,
                                                      imports=["json"], SEEN=str(asked))})
    ok(cli("config", "set", "writer", "-p", "ok", "window=11", project=directory))
    try:
        result = engine_for(directory).run("ok", timeout=RUN_TIMEOUT)
        assert result.status == "completed", result.error
        assert json.loads(asked.read_text()) == json.loads(seen.read_text())
        assert json.loads(asked.read_text())["window"] == 11, "the run's store, not the worker's"
    finally:
        stop_embedded_server(directory / ".dataflow")
