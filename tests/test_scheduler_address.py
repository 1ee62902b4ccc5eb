"""`cluster.address`: a pipeline runs on an existing Dask cluster — a real `dask scheduler`
and two `dask worker` processes on 127.0.0.1 — not on a LocalCluster of its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pymongo
import pytest
from conftest import (RUN_TIMEOUT, ProjectFactory, free_port, plugin_source, run_cli,
                      store_variables, wait_until)
from distributed import Client

from dataflow import Engine, Project

PIPELINES = """
pipelines:
  spread:
    hooks: ["first", "second"]
"""

# Sleeps SLEEP seconds, then notes in its data collection `where` which worker it ran on.
WHERE = """
time.sleep(SLEEP)
context["services"]["db"]["where"].insert_one({
    "run_id": context["run_id"], "plugin": PLUGIN_NAME, "pid": os.getpid(),
    "worker": distributed.get_worker().address})
return os.getpid()
"""
PLUGINS = {name: plugin_source(name, hook, ["spread"], WHERE, SLEEP=sleep,
                               imports=["os", "time", "distributed"])
           for name, hook, sleep in (("left", "first", 1.0), ("right", "first", 1.0),
                                     ("after", "second", 0))}


def stop(processes):
    """Terminate each process (workers before the scheduler); kill it if it lingers."""
    for process in processes:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    """A scheduler and two single-threaded workers (no nanny: the worker is the process)."""
    logs = tmp_path_factory.mktemp("dask-cluster")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    commands = [[sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                 "--port", str(port), "--no-dashboard"]]
    commands += [[sys.executable, "-m", "distributed.cli.dask_worker", address, "--host",
                  "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                  "--name", f"external-{n}"] for n in (1, 2)]
    processes, files = [], []
    try:
        for n, command in enumerate(commands):
            files.append(open(logs / f"process-{n}.log", "w"))
            processes.append(subprocess.Popen(command, stdout=files[-1], stderr=subprocess.STDOUT,
                                              cwd=logs))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)
        yield {"address": address, "pids": pids, "processes": processes}
    finally:
        stop(processes[::-1])
        for file in files:
            file.close()


@pytest.fixture(scope="module")
def setup(mongo_uri, tmp_path_factory, dask_processes):
    root = tmp_path_factory.mktemp("scheduler-address")
    system = f"cluster:\n  address: {dask_processes['address']}\n"
    project = ProjectFactory(root / "project")(PIPELINES, PLUGINS, system=system)
    env = store_variables(mongo_uri)
    client = pymongo.MongoClient(mongo_uri)
    yield {"project": project, "where": client[env["DATAFLOW_MONGO_DB"] + "_data"]["where"],
           "env": env}
    client.close()


def run_and_locate(setup, env=None):
    """Run `spread` through the CLI; the run's id and where each plugin ran."""
    result = run_cli("run", "spread", "--json", project=setup["project"],
                     env={**setup["env"], **(env or {})})
    assert result.returncode == 0, result.stdout + result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "completed"
    docs = wait_until(lambda: list(setup["where"].find({"run_id": run["run_id"]})) or None, 10)
    return run, {doc["plugin"]: doc for doc in docs}


def test_plugins_run_in_the_external_worker_processes(setup, dask_processes):
    workers = dask_processes["pids"]                     # {worker address: pid}
    processes = {process.pid for process in dask_processes["processes"][1:]}
    assert set(workers.values()) == processes
    run, ran = run_and_locate(setup)
    assert set(ran) == {"left", "right", "after"}
    for doc in ran.values():
        assert doc["pid"] in processes, f"{doc['plugin']} ran outside the external workers"
        assert workers[doc["worker"]] == doc["pid"]
    assert ran["left"]["pid"] != ran["right"]["pid"], "the two plugins of a hook run in parallel"
    assert {task["worker"] for task in run["tasks"].values()} <= set(workers)
    shown = json.loads(run_cli("show", run["run_id"], "--json", project=setup["project"],
                               env=setup["env"]).stdout)
    assert {task["worker"] for task in shown["tasks"]} <= set(workers)


def test_the_cluster_keeps_its_workers_after_a_run(setup, dask_processes):
    run_and_locate(setup)
    assert all(process.poll() is None for process in dask_processes["processes"])
    with Client(dask_processes["address"], timeout="10s") as client:
        assert set(client.run(os.getpid).values()) == set(dask_processes["pids"].values())


def test_dataflow_scheduler_variable_points_at_the_cluster(setup, dask_processes, tmp_path):
    project = ProjectFactory(tmp_path / "project")(PIPELINES, PLUGINS, system="")
    located = {**setup, "project": project}
    _, ran = run_and_locate(located, env={"DATAFLOW_SCHEDULER": dask_processes["address"]})
    assert {doc["pid"] for doc in ran.values()} <= set(dask_processes["pids"].values())


def test_python_api_uses_the_configured_scheduler(setup, dask_processes, monkeypatch):
    for name, value in setup["env"].items():
        monkeypatch.setenv(name, value)
    project = Project(setup["project"])
    with Engine(project) as engine:
        result = engine.run("spread", timeout=RUN_TIMEOUT)
        pids = {name: result.output(name, timeout=RUN_TIMEOUT)
                for name in ("left", "right", "after")}
    project.close()
    assert result.status == "completed"
    assert set(pids.values()) <= set(dask_processes["pids"].values())
    assert all(process.poll() is None for process in dask_processes["processes"]), \
        "closing the engine leaves an external cluster running"
