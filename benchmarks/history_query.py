"""History queries with 100,000 runs stored: `list_runs` (the API), `dataflow runs --limit 50`
(the whole CLI process) and `get_run` of one run with its tasks.

    .venv/bin/python benchmarks/history_query.py [--runs 100000] [--tasks-for 100000]
                                                 [--reps 20] [--cli-reps 5]

Runs are inserted with insert_many in batches as the engine writes them (record_start +
_finish; tasks: record_start + tracker), 3 pipelines over a year of `started`, indexes from
`ensure_schema`; the newest --tasks-for runs get task records. Target: list query median
< 100 ms; the winning plans are printed (explain). DATAFLOW_MONGO_URI when set (a throwaway
database, dropped at the end), else a SecantusDB server of its own in a temp folder.
"""
from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pymongo
from pymongo import DESCENDING

import harness
from dataflow.store.history import RUN_LIST_FIELDS, get_run, list_runs
from dataflow.store.schema import ensure_schema

TARGET_MS, BATCH = 100.0, 5000
PIPELINES = {"default": [("fetch_data", "stock_loader"), ("aggregate", "ohlcv_aggregator"),
                         ("calculate_indicators", "technical_indicators")],
             "historical": [("fetch_data", "stock_loader")],
             "repair": [("repair_missing", "gap_finder"), ("reaggregate", "bar_rebuilder")]}
WEIGHTS = {"default": 0.8, "historical": 0.05, "repair": 0.15}
STATUSES = {"completed": 0.9, "completed_with_errors": 0.05, "failed": 0.04, "cancelled": 0.01}
PIPELINE_HOOKS = {name: [hook for hook, _ in hooks] for name, hooks in PIPELINES.items()}


def run_doc(rng: random.Random, started: datetime) -> dict:
    """A finished run as record_start and Engine._finish leave it."""
    pipeline = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
    status = rng.choices(list(STATUSES), list(STATUSES.values()))[0]
    duration, tasks = round(rng.uniform(0.5, 120.0), 4), len(PIPELINES[pipeline])
    counts = {"completed": tasks} if status == "completed" else {"completed": tasks - 1,
                                                                 status.split("_")[0]: 1}
    return {"_id": uuid.UUID(int=rng.getrandbits(128)).hex, "pipeline": pipeline,
            "trigger": rng.choice(["cron", "cron", "cron", "cli", "api", "ui"]),
            "status": status, "started": started, "hooks": [h for h, _ in PIPELINES[pipeline]],
            "priority": "normal", "host": "bench-host", "pid": rng.randint(1000, 60000),
            "pid_started": started.timestamp() - 5, "heartbeat": started,
            "project": "/srv/dataflow/project", "resumed_from": None, "use_cache": True,
            "finished": started + timedelta(seconds=duration), "duration": duration,
            "counts": counts, "error": None if status == "completed" else
            f"{PIPELINES[pipeline][-1][0]}.{PIPELINES[pipeline][-1][1]}: RuntimeError: boom"}


def task_docs(run: dict) -> list[dict]:
    """The run's task records as record_start and the tracker leave them."""
    docs, at = [], run["started"]
    for index, (hook, plugin) in enumerate(PIPELINES[run["pipeline"]]):
        finished, task_id = at + timedelta(seconds=run["duration"] / 3), f"{hook}.{plugin}"
        docs.append({"_id": f"{run['_id']}:{task_id}", "run_id": run["_id"],
                     "pipeline": run["pipeline"], "hook": hook, "hook_index": index,
                     "plugin": plugin, "status": "completed", "plugin_version": "1.0.0",
                     "source_hash": "9f2c" * 16, "config": {"symbols": ["AAPL", "MSFT"]},
                     "fail_hard": False, "mode": "run", "started": at, "finished": finished,
                     "duration": (finished - at).total_seconds(), "error": None,
                     "traceback": None, "worker": "tcp://127.0.0.1:40123",
                     "stops_pipeline": False, "checkpoint": {
                         "kind": "file", "bytes": 181_234,
                         "path": f"/srv/dataflow/project/.dataflow/checkpoints/{run['_id']}/"
                                 f"{task_id}.pkl"}})
        at = finished
    return docs


def fill(db, runs: int, tasks_for: int) -> dict:
    """Insert `runs` runs (a year of starts, newest last) and the newest runs' tasks."""
    rng, counts, now = random.Random(5), {"runs": 0, "tasks": 0}, datetime.now(timezone.utc)
    starts = sorted(now - timedelta(seconds=rng.uniform(60, 365 * 86400)) for _ in range(runs))
    started = time.perf_counter()
    for first in range(0, runs, BATCH):
        batch = [run_doc(rng, at) for at in starts[first:first + BATCH]]
        tasks = [task for run in batch[max(0, runs - tasks_for - first):] for task in
                 task_docs(run)]
        for collection, docs in (("runs", batch), ("tasks", tasks)):
            if docs:
                db[collection].insert_many(docs, ordered=False)
            counts[collection] += len(docs)
    elapsed = time.perf_counter() - started
    print(f"inserted {counts['runs']:,} runs and {counts['tasks']:,} task records in "
          f"{elapsed:.1f} s ({(counts['runs'] + counts['tasks']) / elapsed:,.0f} documents/s)")
    return counts


