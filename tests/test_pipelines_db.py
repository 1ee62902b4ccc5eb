"""Pipelines stored in the database, through the real `dataflow pipelines` CLI and the
ConfigManager: create → run → completes; validation like pipelines.yaml; the rule when
YAML and the database both define a name (YAML wins), both ways."""
from __future__ import annotations

import json

import pymongo
import pytest

from dataflow import Project
from dataflow.errors import PipelineValidationError

from conftest import ok, plugin_source, refused

PIPELINES = """
pipelines:
  ok:
    hooks: ["first", "second"]
"""

ROWS = {"type": "object", "properties": {"rows": {"type": "integer", "default": 3}}}
REPORT = """
return {"pipeline": context["pipeline"], "rows": config["rows"],
        "inputs": sorted(context["inputs"])}
"""
PLUGINS = {name: plugin_source(name, hook, body=REPORT, CONFIG_SCHEMA=ROWS)
           for name, hook in (("loader", "first"), ("summer", "second"))}


@pytest.fixture
def project(make_project):
    return make_project(PIPELINES, PLUGINS)


def listed(cli, project) -> dict:
    entries = json.loads(ok(cli("pipelines", "--json", project=project)).stdout)
    return {(entry["name"], entry["source"]): entry for entry in entries}


def test_a_stored_pipeline_is_created_run_and_deleted(cli, project):
    created = ok(cli("pipelines", "create", "nightly", "--hooks", "first, second",
                     "--schedule", "0 2 * * *", "--priority", "high", project=project))
    assert "stored pipeline nightly: hooks first, second, schedule 0 2 * * *" in created.stdout
    entries = listed(cli, project)
    assert set(entries) == {("ok", "yaml"), ("nightly", "db")}
    assert entries[("nightly", "db")]["priority"] == "high"
    assert entries[("nightly", "db")]["author"].startswith("cli")
    spec = Project(project).pipelines["nightly"]
    assert (spec.hooks, spec.schedule, spec.source) == (("first", "second"), "0 2 * * *", "db")
    ok(cli("config", "set", "loader", "--pipeline", "nightly", "rows=9", project=project))
    run = json.loads(ok(cli("run", "nightly", "--json", project=project)).stdout)
    assert run["status"] == "completed"
    assert set(run["tasks"]) == {"first.loader", "second.summer"}
    record = json.loads(ok(cli("show", run["run_id"], "--json", project=project)).stdout)
    assert record["pipeline"] == "nightly" and record["priority"] == "high"
    assert {t["plugin"]: t["config"] for t in record["tasks"]} == {
        "loader": {"rows": 9}, "summer": {"rows": 3}}
    table = ok(cli("pipelines", "list", project=project)).stdout
    rows = [[cell.strip() for cell in line.split("│")] for line in table.splitlines()]
    assert ["nightly", "db", "first, second", "0 2 * * *", "high"] in [r[:5] for r in rows], table
    deleted = ok(cli("pipelines", "delete", "nightly", project=project))
    assert "deleted stored pipeline nightly" in deleted.stdout
    assert set(listed(cli, project)) == {("ok", "yaml")}
    refused(cli("run", "nightly", project=project), "no pipeline named 'nightly' (known: ok)")


def test_definitions_are_validated_like_pipelines_yaml(cli, project, store_env):
    refused(cli("pipelines", "create", "bad", "--hooks", "", "--schedule", "61 * * * *",
                "--priority", "urgent", project=project),
            "pipeline 'bad' is invalid (nothing was saved)", "  - hooks: [] should be non-empty",
            "  - priority: 'urgent' is not one of ['low', 'normal', 'high', 'critical']",
            "  - schedule: invalid cron expression '61 * * * *'", "use five fields")
    refused(cli("pipelines", "create", "no good", "--hooks", "a b", project=project),
            "  - name: 'no good' is not a valid pipeline name",
            "  - hooks.0: 'a b' is not a valid hook name")
    manager = Project(project).config
    with pytest.raises(PipelineValidationError) as raised:
        manager.create_pipeline("strung", "first")
    assert raised.value.errors == [{"field": "hooks", "message": "'first' is not of type 'array'"}]
    assert set(listed(cli, project)) == {("ok", "yaml")}, "nothing was stored"
    manager.create_pipeline("hourly", ["first"], schedule="0 * * * *")
    with pytest.raises(PipelineValidationError, match="unknown field 'config'"):
        manager.update_pipeline("hourly", config={"loader": {}})
    ok(cli("pipelines", "update", "hourly", "--schedule", "", "--priority", "low",
           "--hooks", "first,second", project=project))
    assert manager.get_pipeline_config("hourly") == {
        "name": "hourly", "hooks": ["first", "second"], "schedule": None, "priority": "low",
        "description": "", "enabled": True, "source": "db"}
    refused(cli("pipelines", "create", "hourly", "--hooks", "first", project=project),
            "a stored pipeline named 'hourly' already exists")
    refused(cli("pipelines", "update", "ghost", "--priority", "low", project=project),
            "no stored pipeline named 'ghost' (stored: hourly)")


