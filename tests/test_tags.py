"""Tags in the hook maps: `hooks: {hook: {tags: [...], plugins: [...]}}` (central and per
pipeline) selects plugins by TAGS; `validate` reports a tag selecting nothing; the CLI,
the API and the plugins page filter by tag."""
from __future__ import annotations

import json

import pytest
import requests
from conftest import RUN_TIMEOUT, ProjectFactory, plugin_source, store_variables
from web_fixtures import _serve_in_thread

from dataflow import Engine, Project
from dataflow.run.plan import plugins_in_pipeline

CENTRAL = """
pipelines:
  p:
    hooks: [fetch_data, use]
  q:
    hooks:
      fetch_data: {tags: [slow]}
hooks:
  fetch_data: {tags: [fetcher], plugins: [manual]}
"""


def plugins() -> dict[str, str]:
    return {
        "a_fetch": plugin_source("a_fetch", "nothing", TAGS=["fetcher"], body="return 'a'"),
        "b_fetch": plugin_source("b_fetch", "nothing", TAGS=["fetcher", "slow"],
                                 body="return 'b'"),
        "only_q": plugin_source("only_q", "nothing", ["q"], TAGS=["fetcher"], body="return 'q'"),
        "manual": plugin_source("manual", "nothing", body="return 'm'"),
        "user": plugin_source("user", "use", body="return sorted(context['inputs'])")}


def test_a_central_tag_selects_plugins_by_tags_and_names(make_project, engine_for):
    project_dir = make_project(CENTRAL, plugins())
    engine = engine_for(project_dir)
    assert plugins_in_pipeline(engine.project, "p") == ["manual", "a_fetch", "b_fetch", "user"]
    assert plugins_in_pipeline(engine.project, "q") == ["b_fetch"], "the pipeline's own map"
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed", result.tasks
    assert result.output("user", timeout=RUN_TIMEOUT) == ["a_fetch", "b_fetch", "manual"]


def test_validate_reports_a_tag_that_selects_nothing(make_project, cli):
    project_dir = make_project(CENTRAL.replace("tags: [fetcher]", "tags: [fetchr]")
                               .replace("tags: [slow]", "tags: [slow, special]"), plugins())
    result = cli("validate", project=project_dir)
    assert result.returncode == 1
    assert "tag 'fetchr' of hook 'fetch_data' selects no plugin: no plugin has it in TAGS " \
           "(did you mean 'fetcher'?)" in result.stdout
    assert "tag 'special' of hook 'fetch_data' selects no plugin" in result.stdout
    assert "known: fetcher, slow" in result.stdout
    listed = cli("plugins", "--tag", "fetcher", "--json", project=project_dir)
    assert sorted(p["id"] for p in json.loads(listed.stdout)) == ["a_fetch", "b_fetch", "only_q"]
    hint = cli("plugins", "--tag", "fetchr", project=project_dir)
    assert "no plugin has tag 'fetchr' (did you mean 'fetcher'?)" in hint.stdout


def test_a_tag_whose_plugins_do_not_run_in_the_pipeline_is_reported(make_project, cli):
    project_dir = make_project(CENTRAL.replace("tags: [slow]", "tags: [lonely]"), {
        **plugins(), "lone": plugin_source("lone", "x", ["p"], TAGS=["lonely"])})
    result = cli("validate", project=project_dir)
    assert result.returncode == 1
    assert "tag 'lonely' of hook 'fetch_data' selects no plugin: its plugins (lone) do not " \
           "run in pipeline 'q'" in result.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory, mongo_uri, dask_client):
    directory = ProjectFactory(tmp_path_factory.mktemp("tags") / "project")(CENTRAL, plugins())
    with pytest.MonkeyPatch.context() as patch:
        for name, value in store_variables(mongo_uri).items():
            patch.setenv(name, value)
        project = Project(directory)
        loop, parts, thread = _serve_in_thread(project, "127.0.0.1",
                                               Engine(project, client=dask_client))
        try:
            yield f"http://127.0.0.1:{parts.web.port}"
        finally:
            loop.add_callback(loop.stop)
            thread.join(30)
            parts.stop()
            project.close()


def test_the_api_filters_plugins_by_tag(served):
    listed = requests.get(served + "/api/plugins", params={"tag": "slow"}, timeout=30)
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["plugins"]] == ["b_fetch"]
    every = requests.get(served + "/api/plugins", timeout=30).json()["plugins"]
    assert len(every) == 5
    spec = requests.get(served + "/api/openapi.json", timeout=30).json()
    names = [p["name"] for p in spec["paths"]["/api/plugins"]["get"].get("parameters", [])]
    assert "tag" in names
