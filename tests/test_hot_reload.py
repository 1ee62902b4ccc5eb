"""Hot reload pinned per run (issue 11, item 1): a saved plugin file is noticed by the
watcher, the new version loaded (on_load) and the old one shut down (on_shutdown); the
next run uses it on every worker while a run already going keeps its version; a broken
edit keeps the last good version serving and reports the error (registry, API, CLI); an
edited shared helper reaches every plugin that imports it."""
from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from conftest import RUN_TIMEOUT, plugin_source, run_cli, wait_until
from web_fixtures import serve

from dataflow import Project
from dataflow.plugins.loader import import_plugin
from dataflow.plugins.watch import PluginWatcher
from dataflow.run.plan import pipeline_problems

PIPELINES = "pipelines:\n  p: {hooks: [work]}\n"
LIFECYCLE = """
def on_load():
    mark("loaded", VALUE)
def on_shutdown():
    mark("shut", VALUE)
"""
HELPER = "hr_helpers"           # a shared module beside the plugins
WATCH_TIMEOUT = 30              # seconds for the watcher to notice a save (loaded machine)


def echo(out, value, body="return VALUE") -> str:
    return plugin_source("hr_echo", "work", ["p"], body, out=out, code=LIFECYCLE, VALUE=value)


def user(name: str, body: str = f"return {HELPER}.VALUE") -> str:
    """A plugin of hook `work` that imports the shared helper."""
    return plugin_source(name, "work", ["p"], body, imports=[HELPER, "distributed"])


def write(path, text: str) -> None:
    path.write_text(textwrap.dedent(text))


def last_good(registry) -> list:
    return [p for p in registry.problems if "serving the last good version" in p.message]


@pytest.mark.fast
def test_reload_swaps_versions_and_keeps_the_last_good_one(make_project, out_dir):
    directory = make_project(PIPELINES, {"hr_echo": echo(out_dir, 1)})
    source = directory / "plugins" / "hr_echo" / "__init__.py"
    project = Project(directory)
    registry = project.registry
    assert out_dir.read("hr_echo", "loaded") == "1"
    first = registry.get("hr_echo").ref.source_hash

    write(source, echo(out_dir, 2))
    assert project.reload() == ["hr_echo"]
    assert (out_dir.read("hr_echo", "loaded"), out_dir.read("hr_echo", "shut")) == ("2", "1")
    good = registry.get("hr_echo").ref.source_hash
    assert good != first and registry.module("hr_echo").VALUE == 2

    write(source, echo(out_dir, 3).replace("def run(", "def run(:"))      # a syntax error
    assert project.reload() == []
    assert registry.get("hr_echo").ref.source_hash == good                 # still serving
    assert registry.module("hr_echo").run(None, {}) == 2
    [problem] = last_good(registry)
    assert problem.warning and "SyntaxError" in problem.message and good in problem.message
    assert registry.serving_last_good("hr_echo") == [problem]
    assert pipeline_problems(project, "p", project.yaml_pipelines.pipelines["p"]) == []
    assert out_dir.read("hr_echo", "shut") == "1"          # the good version was not shut

    write(source, echo(out_dir, 3))
    assert project.reload() == ["hr_echo"] and registry.problems == []
    assert (out_dir.read("hr_echo", "loaded"), out_dir.read("hr_echo", "shut")) == ("3", "2")

    shutil.rmtree(source.parent)                           # a removed plugin is shut down
    assert project.reload() == [] and "hr_echo" not in registry.plugins
    assert out_dir.read("hr_echo", "shut") == "3"
    project.close()


@pytest.mark.fast
def test_an_edited_shared_helper_reaches_every_plugin_importing_it(make_project):
    directory = make_project(PIPELINES, {"hr_a": user("hr_a"), "hr_b": user("hr_b"),
                                         "hr_c": plugin_source("hr_c", "work", ["p"])})
    helper = directory / "plugins" / f"{HELPER}.py"
    write(helper, "VALUE = 1\n")
    project = Project(directory)
    registry = project.registry
    assert registry.problems == [] and registry.module("hr_a").run(None, {}) == 1
    write(helper, "VALUE = 2\n")
    assert project.reload() == ["hr_a", "hr_b"]            # hr_c does not import it
    assert [registry.module(p).run(None, {}) for p in ("hr_a", "hr_b")] == [2, 2]
    project.close()


@pytest.mark.fast
def test_the_watcher_serves_a_saved_file_within_a_second(make_project, out_dir):
    directory = make_project(PIPELINES, {"hr_echo": echo(out_dir, 1)})
    source = directory / "plugins" / "hr_echo" / "__init__.py"
    project = Project(directory)
    watcher = PluginWatcher(project).start()
    try:
        assert watcher.ready.wait(WATCH_TIMEOUT)
        write(source, echo(out_dir, 2))
        wait_until(lambda: [r for r in watcher.history if r["changed"] == ["hr_echo"]],
                   WATCH_TIMEOUT)
        assert project.registry.module("hr_echo").VALUE == 2
        assert all(reload["seconds"] < 1.0 for reload in watcher.history)
        write(source, "def broken(:\n")
        wait_until(lambda: last_good(project.registry), WATCH_TIMEOUT)
        assert project.registry.module("hr_echo").VALUE == 2
        (directory / "plugins" / "hr_new").mkdir()          # a plugin added while watching
        write(directory / "plugins" / "hr_new" / "__init__.py",
              plugin_source("hr_new", "work", ["p"]))
        wait_until(lambda: "hr_new" in project.registry.plugins, WATCH_TIMEOUT)
    finally:
        assert watcher.stop()
        project.close()


