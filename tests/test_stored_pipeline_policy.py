"""Pipelines stored in the database carry what a pipelines.yaml entry does: the whole
schedule policy (timezone, catchup, max_catchup, overlap, max_active_runs, paused),
max_data_age, expected_duration and alerts — validated with the same words as YAML,
and read by the scheduler (`dataflow schedule --json`) and the alerts alike."""
from __future__ import annotations

import json

import pytest
from conftest import ProjectFactory, ok, plugin_source

from dataflow import Project
from dataflow.alerts.service import AlertService
from dataflow.errors import PipelineValidationError
from dataflow.schedule.policy import SchedulePolicy

PIPELINES = "pipelines:\n  ok: {hooks: [first]}\n"
POLICY = {"timezone": "Europe/Paris", "catchup": "all", "max_catchup": 3, "overlap": "queue",
          "max_active_runs": 2, "paused": True}
WATCH = {"max_data_age": "26h", "expected_duration": "30m",
         "alerts": {"email": {"on_failure": True, "to": ["ops@example.com"]}}}


@pytest.fixture
def project(make_project):
    return make_project(PIPELINES, {"loader": plugin_source("loader", "first")})


def test_a_stored_pipeline_carries_the_full_policy_and_alert_keys(project, store_env, cli):
    manager = Project(project).config
    described = manager.create_pipeline("nightly", ["first"], schedule="30 2 * * *",
                                        author="test", **POLICY, **WATCH)
    assert {key: described[key] for key in [*POLICY, *WATCH]} == {**POLICY, **WATCH}
    pipeline = Project(project).pipelines["nightly"]
    assert pipeline.source == "db"
    policy, problems = SchedulePolicy.from_mapping("nightly", pipeline.schedule_keys())
    assert problems == [] and policy is not None
    assert (policy.timezone, policy.catchup, policy.max_catchup, policy.overlap,
            policy.max_active_runs, policy.paused) == (
        "Europe/Paris", "all", 3, "queue", 2, True)
    alerts = AlertService.for_project(Project(project))
    assert set(alerts.max_age) == {"nightly"} and set(alerts.expected) == {"nightly"}
    assert alerts.rules.email_for("nightly").on_failure
    alerts.stop(1)
    [row] = [r for r in json.loads(ok(cli("schedule", "--json", project=project)).stdout)[
        "pipelines"] if r["pipeline"] == "nightly"]
    assert (row["timezone"], row["overlap"], row["catchup"], row["paused"]) == (
        "Europe/Paris", "queue", "all", True)
    manager.update_pipeline("nightly", overlap="skip", paused=False, author="test")
    assert Project(project).pipelines["nightly"].overlap == "skip"
    listed = {e["name"]: e for e in json.loads(ok(cli("pipelines", "--json",
                                                      project=project)).stdout)}
    assert listed["nightly"]["timezone"] == "Europe/Paris" and "ignored" not in listed["nightly"]


def test_bad_policy_values_are_refused_in_the_words_yaml_gets(project, store_env, tmp_path, cli):
    manager = Project(project).config
    with pytest.raises(PipelineValidationError) as raised:
        manager.create_pipeline("nightly", ["first"], schedule="30 2 * * *",
                                timezone="Europe/Pariss", overlap="sometimes", max_catchup=0,
                                max_data_age="a while", author="test")
    errors = {e["field"]: e["message"] for e in raised.value.errors}
    assert set(errors) == {"timezone", "overlap", "max_catchup", "max_data_age"}
    assert "'Europe/Paris' is the nearest known name" in errors["timezone"]
    yaml_project = ProjectFactory(tmp_path / "yaml")(
        "pipelines:\n  nightly:\n    hooks: [first]\n    schedule: '30 2 * * *'\n"
        "    timezone: Europe/Pariss\n    overlap: sometimes\n",
        {"loader": plugin_source("loader", "first")})
    validated = cli("validate", project=yaml_project)
    assert validated.returncode != 0
    for field in ("timezone", "overlap"):
        assert errors[field].split("; ")[0] in validated.stdout + validated.stderr
    assert "nightly" not in Project(project).pipelines, "nothing was stored"
    manager.create_pipeline("nightly", ["first"], schedule="30 2 * * *", author="test")
    with pytest.raises(PipelineValidationError, match="max_active_runs"):
        manager.update_pipeline("nightly", max_active_runs="two", author="test")
    assert Project(project).pipelines["nightly"].max_active_runs is None, "update refused whole"
