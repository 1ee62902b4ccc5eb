"""Not a project, the embedded server's lifecycle, broken plugins kept to their pipelines,
and environment errors with their own exit codes (issue items 13, 14 and 5)."""
from __future__ import annotations


import psutil
import pytest
from click.testing import CliRunner
from conftest import free_port, ok, plugin_source, refused, run_cli

import dataflow.project
from dataflow.cli.inspect_cmds import validate_command
from dataflow.store.embedded import stop_embedded_server

NO_STORE = {"DATAFLOW_MONGO_URI": "", "DATAFLOW_SCHEDULER": ""}


# --- item 13: not a project; the embedded server's lifecycle -------------------------------

@pytest.mark.parametrize("where", ["typo/path", "empty"])
def test_a_folder_that_is_no_project_is_refused_and_nothing_created(tmp_path, where):
    folder = tmp_path / where
    if where == "empty":
        folder.mkdir()
    for args in (["runs"], ["db", "status"], ["run", "p"]):
        result = run_cli(*args, "--project", folder, env=NO_STORE)
        refused(result, f"no dataflow project at {folder}", "config/pipelines.yaml",
                "--project DIR", "nothing was created")
    assert (folder.exists(), list(tmp_path.rglob("*"))) == \
        ((True, [folder]) if where == "empty" else (False, []))


def test_db_status_shows_the_embedded_server_and_db_stop_stops_it(make_project):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                           {"a": plugin_source("a", "load")})
    try:
        status = ok(run_cli("db", "status", project=project, env=NO_STORE)).stdout
        line = next(text for text in status.splitlines() if text.startswith("server "))
        pid = int(line.split("pid ")[1].split(",")[0])
        assert str(project / ".dataflow" / "db") in line and "port " in line
        assert "bytes" in line or "KiB" in line or "MiB" in line
        stopped = ok(run_cli("db", "stop", project=project, env=NO_STORE)).stdout
        assert f"stopped the embedded server (pid {pid}, port" in stopped
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        again = ok(run_cli("db", "stop", project=project, env=NO_STORE)).stdout
        assert "no embedded server is running" in again and "nothing was stopped" in again
    finally:
        stop_embedded_server(project / ".dataflow")


def test_db_stop_on_an_external_store_stops_nothing(make_project, cli):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n")
    assert "nothing was stopped" in ok(cli("db", "stop", project=project)).stdout


# --- item 14: a broken plugin blocks only the pipelines it serves -------------------------

BROKEN = 'import no_such_module_here\nPLUGIN_NAME = "bad"\nHOOKS = ["load"]\n' \
         'PIPELINES = ["bad_p"]\ndef run(context, config):\n    return None\n'
TWO = "pipelines:\n  good_p:\n    hooks: [load]\n  bad_p:\n    hooks: [load]\n"


def test_a_broken_plugin_blocks_only_its_pipelines(make_project, cli, out_dir):
    project = make_project(TWO, {
        "good": plugin_source("good", "load", "good_p", body="tally()", out=out_dir),
        "bad": BROKEN})
    listed = cli("plugins", project=project)
    assert listed.returncode == 1, listed.stdout
    assert "good" in listed.stdout and "broken" in listed.stdout
    assert "plugins/bad/__init__.py" in listed.stdout and "no_such_module_here" in listed.stdout
    assert "install the missing module" in listed.stdout
    ok(cli("run", "good_p", "--local", project=project))
    assert out_dir.count("good") == 1
    refused(cli("run", "bad_p", "--local", project=project), "plugins/bad/__init__.py",
            "no_such_module_here", "install the missing module")
    assert [run["pipeline"] for run in json_runs(cli, project)] == ["good_p"]


def test_a_broken_plugin_that_does_not_say_where_it_runs_blocks_all(make_project, cli):
    unknown = "import no_such_module_here\nPLUGIN_NAME = 'bad'\nHOOKS = compute()\n"
    project = make_project(TWO, {"good": plugin_source("good", "load", "good_p"),
                                 "bad": unknown})
    refused(cli("run", "good_p", "--local", project=project), "plugins/bad/__init__.py")
    assert json_runs(cli, project) == []


def json_runs(cli, project) -> list:
    return __import__("json").loads(ok(cli("runs", "--json", project=project)).stdout)


# --- item 5: environment errors, each with its fix and its own exit code ------------------

def test_an_unreachable_store_exits_5(make_project):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n")
    uri = f"mongodb://127.0.0.1:{free_port()}/"
    result = run_cli("runs", project=project, env={"DATAFLOW_MONGO_URI": uri})
    assert result.returncode == 5, result.stdout + result.stderr
    assert "store unavailable" in result.stderr and "unexpected error" not in result.stderr
    assert f"cannot reach MongoDB at {uri}" in result.stderr
    assert "unset DATAFLOW_MONGO_URI" in result.stderr


def test_an_unreachable_scheduler_exits_7(make_project, cli, out_dir):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                           {"a": plugin_source("a", "load", body="tally()", out=out_dir)})
    address = f"tcp://127.0.0.1:{free_port()}"
    result = cli("run", "p", "--local", project=project, env={"DATAFLOW_SCHEDULER": address})
    assert result.returncode == 7, result.stdout + result.stderr
    assert f"the Dask scheduler at {address}" in result.stderr
    assert "$DATAFLOW_SCHEDULER" in result.stderr and "start the scheduler" in result.stderr
    assert "unexpected error" not in result.stderr and out_dir.count("a") == 0
    assert json_runs(cli, project) == []


def test_permission_denied_exits_6_naming_the_file(make_project, monkeypatch):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n")
    target = str(project / "config" / "pipelines.yaml")

    def denied(directory):
        raise PermissionError(13, "Permission denied", target)
    monkeypatch.setattr(dataflow.project, "read_pipelines_file", denied)
    result = CliRunner().invoke(validate_command, ["--project", str(project)])
    assert result.exit_code == 6, result.output
    assert f"permission denied: {target}" in result.output
    assert "give this user access to" in result.output and "unexpected" not in result.output
