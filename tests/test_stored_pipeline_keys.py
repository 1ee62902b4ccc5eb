"""Stored pipelines (`dataflow pipelines create`) take every key a pipelines.yaml entry
does, with the same schema: a hook map with tags, env (literal secrets refused),
depends_on/provides/requires/on_unmet, gates, atomic, retention — and `dataflow run`
honours them: a closed gate refuses the run, the upstream must be fresh, the tag picks
the plugin."""
from __future__ import annotations

import json

from conftest import ok, plugin_source, refused

from dataflow import Project

PIPELINES = "pipelines:\n  up: {hooks: [load], provides: [prices]}\n"


def plugins(out) -> dict[str, str]:
    return {"fast_one": plugin_source("fast_one", "load", out=out, body="tally()\nreturn 1",
                                      TAGS=["fast"]),
            "slow_one": plugin_source("slow_one", "load", out=out, body="tally()\nreturn 2")}


def test_a_stored_pipeline_with_tags_dependencies_and_gates_runs_by_them(cli, make_project,
                                                                         out_dir):
    project = make_project(PIPELINES, plugins(out_dir))
    created = ok(cli("pipelines", "create", "tagged", "--set", "hooks={load: {tags: [fast]}}",
                     "--set", "depends_on=[up]", "--set", "gates=[approval]", "--set",
                     "env={OUT_DIR: /tmp/out}", "--set", "retention={history_days: 30}",
                     "--set", "atomic=false", project=project))
    assert "stored pipeline tagged: hooks load" in created.stdout
    pipeline = Project(project).pipelines["tagged"]
    assert (pipeline.source, pipeline.hook_tags, pipeline.depends_on, pipeline.gates) == (
        "db", {"load": ("fast",)}, ("up",), ("approval",))
    assert pipeline.env == {"OUT_DIR": "/tmp/out"} and pipeline.retention == {"history_days": 30}
    ok(cli("validate", project=project))
    ok(cli("gate", "close", "approval", "--reason", "not yet", project=project))
    refused(cli("run", "tagged", "--local", "--force", project=project),
            "pipeline 'tagged' not started: gate 'approval' is closed (not yet")
    ok(cli("gate", "open", "approval", project=project))
    refused(cli("run", "tagged", "--local", project=project), "'up'", "--with-upstream")
    assert out_dir.count("fast_one") == 0 and out_dir.count("slow_one") == 0
    ran = json.loads(ok(cli("run", "tagged", "--local", "--with-upstream", "--json",
                            project=project)).stdout)
    assert ran["status"] == "completed", ran
    assert out_dir.count("slow_one") == 1, "only the upstream `up` runs slow_one"
    assert out_dir.count("fast_one") == 2, "the tag picked fast_one in `tagged`"


def test_stored_keys_are_refused_like_yaml(cli, make_project, out_dir):
    project = make_project(PIPELINES, plugins(out_dir))
    refused(cli("pipelines", "create", "leaky", "--hooks", "load", "--set",
                "env={API_TOKEN: abc123}", project=project),
            "env.API_TOKEN", "looks secret", "${API_TOKEN}")
    assert "abc123" not in cli("pipelines", "--json", project=project).stdout
    refused(cli("pipelines", "create", "bad", "--set", "hooks={load: {tagz: [x]}}",
                "--set", "on_unmet=later", "--set", "gatez=[g]", project=project),
            "hooks.load", "on_unmet", "unknown field 'gatez' (did you mean 'gates'?)")
    refused(cli("pipelines", "create", "cfg", "--hooks", "load", "--set", "config={}",
                project=project), "dataflow config set")
    refused(cli("pipelines", "create", "nohooks", project=project), "--hooks a,b,c")
    ok(cli("pipelines", "create", "later", "--hooks", "load", project=project))
    ok(cli("pipelines", "update", "later", "--set", "gates=[approval]", "--set",
           "provides=[prices2]", project=project))
    assert Project(project).pipelines["later"].gates == ("approval",)
