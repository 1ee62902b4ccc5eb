"""Real parts for every test: a MongoDB-wire server (SecantusDB, or any MongoDB named by
$DATAFLOW_TEST_MONGO_URI), a Dask LocalCluster, and helpers that write throwaway projects,
their plugins (`plugin_source`, `out_dir`) and run the real `dataflow` CLI.
How to use them: docs/testing.md."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from servers import (answering_client, drop_databases, free_port,  # noqa: F401 (tests import
                     secantus_server, wait_until)              # free_port, wait_until from here)

from dataflow import Engine, Project

pytest_plugins = ["repo_guard"]      # the suite leaves the repository's own project clean

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 120                 # seconds any test gives Engine.run/resume/wait/output
TEST_MONGO_URI = "DATAFLOW_TEST_MONGO_URI"
DATABASE_PREFIX = f"t{uuid.uuid4().hex[:6]}_"     # this session's databases; dropped at its end

# The plugin's side of the `out_dir` fixture, added by plugin_source(out=out_dir).
OUT_HELPERS = '''
def mark(what, text=""):
    """Write OUT/<plugin>.<what> (atomically): the test sees the plugin got this far."""
    path = os.path.join(OUT, PLUGIN_NAME + "." + what)
    with open(path + ".tmp", "w") as handle:
        handle.write(str(text))
    os.replace(path + ".tmp", path)
def tally(text="x"):
    """Add a line to OUT/<plugin>.count; returns how many lines it has now."""
    with open(os.path.join(OUT, PLUGIN_NAME + ".count"), "a+") as handle:
        handle.write(str(text) + "\\n")
        handle.seek(0)
        return len(handle.read().splitlines())
def released():
    """True once the test (at the latest its teardown) lets every plugin go."""
    return os.path.exists(os.path.join(OUT, "release"))
def wait_for(what, seconds=120, stop=None):
    """Until OUT/<what> exists, released() or stop() is true; TimeoutError after `seconds`."""
    deadline = time.time() + seconds
    while not (os.path.exists(os.path.join(OUT, what)) or released() or (stop and stop())):
        if time.time() > deadline:
            raise TimeoutError("nobody made " + what)
        time.sleep(0.02)
'''


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def plugin_source(name: str, hooks, pipelines=("*",), body: str = "return None", *,
                  imports=(), code: str = "", out=None, **constants) -> str:
    """The source of a plugin module, in the order of the plugin contract:

        import <each of imports>               (os and time too when `out` is given)
        PLUGIN_NAME, HOOKS, PIPELINES          (pipelines=None leaves PIPELINES out)
        <NAME> = <value!r>                     each of **constants: VERSION, FAIL_HARD, RETRY...
        OUT and mark/tally/released/wait_for   when `out` is given (an `out_dir`)
        <code>                                 more top-level code: job functions, cancel()
        def run(context, config): <body>
    """
    modules = [*imports, *(("os", "time") if out is not None else ())]
    lines = [f"import {module}" for module in dict.fromkeys(modules)]
    lines += [f"PLUGIN_NAME = {name!r}", f"HOOKS = {_names(hooks)!r}"]
    if pipelines is not None:
        lines.append(f"PIPELINES = {_names(pipelines)!r}")
    lines += [f"{constant} = {value!r}" for constant, value in constants.items()]
    if out is not None:
        lines += [f"OUT = {os.fspath(out)!r}", OUT_HELPERS.strip("\n")]
    if code:
        lines.append(textwrap.dedent(code).strip("\n"))
    lines += ["def run(context, config):",
              textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")]
    return "\n".join(lines) + "\n"


class OutDir:
    """The folder plugins written with plugin_source(out=out_dir) leave files in."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def __fspath__(self) -> str:
        return str(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def read(self, plugin: str, what: str) -> str | None:
        """What `plugin` wrote with mark(what, text); None if it has not (yet)."""
        path = self.path / f"{plugin}.{what}"
        return path.read_text() if path.exists() else None

    def count(self, plugin: str) -> int:
        """How many times `plugin` called tally(): how often it really ran."""
        return len((self.read(plugin, "count") or "").splitlines())

    def touch(self, name: str) -> None:
        """Create OUT/<name>: a plugin in wait_for(name) goes on."""
        (self.path / name).touch()

    def release(self) -> None:
        """Let every plugin go that waits (wait_for, released())."""
        self.touch("release")


@pytest.fixture
def out_dir(tmp_path):
    """An OutDir; at the end every waiting plugin is let go, so a failed test leaves
    nothing running on the shared cluster."""
    folder = OutDir(tmp_path / "out")
    yield folder
    folder.release()


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


def new_database_name() -> str:
    """A database of its own for one test (its plugins' data go to <name>_data)."""
    return f"{DATABASE_PREFIX}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """The session's MongoDB: $DATAFLOW_TEST_MONGO_URI if set, else a SecantusDB server
    started here. Tests isolate by database name (new_database_name)."""
    external = os.environ.get(TEST_MONGO_URI)
    if not external:
        with secantus_server(tmp_path_factory.mktemp("secantus")) as uri:
            yield uri
        return
    client = answering_client(external)
    yield external
    drop_databases(client, DATABASE_PREFIX)      # the server outlives the session
    client.close()


@pytest.fixture(scope="session")
def dask_client():
    """A real LocalCluster: two worker processes, one thread each."""
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def store_variables(mongo_uri: str) -> dict:
    """The environment pointing dataflow at `mongo_uri` and a new database."""
    return {"DATAFLOW_MONGO_URI": mongo_uri, "DATAFLOW_MONGO_DB": new_database_name()}


@pytest.fixture
def store_env(mongo_uri, monkeypatch):
    """Point dataflow at the session server and a fresh database for this test."""
    variables = store_variables(mongo_uri)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


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