def test_a_name_yaml_defines_cannot_be_stored(cli, project):
    refused(cli("pipelines", "create", "ok", "--hooks", "first", project=project),
            "cannot create pipeline 'ok' in the database: config/pipelines.yaml defines a "
            "pipeline of that name, and YAML definitions win over stored ones")
    refused(cli("pipelines", "update", "ok", "--priority", "low", project=project),
            "pipeline 'ok' is defined in config/pipelines.yaml, not in the database")
    refused(cli("pipelines", "delete", "ok", project=project),
            "pipeline 'ok' is defined in config/pipelines.yaml, not in the database; change or "
            "remove it in that file")
    assert set(listed(cli, project)) == {("ok", "yaml")}


def test_when_yaml_gains_a_stored_name_yaml_wins_and_validate_says_so(cli, project, make_project):
    ok(cli("pipelines", "create", "nightly", "--hooks", "second", project=project))
    ok(cli("validate", project=project))
    make_project(PIPELINES + '  nightly:\n    hooks: ["first"]\n', PLUGINS)
    plan = json.loads(ok(cli("run", "nightly", "--dry-run", "--json", project=project)).stdout)
    assert [hook["hook"] for hook in plan["hooks"]] == ["first"], "the YAML definition is used"
    assert Project(project).pipelines["nightly"].source == "yaml"
    entries = listed(cli, project)
    assert entries[("nightly", "yaml")]["hooks"] == ["first"]
    assert "config/pipelines.yaml defines 'nightly' too" in entries[("nightly", "db")]["ignored"]
    validated = cli("validate", project=project)
    assert validated.returncode == 1
    assert ("config/pipelines.yaml:5 [pipelines.nightly]: pipeline 'nightly' is defined in both "
            "config/pipelines.yaml and the database (collection 'pipelines'); the YAML definition "
            "is used") in validated.stdout
    assert "fix: delete the stored one with `dataflow pipelines delete nightly`" in validated.stdout
    refused(cli("pipelines", "update", "nightly", "--priority", "low", project=project),
            "cannot update pipeline 'nightly' in the database")
    deleted = ok(cli("pipelines", "delete", "nightly", project=project))
    assert "pipeline nightly of config/pipelines.yaml stays" in deleted.stdout
    ok(cli("validate", project=project))


def test_a_broken_stored_document_is_ignored_and_reported(cli, project, store_env):
    client = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])
    ok(cli("pipelines", "create", "hourly", "--hooks", "first", project=project))
    client[store_env["DATAFLOW_MONGO_DB"]]["pipelines"].update_one(
        {"_id": "hourly"}, {"$set": {"schedule": "every hour"}})
    client.close()
    assert "hourly" not in Project(project).pipelines
    entry = listed(cli, project)[("hourly", "db")]
    assert entry["ignored"].startswith("invalid: schedule: invalid cron expression 'every hour'")
    validated = cli("validate", project=project)
    assert validated.returncode == 1
    assert "stored pipeline 'hourly' is invalid and is ignored" in validated.stdout
    refused(cli("run", "hourly", "--dry-run", project=project), "no pipeline named 'hourly'")
    ok(cli("pipelines", "update", "hourly", "--schedule", "0 * * * *", project=project))
    ok(cli("validate", project=project))
