"""Engine overhead: a 3-hook x 4-plugin pipeline of no-op plugins through dataflow, against
the same graph as raw dask.distributed futures, on one LocalCluster (2 processes x 1 thread).

    .venv/bin/python benchmarks/engine_overhead.py [--runs 20] [--warmup 2] [--drain]

The two kinds alternate (AB BA AB ...) so machine noise, and the history a dataflow run
leaves the Recorder to write in the background, hit both alike (--drain: wait, untimed, for
the Recorder after each dataflow run and report that lag). Afterwards every run and task
record is checked in the store. Uses DATAFLOW_MONGO_URI when set (a throwaway database,
dropped at the end), else a SecantusDB server of its own in a temp folder.
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
import textwrap
import time
import uuid
from pathlib import Path

import pymongo
from distributed import Client, LocalCluster, wait

from dataflow import Engine, Project

HOOKS, PLUGINS_PER_HOOK, PIPELINE = ("h1", "h2", "h3"), 4, "bench"
TARGET_RATIO = 1.3
PLUGIN_CODE = '''
PLUGIN_NAME = "{name}"
HOOKS = ["{hook}"]
PIPELINES = ["{pipeline}"]
VERSION = "1.0.0"
CONFIG_SCHEMA = {{"type": "object", "properties": {{"value": {{"type": "integer", "default": 1}}}}}}

def run(context, config):
    return {{"plugin": "{name}", "value": config["value"], "inputs": len(context["inputs"])}}
'''


def poll(condition, timeout: float, what: str, interval: float = 0.05):
    """Call `condition` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def _pings(uri: str) -> bool:
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=300)
    try:
        return bool(client.admin.command("ping"))
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def start_store(workdir: Path):
    """(uri, server process or None): DATAFLOW_MONGO_URI, else a SecantusDB of our own."""
    if os.environ.get("DATAFLOW_MONGO_URI"):
        return os.environ["DATAFLOW_MONGO_URI"], None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(workdir / "secantus.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", str(workdir / "db")], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    poll(lambda: process.poll() is not None or _pings(uri), 30, "SecantusDB to answer ping")
    if process.poll() is not None:
        raise RuntimeError(f"SecantusDB exited; see {workdir / 'secantus.log'}")
    return uri, process


def write_project(root: Path) -> Path:
    """A project whose pipeline `bench` has 3 hooks of 4 no-op plugins each."""
    (root / "config").mkdir(parents=True)
    hooks = ", ".join(f'"{hook}"' for hook in HOOKS)
    (root / "config" / "pipelines.yaml").write_text(
        f"pipelines:\n  {PIPELINE}:\n    hooks: [{hooks}]\n")
    (root / "config" / "system.yaml").write_text("logging:\n  level: INFO\n")
    for hook in HOOKS:
        for number in range(1, PLUGINS_PER_HOOK + 1):
            name = f"{hook}_p{number}"
            folder = root / "plugins" / name
            folder.mkdir(parents=True)
            (folder / "__init__.py").write_text(textwrap.dedent(
                PLUGIN_CODE.format(name=name, hook=hook, pipeline=PIPELINE)))
    return root


def noop(*upstream):
    """The raw graph's task: takes the previous hook's results, returns a small value."""
    return {"inputs": len(upstream)}


def raw_run(client: Client) -> None:
    """The same graph as plain futures: each hook's tasks depend on all of the previous."""
    previous: list = []
    every: list = []
    for _hook in HOOKS:
        current = [client.submit(noop, *previous, pure=False) for _ in range(PLUGINS_PER_HOOK)]
        every += current
        previous = current
    wait(every)


def dataflow_run(engine: Engine) -> None:
    result = engine.run(PIPELINE)
    if result.status != "completed":
        raise RuntimeError(f"run {result.run_id} ended {result.status}: {result.error}")


def drained(recorder) -> float:
    """Let the Recorder store everything queued (untimed for the runs); its wait in ms."""
    started = time.perf_counter()
    if not recorder.flush(timeout=60):
        raise RuntimeError("the Recorder did not drain within 60 s")
    return (time.perf_counter() - started) * 1000


def measure(engine: Engine, client: Client, args) -> dict:
    """Alternate dataflow and raw runs, in the order AB BA AB ... (noise hits both)."""
    times: dict = {"dataflow": [], "raw": [], "drain": []}
    recorder = engine.project.recorder
    for index in range(args.warmup + args.runs):
        pair = [("dataflow", dataflow_run, engine), ("raw", raw_run, client)]
        for kind, function, argument in pair if index % 2 == 0 else pair[::-1]:
            started = time.perf_counter()
            function(argument)
            elapsed = (time.perf_counter() - started) * 1000
            drain = drained(recorder) if args.drain and kind == "dataflow" else None
            if index >= args.warmup:
                times[kind].append(elapsed)
                if drain is not None:
                    times["drain"].append(drain)
    return times


