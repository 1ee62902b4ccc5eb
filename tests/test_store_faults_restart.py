"""Store faults (issue 12, item 2): the embedded server killed under a running run. The
engine and the plugins' db service find it again (restarted on its port), queued history
is written once it is back, and the run's record tells the truth."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pymongo
import pytest
from conftest import ok, plugin_source, run_cli, wait_until

from dataflow.store.embedded import stop_embedded_server

NO_STORE = {"DATAFLOW_MONGO_URI": "", "DATAFLOW_SCHEDULER": ""}
BODY = """
mark("ready")
wait_for("go")
context["services"]["log"].info("written after the restart")
context["services"]["db"]["items"].insert_one({"_id": "after-restart"})
return 1
"""


def _state(project) -> dict:
    return json.loads((project / ".dataflow" / "server.json").read_text())


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def project(make_project, out_dir):
    folder = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                          {"w": plugin_source("w", "load", body=BODY, out=out_dir)})
    yield folder
    stop_embedded_server(folder / ".dataflow")


def test_a_run_survives_its_embedded_store_being_killed(project, out_dir):
    ok(run_cli("db", "status", project=project, env=NO_STORE))
    before = _state(project)
    run = subprocess.Popen([sys.executable, "-m", "dataflow", "run", "p", "--local"],
                           env={**os.environ, **NO_STORE, "DATAFLOW_PROJECT": str(project)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: out_dir.read("w", "ready") is not None or run.poll() is not None,
                   120, message="the plugin to start")
        os.kill(before["pid"], signal.SIGKILL)
        wait_until(lambda: _gone(before["pid"]), 20)
        started = time.monotonic()
        out_dir.touch("go")
        stdout, stderr = run.communicate(timeout=240)
    finally:
        run.kill()
        run.wait(30)
    assert run.returncode == 0, stdout + stderr
    assert time.monotonic() - started < 90
    assert "completed" in stdout and "Traceback" not in stderr
    after = _state(project)
    assert after["port"] == before["port"] and after["pid"] != before["pid"]
    runs = json.loads(ok(run_cli("runs", "--json", project=project, env=NO_STORE)).stdout)
    assert [r["status"] for r in runs] == ["completed"]
    logs = ok(run_cli("logs", runs[0]["_id"], project=project, env=NO_STORE)).stdout
    assert "written after the restart" in logs
    uri = f"mongodb://127.0.0.1:{after['port']}/?directConnection=true"
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=10_000) as client:
        assert client["dataflow_data"]["items"].find_one({"_id": "after-restart"})