def test_a_running_run_keeps_its_version_and_the_next_run_uses_the_new_one(
        make_project, engine_for, out_dir, dask_client):
    wait_first = f"if {HELPER}.VALUE == 1 and PLUGIN_NAME == 'hr_left':\n" \
                 "    wait_for('go')\n" + f"return {HELPER}.VALUE"
    body = "mark('started')\n" + wait_first
    directory = make_project(PIPELINES, {
        name: plugin_source(name, "work", ["p"], body, imports=[HELPER], out=out_dir)
        for name in ("hr_left", "hr_right")})
    helper = directory / "plugins" / f"{HELPER}.py"
    write(helper, "VALUE = 1\n")
    engine = engine_for(directory, watch=True)
    registry = engine.project.registry
    assert engine.watch().ready.wait(WATCH_TIMEOUT)
    first = engine.start("p")
    wait_until(lambda: out_dir.read("hr_left", "started") is not None, RUN_TIMEOUT)

    write(helper, "VALUE = 2\n")                    # saved while the first run is going
    wait_until(lambda: getattr(registry.module("hr_left"), HELPER).VALUE == 2, WATCH_TIMEOUT)
    second = engine.run("p", timeout=RUN_TIMEOUT)
    assert second.ok and second.output("hr_left") == second.output("hr_right") == 2
    out_dir.touch("go")
    old = engine.wait(first, timeout=RUN_TIMEOUT)
    assert old.ok and old.output("hr_left") == old.output("hr_right") == 1

    ref = registry.get("hr_left").ref               # every worker now imports the new one
    values = dask_client.run(lambda: getattr(import_plugin(ref), HELPER).VALUE)
    assert set(values.values()) == {2} and len(values) == 2


@pytest.fixture(scope="module")
def served(tmp_path_factory, mongo_uri, dask_client):
    yield from serve(tmp_path_factory, mongo_uri, dask_client, "127.0.0.1")


def quick(value: str) -> str:
    return plugin_source("quick", "load", body=f"return {value}", VERSION="1.0.0")


def test_a_server_reloads_on_save_and_reports_a_broken_edit(served):
    source = served.project.directory / "plugins" / "quick" / "__init__.py"
    registry = served.project.registry
    before = served.get("/api/plugins/quick/status").json()
    assert before["serving_last_good"] is None and before["load_errors"] == []
    assert served.web.extras["watcher"].ready.wait(WATCH_TIMEOUT)

    write(source, quick("41 + 1"))
    wait_until(lambda: registry.get("quick").ref.source_hash != before["source_hash"],
               WATCH_TIMEOUT)
    engine = served.web.service.engine
    assert engine.run("quick", timeout=RUN_TIMEOUT).output("quick") == 42
    good = served.get("/api/plugins/quick/status").json()["source_hash"]
    assert good == registry.get("quick").ref.source_hash != before["source_hash"]

    write(source, quick("42 +"))                    # broken: the last good version serves
    wait_until(lambda: last_good(registry), WATCH_TIMEOUT)
    status = served.get("/api/plugins/quick/status").json()
    assert status["serving_last_good"] == good == status["source_hash"]
    assert "SyntaxError" in status["load_errors"][0]["message"]
    listed = served.get("/api/plugins").json()
    assert any("serving the last good version" in p["message"] for p in listed["problems"])
    assert engine.run("quick", timeout=RUN_TIMEOUT).output("quick") == 42

    forced = served.post("/api/plugins/quick/reload")
    assert forced.status_code == 200 and forced.json()["serving_last_good"] == good
    shown = run_cli("reload", "quick", project=served.project.directory)
    assert shown.returncode == 1 and "serving the last good version" in shown.stdout
    assert "by the server at" in shown.stdout and "Traceback" not in shown.stderr
    unknown = served.post("/api/plugins/nope/reload")
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]

    write(source, quick("43"))
    reply = json.loads(run_cli("reload", "--json", project=served.project.directory).stdout)
    assert reply["problems"] == [] and "quick" in reply["plugins"]
    assert registry.module("quick").run(None, {}) == 43
    assert engine.run("quick", timeout=RUN_TIMEOUT).output("quick") == 43


def test_reload_without_a_server_reads_the_plugins_here(make_project, out_dir):
    directory = make_project(PIPELINES, {"hr_echo": echo(out_dir, 1)})
    shown = run_cli("reload", "hr_echo", project=directory)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "no server is running" in shown.stdout
    missing = run_cli("reload", "hr_nope", project=directory)
    assert missing.returncode == 1 and "no plugin named 'hr_nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