def verify_history(project: Project, expected_runs: int) -> dict:
    """Flush, then check every run and task reached the store with a final status."""
    started = time.perf_counter()
    if not project.recorder.flush(timeout=60):
        raise RuntimeError("Recorder.flush() timed out")
    flush_ms = (time.perf_counter() - started) * 1000
    db, tasks_per_run = project.db, len(HOOKS) * PLUGINS_PER_HOOK
    runs = list(db["runs"].find({"pipeline": PIPELINE}, {"status": 1, "finished": 1}))
    tasks = db["tasks"].count_documents({"pipeline": PIPELINE})
    done = db["tasks"].count_documents({"pipeline": PIPELINE, "status": "completed",
                                        "finished": {"$ne": None}})
    problems = []
    if len(runs) != expected_runs:
        problems.append(f"{len(runs)} runs stored, expected {expected_runs}")
    if any(run.get("status") != "completed" or not run.get("finished") for run in runs):
        problems.append("a stored run has no final status")
    if tasks != expected_runs * tasks_per_run or done != tasks:
        problems.append(f"{tasks} task records ({done} completed), "
                        f"expected {expected_runs * tasks_per_run}")
    if problems:
        raise RuntimeError("history incomplete: " + "; ".join(problems))
    return {"flush_ms": round(flush_ms, 2), "runs_stored": len(runs), "tasks_stored": tasks}


def stats(values: list[float]) -> dict:
    ordered = sorted(values)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]       # nearest rank
    return {"median_ms": round(statistics.median(ordered), 2), "p90_ms": round(p90, 2),
            "min_ms": round(ordered[0], 2)}


def report(times: dict, history: dict) -> dict:
    dataflow, raw = stats(times["dataflow"]), stats(times["raw"])
    ratio = round(dataflow["median_ms"] / raw["median_ms"], 3)
    print(f"dataflow  median {dataflow['median_ms']:8.2f} ms   p90 {dataflow['p90_ms']:8.2f} ms")
    print(f"raw dask  median {raw['median_ms']:8.2f} ms   p90 {raw['p90_ms']:8.2f} ms")
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"ratio dataflow/raw (median) {ratio:.2f}x  (target <= {TARGET_RATIO}x: {verdict})")
    drain = stats(times["drain"]) if times["drain"] else None
    if drain:
        print(f"history stored after a run (off the critical path) within: median "
              f"{drain['median_ms']:.2f} ms, p90 {drain['p90_ms']:.2f} ms")
    print(f"final flush {history['flush_ms']:.2f} ms; stored {history['runs_stored']} runs, "
          f"{history['tasks_stored']} task records, all final")
    summary = {"benchmark": "engine_overhead", "runs": len(times["raw"]), "dataflow": dataflow,
               "raw": raw, "ratio": ratio, "target": TARGET_RATIO, "target_met": verdict == "met",
               "history_drain": drain, **history}
    print(json.dumps(summary))
    return summary


def _drop_databases(project: Project, database: str) -> None:
    """On someone else's server (DATAFLOW_MONGO_URI): leave nothing behind."""
    client = project.store.client()
    for name in (database, project.store.data_database):
        client.drop_database(name)


def benchmark(args, workdir: Path) -> dict:
    with contextlib.ExitStack() as cleanup:        # undone in reverse, whatever fails
        uri, server = start_store(workdir)
        if server is not None:
            cleanup.callback(server.wait, 20)
            cleanup.callback(server.terminate)
        database = f"bench_{uuid.uuid4().hex[:10]}"
        os.environ.update(DATAFLOW_MONGO_URI=uri, DATAFLOW_MONGO_DB=database)
        cluster = cleanup.enter_context(LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"))
        client = cleanup.enter_context(Client(cluster))
        project = Project(write_project(workdir / "project"))
        cleanup.callback(lambda: project.store.client().close())
        if server is None:
            cleanup.callback(_drop_databases, project, database)
        cleanup.callback(project.close)
        engine = cleanup.enter_context(Engine(project, client=client))
        times = measure(engine, client, args)
        return report(times, verify_history(project, args.runs + args.warmup))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each kind")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs of each kind first")
    parser.add_argument("--drain", action="store_true",
                        help="after each dataflow run, wait (untimed) until its history is "
                             "stored, and report that lag")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dataflow-bench-"))
    try:
        benchmark(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
