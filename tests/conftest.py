"""Real parts for every test: a MongoDB-wire server (SecantusDB), a Dask LocalCluster,
and helpers that write throwaway projects and run the real `dataflow` CLI."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pymongo
import pytest
from distributed import Client, LocalCluster

from dataflow import Engine, Project

REPO = Path(__file__).resolve().parents[1]

# Plugin source for tests: mark(what, text) writes OUT/<plugin>.<what> atomically, so a
# test can wait for a plugin to reach a point (the plugin module defines os, OUT, PLUGIN_NAME).
MARK_SOURCE = '''def mark(what, text=""):
    path = os.path.join(OUT, PLUGIN_NAME + "." + what)
    with open(path + ".tmp", "w") as handle:
        handle.write(str(text))
    os.replace(path + ".tmp", path)
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ok(result):
    """A CLI result that succeeded (its output shown if not)."""
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def refused(result, *expected):
    """A CLI result refused with exit 1, the expected texts on stderr, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for text in expected:
        assert text in result.stderr, result.stderr
    return result


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll `condition` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """One real SecantusDB server for the session; tests isolate by database name."""
    storage = tmp_path_factory.mktemp("secantus")
    port = free_port()
    log = open(storage / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", str(storage / "db")], stdout=log, stderr=subprocess.STDOUT)
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)

    def answers():
        try:
            return client.admin.command("ping")
        except pymongo.errors.PyMongoError:
            return None
    wait_until(answers, 30, 0.1, "the SecantusDB server to answer")
    yield uri
    client.close()
    process.terminate()
    process.wait(10)
    log.close()


@pytest.fixture(scope="session")
def dask_client():
    """A real LocalCluster: two worker processes, one thread each."""
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def store_env(mongo_uri, monkeypatch):
    """Point dataflow at the session server and a fresh database for this test."""
    database = f"t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("DATAFLOW_MONGO_URI", mongo_uri)
    monkeypatch.setenv("DATAFLOW_MONGO_DB", database)
    return {"DATAFLOW_MONGO_URI": mongo_uri, "DATAFLOW_MONGO_DB": database}


class ProjectFactory:
    """Writes a project directory: pipelines.yaml, system.yaml and plugin folders."""

    def __init__(self, root: Path):
        self.root = root

    def __call__(self, pipelines: str, plugins: dict[str, str] | None = None,
                 system: str = "", copy_default_plugins: bool = False) -> Path:
        (self.root / "config").mkdir(parents=True, exist_ok=True)
        (self.root / "config" / "pipelines.yaml").write_text(textwrap.dedent(pipelines))
        (self.root / "config" / "system.yaml").write_text(textwrap.dedent(system))
        if copy_default_plugins:
            shutil.copytree(REPO / "plugins", self.root / "plugins", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        for name, code in (plugins or {}).items():
            self.add_plugin(name, code)
        return self.root

    def add_plugin(self, name: str, code: str) -> Path:
        folder = self.root / "plugins" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text(textwrap.dedent(code))
        return folder


@pytest.fixture
def make_project(tmp_path):
    return ProjectFactory(tmp_path / "project")


@pytest.fixture
def engine_for(dask_client, store_env):
    """engine_for(project_dir) -> an Engine on the shared cluster and the test's database."""
    engines = []

    def build(project_dir, **kwargs):
        engine = Engine(Project(project_dir), client=dask_client, **kwargs)
        engines.append(engine)
        return engine
    yield build
    for engine in engines:
        engine.close()
        engine.project.close()


def run_cli(*args, project=None, env=None, timeout=180, input=None):
    """Run the real `dataflow` CLI in a subprocess; returns CompletedProcess (text)."""
    full_env = {**os.environ, **(env or {})}
    if project is not None:
        full_env["DATAFLOW_PROJECT"] = str(project)
    return subprocess.run([sys.executable, "-m", "dataflow", *map(str, args)], env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


@pytest.fixture
def cli(store_env):
    """cli(*args, project=dir) runs `dataflow` against this test's database."""
    def call(*args, project=None, env=None, timeout=180):
        return run_cli(*args, project=project, env={**store_env, **(env or {})}, timeout=timeout)
    return call