def timed(function, reps: int) -> dict:
    """Median and p90 of `reps` calls after one untimed warm-up (its time reported as cold)."""
    started = time.perf_counter()
    function()
    cold, times = harness.ms_since(started), []
    for _ in range(reps):
        started = time.perf_counter()
        function()
        times.append(harness.ms_since(started))
    return {**harness.median_p90_ms(times), "cold_ms": round(cold, 2)}


def explain(db, query: dict) -> None:
    """The list query's winning plan (stages, outermost first), to show the index used."""
    cursor = db["runs"].find(query, RUN_LIST_FIELDS).sort("started", DESCENDING).limit(50)
    try:
        plan, stages = cursor.explain().get("queryPlanner", {}).get("winningPlan"), []
    except pymongo.errors.PyMongoError as error:
        print(f"  explain {query}: not supported by this server ({error})")
        return
    while isinstance(plan, dict):
        stages.append(plan.get("stage", "?") + (f" {plan['indexName']}" if "indexName" in plan
                                                else ""))
        plan = plan.get("inputStage")
    print(f"  explain {query} winning plan: {' <- '.join(stages) or 'none returned'}")


def cli_times(uri: str, database: str, project: Path, reps: int) -> dict:
    """`dataflow runs --limit 50` as a whole process, and `dataflow --version` (the floor)."""
    executable = Path(sys.executable).parent / "dataflow"
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "dataflow"]
    env = {**os.environ, "DATAFLOW_MONGO_URI": uri, "DATAFLOW_MONGO_DB": database,
           "DATAFLOW_PROJECT": str(project)}
    figures = {}
    for name, args in (("runs", ["runs", "--limit", "50"]), ("version", ["--version"])):
        def call(args=args):
            done = subprocess.run(command + args, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"dataflow {' '.join(args)} failed: {done.stderr}")
            return done.stdout
        figures[name] = timed(call, reps)
    if len(re.findall(r"^\s*[0-9a-f]{12}\s", call(["runs", "--limit", "50"]), re.M)) != 50:
        raise RuntimeError("`dataflow runs --limit 50` did not print 50 runs")
    return figures


def measure(db, args, uri: str, database: str, project: Path) -> dict:
    api = {"all": lambda: list_runs(db, limit=50),
           "pipeline=default": lambda: list_runs(db, pipeline="default", limit=50),
           "status=failed": lambda: list_runs(db, status="failed", limit=50)}
    figures = {name: timed(query, args.reps) for name, query in api.items()}
    newest = list_runs(db, limit=50)[0]["_id"]
    if len(list_runs(db, limit=50)) != 50 or not get_run(db, newest)["tasks"]:
        raise RuntimeError("list_runs did not return 50 runs, or the newest has no tasks")
    figures["get_run"] = timed(lambda: get_run(db, newest), args.reps)
    figures["get_run_prefix"] = timed(lambda: get_run(db, newest[:12]), args.reps)
    figures["cli"] = cli_times(uri, database, project, args.cli_reps)
    return figures


def report(figures: dict, counts: dict) -> None:
    for name in ("all", "pipeline=default", "status=failed", "get_run", "get_run_prefix", "cli"):
        got = figures[name] if name != "cli" else figures["cli"]["runs"]
        label = {"get_run": "get_run(full id), run + tasks", "get_run_prefix": "get_run(12-char "
                 "prefix), run + tasks", "cli": "`dataflow runs --limit 50`, whole process"}.get(
                     name, f"list_runs({name}, limit=50)")
        verdict = ("met" if got["median_ms"] < TARGET_MS else "MISSED") \
            if name in ("all", "pipeline=default", "cli") else "no target"
        print(f"{label}: median {got['median_ms']:.2f} ms, p90 {got['p90_ms']:.2f} ms, first "
              f"{got['cold_ms']:.2f} ms (< {TARGET_MS:g} ms: {verdict})")
    print(f"`dataflow --version` (process start floor): median "
          f"{figures['cli']['version']['median_ms']:.0f} ms")
    harness.print_json({"benchmark": "history_query", **counts, "target_ms": TARGET_MS,
                        **figures})


def benchmark(args, workdir: Path) -> None:
    with contextlib.ExitStack() as cleanup:        # undone in reverse, whatever fails
        store = harness.open_store(cleanup, workdir, export=False)
        db = cleanup.enter_context(pymongo.MongoClient(store.uri, tz_aware=True))[store.database]
        print(f"schema migrations applied: {ensure_schema(db)}")
        counts = fill(db, args.runs, args.tasks_for)
        project = harness.write_project(workdir / "project", PIPELINE_HOOKS, {}, system=None)
        figures = measure(db, args, store.uri, store.database, project)
        for query in ({}, {"pipeline": "default"}, {"status": "failed"}):
            explain(db, query)
        report(figures, counts)


def add_options(parser) -> None:
    parser.add_argument("--runs", type=int, default=100_000, help="runs stored")
    parser.add_argument("--tasks-for", type=int, default=100_000, help="runs with tasks stored")
    parser.add_argument("--reps", type=int, default=20, help="timed calls of each API query")
    parser.add_argument("--cli-reps", type=int, default=5, help="timed CLI processes")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark)


if __name__ == "__main__":
    sys.exit(main())
