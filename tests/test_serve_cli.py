"""`dataflow serve` as a user starts it: one process, one port; `dataflow run` hands its run
to it; Ctrl-C stops it cleanly with running runs cancelled and recorded."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests
from conftest import free_port, ok, plugin_source, refused, wait_until

PIPELINES = """
pipelines:
  quick:
    hooks: [one]
  slow:
    hooks: [wait]
"""


@pytest.fixture
def served(make_project, store_env, out_dir):
    """A project with a `dataflow serve` running for it (its own process group, as in a
    terminal); yields (project, url, process)."""
    project = make_project(PIPELINES, {
        "quick_one": plugin_source("quick_one", "one", "quick", "return {'ok': 1}"),
        "waiter": plugin_source("waiter", "wait", "slow",
                                "mark('started')\nwait_for('never', 120, context.cancelled)",
                                out=out_dir)})
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dataflow", "serve", "--port", str(port)],
        env={**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return requests.get(f"{url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return process.poll() is not None
    wait_until(healthy, 120, 0.2, "the server to answer /health")
    wait_until(lambda: (project / ".dataflow" / "web.json").exists(), 30, message="web.json")
    yield project, url, process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


def test_a_non_loopback_address_needs_the_admin_token(cli, make_project):
    project = make_project(PIPELINES)
    refused(cli("serve", "--address", "0.0.0.0", "--port", free_port(), project=project),
            "admin token", "DATAFLOW_ADMIN_TOKEN")


def test_the_cli_hands_its_run_to_the_running_server(served, cli):
    project, url, process = served
    result = ok(cli("run", "quick", project=project))
    assert "handed to the dataflow server" in result.stdout
    runs = json.loads(ok(cli("runs", "--json", project=project)).stdout)
    assert [(r["pipeline"], r["status"], r["trigger"]) for r in runs] == [
        ("quick", "completed", "cli")]
    recorded = requests.get(f"{url}/api/runs/{runs[0]['_id']}", timeout=10).json()
    assert recorded["pid"] == process.pid         # it ran in the server's process
    local = ok(cli("run", "quick", "--local", project=project))
    assert "handed" not in local.stdout


def test_ctrl_c_stops_the_server_cleanly_and_cancels_running_runs(served, cli, out_dir):
    project, url, process = served
    run_id = requests.post(f"{url}/api/pipelines/slow/trigger", json={},
                           timeout=30).json()["run_id"]
    wait_until(lambda: out_dir.read("waiter", "started") is not None, 90, message="plugin start")
    os.killpg(process.pid, signal.SIGINT)          # a terminal's Ctrl-C: the whole group
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "Traceback" not in output and "server stopped" in output
    assert not (project / ".dataflow" / "web.json").exists()
    shown = json.loads(ok(cli("show", run_id, "--json", project=project)).stdout)
    assert shown["status"] == "cancelled"
