"""Plugin discovery as a user sees it: folders (the default `plugins/` and a configured
extra path) and an installed distribution registered under the `dataflow.plugins` entry
point group; `dataflow plugins` lists them with their origin and filters by tag and
pipeline; `dataflow run` runs the installed plugin on the cluster's workers."""
from __future__ import annotations

import json
import os

import pymongo
import pytest
from conftest import ProjectFactory, plugin_source, run_cli, store_variables

PIPELINES = """
pipelines:
  p:
    hooks: ["first", "second"]
  q:
    hooks: ["second"]
"""

SYSTEM = """
plugins:
  paths: ["plugins", "more_plugins"]
"""

# Every plugin here notes in its data collection `ran` that it ran, and what it got.
NOTE_THE_RUN = """
context["services"]["db"]["ran"].insert_one({"plugin": PLUGIN_NAME, "inputs": context["inputs"]})
return RETURNS
"""
EXTERNAL_PLUGIN = plugin_source("ext_counter", "first", ["p"], NOTE_THE_RUN,
                                TAGS=["external", "counter"], VERSION="3.2.1", RETURNS=42)


def folder_plugin(name, hook, pipelines, tags, version):
    return plugin_source(name, hook, pipelines, NOTE_THE_RUN, TAGS=tags, VERSION=version,
                         RETURNS=name)


ENTRY_POINTS = "[dataflow.plugins]\next_counter = dataflow_ext_counter\n"
METADATA = "Metadata-Version: 2.1\nName: dataflow-ext-counter\nVersion: 1.0\n"


def install_distribution(site):
    """An installed distribution: the package folder plus its .dist-info (METADATA, entry points)."""
    package = site / "dataflow_ext_counter"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(EXTERNAL_PLUGIN)
    info = site / "dataflow_ext_counter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(METADATA)
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "RECORD").write_text("")


@pytest.fixture(scope="module")
def setup(mongo_uri, tmp_path_factory):
    """A project with folder plugins and an installed entry-point plugin on PYTHONPATH."""
    root = tmp_path_factory.mktemp("discovery")
    factory = ProjectFactory(root / "project")
    project = factory(PIPELINES, {"local_reader": folder_plugin(
        "local_reader", "second", ["p", "q"], ["reader"], "0.4.0")}, system=SYSTEM)
    extra = project / "more_plugins" / "extra_tagger"
    extra.mkdir(parents=True)
    (extra / "__init__.py").write_text(folder_plugin("extra_tagger", "first", ["p"],
                                                     ["counter"], "2.0.0"))
    install_distribution(root / "site")
    pythonpath = os.pathsep.join(filter(None, [str(root / "site"), os.environ.get("PYTHONPATH")]))
    env = {**store_variables(mongo_uri), "PYTHONPATH": pythonpath}
    client = pymongo.MongoClient(mongo_uri)
    yield {"project": project, "env": env, "data": client[env["DATAFLOW_MONGO_DB"] + "_data"]}
    client.close()


def plugins_json(setup, *options):
    result = run_cli("plugins", "--json", *options, project=setup["project"], env=setup["env"])
    assert result.returncode == 0, result.stderr
    return {plugin["id"]: plugin for plugin in json.loads(result.stdout)}


def test_plugins_lists_folder_and_entry_point_plugins_with_origin(setup):
    result = run_cli("plugins", project=setup["project"], env=setup["env"])
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in ("ext_counter", "extra_tagger", "local_reader")}
    assert set(rows) == {"ext_counter", "extra_tagger", "local_reader"}, result.stdout
    assert "3.2.1" in rows["ext_counter"] and "entry point dataflow-ext-counter" in rows["ext_counter"]
    assert "folder more_plugins/extra_tagger" in rows["extra_tagger"]
    assert "folder plugins/local_reader" in rows["local_reader"]
    listed = plugins_json(setup)
    assert listed["ext_counter"]["hooks"] == ["first"]
    assert listed["ext_counter"]["pipelines"] == ["p"]
    assert listed["ext_counter"]["tags"] == ["external", "counter"]
    assert listed["ext_counter"]["version"] == "3.2.1"
    assert listed["ext_counter"]["source_hash"], "an installed plugin has a source hash too"


def test_entry_point_plugin_is_only_there_when_installed(setup):
    env = {**setup["env"], "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    result = run_cli("plugins", "--json", project=setup["project"], env=env)
    assert result.returncode == 0, result.stderr
    assert {plugin["id"] for plugin in json.loads(result.stdout)} == {"extra_tagger",
                                                                      "local_reader"}


def test_plugins_filters_by_tag_and_pipeline(setup):
    assert set(plugins_json(setup, "--tag", "counter")) == {"ext_counter", "extra_tagger"}
    assert set(plugins_json(setup, "--tag", "external")) == {"ext_counter"}
    assert set(plugins_json(setup, "--pipeline", "q")) == {"local_reader"}
    assert set(plugins_json(setup, "--pipeline", "p")) == {"ext_counter", "extra_tagger",
                                                          "local_reader"}
    assert plugins_json(setup, "--tag", "nothing-has-this") == {}
    table = run_cli("plugins", "--tag", "external", project=setup["project"], env=setup["env"])
    assert "ext_counter" in table.stdout and "local_reader" not in table.stdout


def test_validate_accepts_the_project(setup):
    result = run_cli("validate", project=setup["project"], env=setup["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 plugins" in result.stdout


def test_run_executes_the_installed_plugin_on_the_workers(setup):
    result = run_cli("run", "p", project=setup["project"], env=setup["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed" in result.stdout
    ran = {doc["plugin"]: doc for doc in setup["data"]["ran"].find({}, {"_id": 0})}
    assert set(ran) == {"ext_counter", "extra_tagger", "local_reader"}
    assert ran["local_reader"]["inputs"] == {"ext_counter": 42, "extra_tagger": "extra_tagger"}
    show = run_cli("show", result.stdout.split("details: dataflow show ")[1].split()[0], "--json",
                   project=setup["project"], env=setup["env"])
    tasks = {task["plugin"]: task for task in json.loads(show.stdout)["tasks"]}
    assert tasks["ext_counter"]["status"] == "completed"
    assert tasks["ext_counter"]["plugin_version"] == "3.2.1"
    assert tasks["ext_counter"]["worker"].startswith("tcp://127.0.0.1:")
