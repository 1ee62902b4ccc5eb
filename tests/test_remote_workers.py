"""Plugin code on workers that cannot see the project (issue 11, item 2): a real
`dask scheduler` and `dask worker` started in an empty folder, with an environment that
cannot import the project's plugins. The engine ships each plugin version's code once per
source hash, a worker joining later gets it too, and folder plugins (one importing a
shared helper, one sending jobs) and the shipped market-data pipeline `default` run there.

The workers share this machine's disk, so the project's plugin folder is renamed once the
engine has read it: from then on no worker could import it from the project."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, RUN_TIMEOUT, ProjectFactory, free_port, plugin_source, store_variables
from distributed import Client
from test_scheduler_address import stop

from dataflow.plugins import shipping

DASK = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT = 90
PIPELINES = (REPO / "config" / "pipelines.yaml").read_text() + """
  remote:
    hooks: ["check"]
"""
# Where the plugin ran, from which file, and what a job (a function of the plugin calling
# the shared helper, sent by value) computed on the cluster.
REPORT = """
jobs = context["services"]["jobs"]
tripled = jobs.gather(jobs.map(triple, [1, 2], name="triple"))
return {"value": rw_helpers.VALUE, "file": __file__, "tripled": tripled,
        "worker": distributed.get_worker().address}
"""
JOB = "def triple(x):\n    return x * rw_helpers.VALUE * 3\n"


def _clean_env() -> dict:
    """This environment without any path to the project or its plugins."""
    env = {name: value for name, value in os.environ.items()
           if name != "PYTHONPATH" and not name.startswith("DATAFLOW_")}
    return env


class DaskProcesses:
    """`dask scheduler` and `dask worker` processes, each started in an empty folder."""

    def __init__(self, folder: Path):
        self.folder, self.processes, self.logs = folder, [], []
        self.address = f"tcp://127.0.0.1:{free_port()}"

    def start(self, *args: str) -> subprocess.Popen:
        cwd = self.folder / f"process-{len(self.processes)}"
        cwd.mkdir()
        self.logs.append(open(cwd.with_suffix(".log"), "w"))
        process = subprocess.Popen([DASK, *args], cwd=cwd, env=_clean_env(),
                                   stdout=self.logs[-1], stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen:
        return self.start("worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                          "--no-nanny", "--no-dashboard", "--name", name)

    def stop(self) -> None:
        stop(self.processes[::-1])
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    dask = DaskProcesses(tmp_path_factory.mktemp("empty"))
    try:
        dask.start("scheduler", "--host", "127.0.0.1", "--port",
                   dask.address.rsplit(":", 1)[1], "--no-dashboard")
        dask.worker("remote-1")
        with Client(dask.address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=START_TIMEOUT)
        yield dask
    finally:
        dask.stop()


# The orchestrating process: a real Engine in a clean interpreter (pytest's own has the
# repository's plugins on sys.path). It reads the project, hides the plugin folder, runs
# each pipeline named on stdin and prints one JSON line per run.
ORCHESTRATOR = """
import json, sys
from pathlib import Path
from dataflow import Engine, Project
project = Project(sys.argv[1])
print(json.dumps([str(p) for p in project.registry.problems]), flush=True)
(project.directory / "plugins").rename(project.directory / "plugins-hidden")
with Engine(project) as engine:
    for line in sys.stdin:
        result = engine.run(line.strip(), timeout=240)
        outputs = result.outputs(timeout=60) if result.ok else {}
        print(json.dumps({"status": result.status, "error": result.error,
                          "tasks": {k: [t["status"], t.get("worker")]
                                    for k, t in result.tasks.items()},
                          "outputs": {k: v for k, v in outputs.items() if k.endswith("rw_user")}},
                         default=str), flush=True)
"""


@pytest.fixture(scope="module")
def orchestrator(cluster, mongo_uri, tmp_path_factory):
    directory = ProjectFactory(tmp_path_factory.mktemp("remote") / "project")(
        PIPELINES, {"rw_user": plugin_source("rw_user", "check", ["remote"], REPORT,
                                             imports=["rw_helpers", "distributed"], code=JOB)},
        system=f"cluster:\n  address: {cluster.address}\n", copy_default_plugins=True)
    (directory / "plugins" / "rw_helpers.py").write_text("VALUE = 7\n")
    env = {**_clean_env(), **store_variables(mongo_uri)}
    process = subprocess.Popen([sys.executable, "-c", ORCHESTRATOR, str(directory)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env=env, cwd=tmp_path_factory.mktemp("orchestrator"))
    try:
        assert json.loads(process.stdout.readline()) == []      # every plugin loaded

        def run(pipeline: str) -> dict:
            process.stdin.write(pipeline + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
            assert line, "the orchestrating process ended"
            return json.loads(line)
        yield run
    finally:
        process.stdin.close()
        process.wait(60)


def test_the_workers_cannot_import_the_project_plugins(cluster):
    with Client(cluster.address, timeout="60s") as client:
        found = client.run(lambda: [name for name in ("rw_user", "rw_helpers", "stock_loader")
                                    if importlib.util.find_spec(name)])
        [paths] = client.run(lambda: sys.path).values()
    assert list(found.values()) == [[]]
    assert str(REPO / "plugins") not in paths and "" not in paths


def test_a_folder_plugin_with_a_shared_helper_and_jobs_runs_there(orchestrator):
    result = orchestrator("remote")
    assert result["status"] == "completed", result
    report = result["outputs"]["check.rw_user"]
    assert report["value"] == 7 and report["tripled"] == [21, 42]
    assert "dataflow-code-" in report["file"] and "plugins-hidden" not in report["file"]


def test_the_shipped_market_data_pipeline_runs_there(orchestrator, cluster):
    result = orchestrator("default")
    assert result["status"] == "completed", result
    assert len(result["tasks"]) == 3
    assert {status for status, _ in result["tasks"].values()} == {"completed"}


def test_a_worker_joining_later_gets_the_code(orchestrator, cluster):
    orchestrator("remote")                  # shipped (at the latest) now
    with Client(cluster.address, timeout="60s") as client:
        first = set(client.scheduler_info()["workers"])
        cluster.worker("remote-2")
        client.wait_for_workers(len(first) + 1, timeout=START_TIMEOUT)
        [late] = set(client.scheduler_info()["workers"]) - first
        shipped = client.run(lambda: sorted(shipping._unpacked))
        assert shipped[late] and all(set(s) <= set(shipped[late]) for s in shipped.values())
        client.retire_workers(list(first), close_workers=True)
    result = orchestrator("remote")
    assert result["status"] == "completed", result
    assert result["outputs"]["check.rw_user"]["worker"] == late
