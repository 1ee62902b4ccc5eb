"""Literal secrets in `env:` (spec 001): system.yaml's and a pipeline's `env:` are refused
by `dataflow validate` and by runs, as config/commands.yaml's and `--env` are; the
message names the file, the key and the fix. References (`${VAR}`) are fine."""
from __future__ import annotations

import pytest
from conftest import ok, refused

from dataflow.errors import ConfigError
from dataflow.project import Project

PLUGIN = {"noop": "PLUGIN_NAME = 'noop'\nHOOKS = ['load']\n\ndef run(context, config):\n"
                  "    return {'done': True}\n"}
PIPELINE_SECRET = """
pipelines:
  p:
    hooks: [load]
    env: {API_TOKEN: "abc123literal", OUT: "/tmp/x"}
"""
CLEAN = """
pipelines:
  p:
    hooks: [load]
    env: {API_TOKEN: "${API_TOKEN}"}
"""


def test_validate_names_the_file_key_and_fix(make_project, cli):
    project = make_project(CLEAN, PLUGIN, system="env:\n  DB_PASSWORD: hunter2\n")
    result = cli("validate", project=project)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    for text in ("config/system.yaml:2 [env.DB_PASSWORD]", "write it as ${DB_PASSWORD}",
                 "env key 'DB_PASSWORD' looks secret but has a literal value"):
        assert text in result.stdout, result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    (project / "config" / "system.yaml").write_text("env:\n  DB_PASSWORD: ${DB_PASSWORD}\n")
    ok(cli("validate", project=project))
    (project / "config" / "pipelines.yaml").write_text(PIPELINE_SECRET)
    result = cli("validate", project=project)
    assert result.returncode == 1 and "config/pipelines.yaml:5 [pipelines.p.env.API_TOKEN]" \
        in result.stdout, result.stdout
    refused(cli("run", "p", "--local", project=project), "[pipelines.p.env.API_TOKEN]",
            "write it as ${API_TOKEN}")


def test_runs_through_the_engine_are_refused(make_project, engine_for):
    project = make_project(PIPELINE_SECRET, PLUGIN,
                           system="env:\n  SLACK_WEBHOOK: https://hooks.example/x\n")
    engine = engine_for(project)
    with pytest.raises(ConfigError) as caught:
        engine.run("p", timeout=60)
    text = str(caught.value)
    assert "config/system.yaml:2 [env.SLACK_WEBHOOK]" in text and "API_TOKEN" in text


@pytest.mark.fast
def test_references_and_plain_keys_pass(make_project):
    project = make_project(CLEAN, PLUGIN, system="env:\n  HOME_DIR: /tmp\n  KEYS: ${KEYS}\n")
    assert Project(project).file_problems() == []
