"""Plugin versions (issue 11, item 3): every task records the plugin's VERSION and source
hash, `dataflow plugins --history ID` shows which versions ran when; a stored config saved
under an older major VERSION is flagged by `validate`, and the plugin's
migrate_config(old_config, old_version) is applied (on load, or by `dataflow config
migrate`) and recorded as a new config version."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import RUN_TIMEOUT, ok, plugin_source, refused

from dashboards.widgets.run_details import tasks_html
from dataflow.config.migrate import major, outdated

PIPELINES = """\
pipelines:
  p:
    hooks: ["work"]
  q:
    hooks: ["work"]
"""
V1_SCHEMA = {"type": "object", "properties": {"window": {"type": "integer", "default": 3}}}
V2_SCHEMA = {"type": "object", "properties": {"period": {"type": "integer", "default": 10}}}
MIGRATE = '''
def migrate_config(old_config, old_version):
    """1.x called it window; 2.0 calls it period."""
    new = dict(old_config)
    new["period"] = new.pop("window", 10)
    return new
'''


def versioned(version: str, schema: dict, code: str = "", name: str = "ver") -> str:
    return plugin_source(name, "work", ("p", "q"), VERSION=version, CONFIG_SCHEMA=schema,
                         code=code, body="return dict(config)")


@pytest.mark.fast
def test_major_versions_compare():
    assert major("2.1.0") == 2 and major("v3") == 3 and major("dev") is None
    assert outdated("1.9.9", "2.0.0") and not outdated("2.0.0", "2.5.0")
    assert not outdated(None, "2.0.0") and not outdated("1.0", "beta")


@pytest.mark.fast
def test_the_run_page_shows_each_tasks_version():
    model = SimpleNamespace(tasks={"work.ver": {
        "status": "completed", "plugin_version": "2.0.0", "source_hash": "abcdef1234567890"}})
    shown = tasks_html(model)
    assert "<th style='text-align:left'>version</th>" in shown
    assert '<span title="source abcdef123456">2.0.0</span>' in shown


def test_history_shows_each_version_that_ran(make_project, engine_for, cli):
    project_dir = make_project(PIPELINES, {"ver": versioned("1.0.0", V1_SCHEMA)})
    engine = engine_for(project_dir)
    assert engine.run("p", timeout=RUN_TIMEOUT).ok
    first_hash = engine.project.registry.get("ver").ref.source_hash
    make_project.add_plugin("ver", versioned("2.0.0", V2_SCHEMA))
    assert engine.project.reload() == ["ver"]
    for _ in range(2):
        assert engine.run("p", timeout=RUN_TIMEOUT).ok
    engine.project.recorder.flush()
    task = engine.project.db["tasks"].find_one({"plugin": "ver", "plugin_version": "2.0.0"})
    second_hash = engine.project.registry.get("ver").ref.source_hash
    assert task["source_hash"] == second_hash != first_hash

    shown = json.loads(ok(cli("plugins", "--history", "ver", "--json", project=project_dir)).stdout)
    assert shown["current_version"] == "2.0.0"
    versions = [(v["version"], v["source_hash"], v["runs"], v["last_status"], v["current"])
                for v in shown["versions"]]
    assert versions == [("2.0.0", second_hash, 2, "completed", True),
                        ("1.0.0", first_hash, 1, "completed", False)]
    assert all(v["first_run"] <= v["last_run"] for v in shown["versions"])
    table = ok(cli("plugins", "--history", "ver", project=project_dir)).stdout
    assert "2.0.0" in table and "1.0.0" in table and "← loaded now" in table
    refused(cli("plugins", "--history", "vr", project=project_dir),
            "no plugin named 'vr' (did you mean 'ver'?)", "dataflow plugins")


def test_migrate_config_is_applied_and_recorded(make_project, engine_for, cli):
    project_dir = make_project(PIPELINES, {"ver": versioned("1.4.0", V1_SCHEMA),
                                           "plain": versioned("1.0.0", V1_SCHEMA, name="plain")})
    engine = engine_for(project_dir)
    for pipeline in ("p", "q"):
        engine.project.config.update_plugin_config("ver", pipeline, {"window": 5}, "test")
    engine.project.config.update_plugin_config("plain", "p", {"window": 7}, "test")
    make_project.add_plugin("ver", versioned("2.0.0", V2_SCHEMA, MIGRATE))
    make_project.add_plugin("plain", versioned("2.0.0", V2_SCHEMA, name="plain"))
    assert sorted(engine.project.reload()) == ["plain", "ver"]

    flagged = ok(cli("validate", project=project_dir)).stdout
    assert flagged.count("was saved under 1.4.0; the plugin is 2.0.0 now") == 2, flagged
    assert "dataflow config migrate ver --pipeline p" in flagged
    assert "saved under 1.0.0" in flagged and "has no migrate_config" in flagged

    migrated = ok(cli("config", "migrate", "ver", "--pipeline", "q", project=project_dir)).stdout
    assert "from 1.4.0: stored as version 2" in migrated and '"period": 5' in migrated
    refused(cli("config", "migrate", "plain", project=project_dir),
            "defines no migrate_config(old_config, old_version)")

    result = engine.run("p", timeout=RUN_TIMEOUT)           # loads p's config: migrated
    assert result.ok and result.output("ver") == {"period": 5}
    history = engine.project.config.history("ver", "p")
    assert [(h["version"], h["plugin_version"], h["author"]) for h in history] == [
        (2, "2.0.0", "migrate"), (1, "1.4.0", "test")]
    assert history[0]["comment"] == "migrated from 1.4.0 to 2.0.0"
    assert history[0]["config"] == {"period": 5} and history[0]["migrated_from"] == "1.4.0"
    assert result.output("plain") == {"window": 7, "period": 10}    # used as it is
    again = ok(cli("validate", project=project_dir)).stdout
    assert "1.4.0" not in again and "saved under 1.0.0" in again
    assert ok(cli("config", "migrate", "ver", project=project_dir)).stdout.startswith(
        "nothing to migrate")
