"""What the benchmarks share: a store to run against (DATAFLOW_MONGO_URI, else a SecantusDB
server of their own), a LocalCluster, throwaway projects, timing figures, machine load, the
temp folder and the final JSON line.

Imported as a sibling module (`import harness`): the benchmarks run as
`python benchmarks/NAME.py`, which puts this folder on sys.path.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pymongo
from distributed import Client, LocalCluster

from dataflow import Project
from dataflow.store.connection import StoreAddress

DEFAULT_SYSTEM_YAML = "logging:\n  level: INFO\n"


# --- the run of a benchmark script ---------------------------------------------------------------

def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of the benchmark's docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


@contextlib.contextmanager
def temp_workdir(prefix: str):
    """A fresh temp folder for the benchmark, removed afterwards whatever happens."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def print_json(summary: dict) -> None:
    """The benchmark's last line: its figures as one JSON object."""
    print(json.dumps(summary))


def run_benchmark(doc: str, add_options, benchmark, prefix: str = "dataflow-bench-",
                  print_summary: bool = False) -> int:
    """A benchmark script's main(): options described by `doc` and added by
    `add_options(parser)`, then `benchmark(args, workdir)` in a temp folder (`prefix`), its
    summary printed as the JSON line afterwards if `print_summary`. The exit status, 0."""
    parser = argument_parser(doc)
    add_options(parser)
    args = parser.parse_args()
    with temp_workdir(prefix) as workdir:
        summary = benchmark(args, workdir)
    if print_summary:
        print_json(summary)
    return 0


# --- the store -----------------------------------------------------------------------------------

def poll(condition, timeout: float, what: str, interval: float = 0.05):
    """Call `condition` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def pings(uri: str) -> bool:
    """Whether a MongoDB-wire server answers `ping` at `uri` (within 0.3 s)."""
    with contextlib.closing(pymongo.MongoClient(uri, serverSelectionTimeoutMS=300)) as client:
        with contextlib.suppress(pymongo.errors.PyMongoError):
            return bool(client.admin.command("ping"))
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_store(workdir: Path):
    """(uri, server process or None): DATAFLOW_MONGO_URI, else a SecantusDB of our own that
    keeps its data and its log (secantus.log) in `workdir`."""
    if os.environ.get("DATAFLOW_MONGO_URI"):
        return os.environ["DATAFLOW_MONGO_URI"], None
    port, log_path = free_port(), workdir / "secantus.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
             "--storage-path", str(workdir / "db")], stdout=log, stderr=subprocess.STDOUT)
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    try:
        poll(lambda: process.poll() is not None or pings(uri), 30, "SecantusDB to answer ping")
    except TimeoutError:
        process.terminate()
        process.wait(20)
        raise
    if process.poll() is not None:
        raise RuntimeError(f"SecantusDB exited; see {log_path}")
    return uri, process


@dataclass(frozen=True)
class Store:
    """Where a benchmark keeps its records: a server and a throwaway database in it."""

    uri: str
    database: str
    server: subprocess.Popen | None     # None: someone else's server (DATAFLOW_MONGO_URI)


def _tidy_store(store: Store) -> None:
    """Close dataflow's client to the store; on someone else's server also drop the
    throwaway database and its plugin-data twin, leaving nothing behind."""
    address = StoreAddress(store.uri, store.database)
    client = address.client()
    if store.server is None:
        for name in (address.database, address.data_database):
            client.drop_database(name)
    client.close()


def open_store(stack: contextlib.ExitStack, workdir: Path, export: bool = True) -> Store:
    """Start (or reuse) the store and pick a throwaway database in it; `stack` tidies the
    database and stops our own server at the end. `export` points DATAFLOW_MONGO_URI and
    DATAFLOW_MONGO_DB at it, for the Projects and CLI processes the benchmark starts."""
    uri, server = start_store(workdir)
    if server is not None:
        stack.callback(server.wait, 20)
        stack.callback(server.terminate)
    store = Store(uri, f"bench_{uuid.uuid4().hex[:10]}", server)
    stack.callback(_tidy_store, store)
    if export:
        os.environ.update(DATAFLOW_MONGO_URI=store.uri, DATAFLOW_MONGO_DB=store.database)
    return store


# --- cluster and project -------------------------------------------------------------------------

def local_cluster(stack: contextlib.ExitStack) -> Client:
    """A client of a LocalCluster of 2 worker processes x 1 thread, closed by `stack`."""
    cluster = stack.enter_context(LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"))
    return stack.enter_context(Client(cluster))


def pipelines_yaml(pipelines: dict) -> str:
    """config/pipelines.yaml text for {pipeline name: [hook, ...]}."""
    return "pipelines:\n" + "".join(f"  {name}:\n    hooks: [{', '.join(hooks)}]\n"
                                    for name, hooks in pipelines.items())


def write_project(root: Path, pipelines: dict, plugins: dict,
                  system: str | None = DEFAULT_SYSTEM_YAML) -> Path:
    """A project folder: config/pipelines.yaml for {pipeline: [hooks]}, config/system.yaml
    (unless `system` is None) and plugins/NAME/__init__.py for {NAME: source code}."""
    (root / "config").mkdir(parents=True)
    (root / "config" / "pipelines.yaml").write_text(pipelines_yaml(pipelines))
    if system is not None:
        (root / "config" / "system.yaml").write_text(system)
    for name, code in plugins.items():
        (root / "plugins" / name).mkdir(parents=True)
        (root / "plugins" / name / "__init__.py").write_text(code)
    return root


def open_project(stack: contextlib.ExitStack, root: Path) -> Project:
    """The Project in `root`, closed by `stack` (its history flushed first)."""
    project = Project(root)
    stack.callback(project.close)
    return project


def warm_up(engine, pipeline: str) -> None:
    """Load the plugins, then start the cluster, as `dataflow run` does before a run."""
    engine.plan(pipeline)
    engine.client


def require_completed(result) -> None:
    """Fail unless the run ended `completed`."""
    if result.status != "completed":
        raise RuntimeError(f"run {result.run_id} ended {result.status}: {result.error}")


def flush_ms(project: Project, timeout: float) -> float:
    """Wait for the Recorder to store everything queued; how long that took, in ms."""
    started = time.perf_counter()
    if not project.recorder.flush(timeout=timeout):
        raise RuntimeError(f"the Recorder did not drain within {timeout:g} s")
    return ms_since(started)


# --- figures -------------------------------------------------------------------------------------

def ms_since(started: float) -> float:
    """Milliseconds since `started`, a time.perf_counter() reading."""
    return (time.perf_counter() - started) * 1000


def p90(values) -> float:
    """The 90th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, round(0.9 * len(ordered)) - 1)]


def median_p90_ms(values) -> dict:
    """{"median_ms", "p90_ms"} of millisecond timings, to 2 decimals."""
    return {"median_ms": round(statistics.median(values), 2), "p90_ms": round(p90(values), 2)}


def in_turn(index: int, kinds):
    """The kinds in order on even rounds, reversed on odd ones (AB BA AB ...), so that
    machine noise and background work hit every kind alike."""
    kinds = list(kinds)
    return kinds if index % 2 == 0 else kinds[::-1]


def cores() -> int:
    """Logical CPUs of this machine."""
    return psutil.cpu_count()


def busy_pct(seconds: float = 1.0) -> float:
    """Whole-machine CPU % busy over the next `seconds` (blocks that long)."""
    return psutil.cpu_percent(interval=seconds)
