"""Store throughput: task and log records stored while pipelines run (LocalCluster, 2 x 1).

    .venv/bin/python benchmarks/store_throughput.py [--reps 3] [--records 5000] [--runs 10]

logs: 4 plugins of one hook each call `log.info` --records times with fields; records/s from
the first record emitted on a worker until `recorder.flush()` returns, counting documents in
`logs` (exact count, `seq` contiguous 1..n per run, each plugin's numbers all there). tasks:
5 hooks x 8 no-op plugins run --runs times back to back; `tasks` + `runs` documents/s from the
first start to flush, all stored and completed. ceiling: the same log documents written
straight (upserts as the Recorder writes them; insert_many). DATAFLOW_MONGO_URI when set (a
throwaway database, dropped), else a SecantusDB server of its own in a temp folder.
"""
from __future__ import annotations

import contextlib
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from pymongo import UpdateOne, WriteConcern

import harness
from dataflow import Engine, Project
from dataflow.store.schema import INDEXES

LOG_PLUGINS, TASK_HOOKS, TASK_PLUGINS = 4, 5, 8
LOG_CODE = '''PLUGIN_NAME, HOOKS, PIPELINES = "{name}", ["emit"], ["logs"]

def run(context, config):
    log = context["services"]["log"]
    for number in range({records}):
        log.info("record %d of {name}" % number, number=number, source="{name}",
                 value=number * 0.5, ok=True)
    return {records}
'''
NOOP_CODE = '''PLUGIN_NAME, HOOKS, PIPELINES = "{name}", ["{hook}"], ["tasks"]

def run(context, config):
    return len(context["inputs"])
'''


def write_project(root: Path, records: int) -> Path:
    hooks = [f"h{number}" for number in range(1, TASK_HOOKS + 1)]
    plugins = {f"logger{n}": LOG_CODE.format(name=f"logger{n}", records=records)
               for n in range(1, LOG_PLUGINS + 1)}
    plugins.update({f"h{h}_p{n}": NOOP_CODE.format(name=f"h{h}_p{n}", hook=f"h{h}")
                    for h in range(1, TASK_HOOKS + 1) for n in range(1, TASK_PLUGINS + 1)})
    return harness.write_project(root, {"logs": ["emit"], "tasks": hooks}, plugins)


def count_updates(recorder) -> Counter:
    """Count the updates queued to the Recorder, by collection (wraps `record`)."""
    counts, lock, original = Counter(), threading.Lock(), recorder.record

    def record(collection, *args, **kwargs):
        with lock:
            counts[collection] += 1
        return original(collection, *args, **kwargs)
    recorder.record = record
    return counts


def flushed(project: Project) -> float:
    """Wait for the Recorder to store everything queued; the wall time it returned."""
    harness.flush_ms(project, 300)
    return time.time()


def verify_logs(db, run_id: str, records: int) -> list:
    """Every record stored once: exact count, seq 1..n, each plugin's numbers 0..records-1."""
    docs = list(db["logs"].find({"run_id": run_id}, {"seq": 1, "plugin": 1, "fields": 1,
                                                      "time": 1}))
    numbers: dict = {}
    for doc in docs:
        numbers.setdefault(doc["plugin"], []).append(doc["fields"]["number"])
    problems = [f"{len(docs)} log documents, expected {LOG_PLUGINS * records}"] \
        if len(docs) != LOG_PLUGINS * records else []
    if sorted(doc["seq"] for doc in docs) != list(range(1, len(docs) + 1)):
        problems.append("seq is not contiguous 1..n")
    if len(numbers) != LOG_PLUGINS or any(sorted(found) != list(range(records))
                                          for found in numbers.values()):
        problems.append("a plugin's records are missing or doubled")
    if problems:
        raise RuntimeError(f"logs of run {run_id}: " + "; ".join(problems))
    return docs


def log_round(engine: Engine, records: int) -> dict:
    started = flushed(engine.project)               # nothing else queued: timed alone
    result = engine.run("logs")
    returned, stored_at = time.time(), flushed(engine.project)
    harness.require_completed(result)
    docs = verify_logs(engine.project.db, result.run_id, records)
    times = [doc["time"].timestamp() for doc in docs]
    first, last = min(times), max(times)
    return {"records": len(docs), "records_per_s": round(len(docs) / (stored_at - first)),
            "emitted_per_s": round(len(docs) / max(last - first, 1e-6)),
            "run_s": round(returned - started, 3), "flush_lag_s": round(stored_at - returned, 3)}


def task_round(engine: Engine, runs: int, updates: Counter) -> dict:
    before, started = Counter(updates), time.time()
    run_ids = [engine.run("tasks").run_id for _ in range(runs)]
    returned = time.time()
    stored_at = flushed(engine.project)
    db, mine = engine.project.db, {"run_id": {"$in": run_ids}}
    tasks = db["tasks"].count_documents(mine)
    done = db["tasks"].count_documents({**mine, "status": "completed", "finished": {"$ne": None}})
    stored_runs = db["runs"].count_documents({"_id": {"$in": run_ids}, "status": "completed"})
    if tasks != runs * TASK_HOOKS * TASK_PLUGINS or done != tasks or stored_runs != runs:
        raise RuntimeError(f"{tasks} task records ({done} completed), {stored_runs} runs stored")
    queued, elapsed, documents = sum((updates - before).values()), stored_at - started, tasks + runs
    return {"documents": documents, "documents_per_s": round(documents / elapsed),
            "updates": queued, "updates_per_s": round(queued / elapsed),
            "run_ms_mean": round((returned - started) / runs * 1000, 1),
            "flush_lag_s": round(stored_at - returned, 3)}


def store_ceiling(db, count: int) -> dict:
    """`count` log documents written straight, 5,000 a batch (j=True), into a collection indexed
    like `logs`: as the Recorder writes them (bulk_write of upserts), and with insert_many."""
    collection, rates = db["bench_ceiling"].with_options(write_concern=WriteConcern(j=True)), {}
    for keys in INDEXES["logs"]:
        collection.create_index(keys)
    for kind in ("upsert", "insert"):
        run_id, now = uuid.uuid4().hex, time.time()
        docs = [{"run_id": run_id, "seq": seq, "level": "INFO", "message": f"record {seq}",
                 "fields": {"number": seq, "value": seq * 0.5}, "time": now}
                for seq in range(1, count + 1)]
        started = time.perf_counter()
        for first in range(0, count, 5000):
            if kind == "upsert":
                collection.bulk_write([UpdateOne({"_id": f"{run_id}:{doc['seq']:07d}"}, {
                    "$set": doc}, upsert=True) for doc in docs[first:first + 5000]])
            else:
                collection.insert_many([{"_id": f"{run_id}:{doc['seq']:07d}", **doc}
                                        for doc in docs[first:first + 5000]])
        rates[f"{kind}s_per_s"] = round(count / (time.perf_counter() - started))
    db.drop_collection("bench_ceiling")
    return {"documents": count, **rates}


def report(logs: list, tasks: dict, ceiling: dict, args) -> None:
    for number, got in enumerate(logs, 1):
        print(f"logs  rep {number}: {got['records']} records stored at {got['records_per_s']:,}/s"
              f" (emitted at {got['emitted_per_s']:,}/s); run {got['run_s']:.2f} s, flush lag "
              f"{got['flush_lag_s']:.2f} s")
    median = statistics.median(got["records_per_s"] for got in logs)
    print(f"logs  median {median:,.0f} records/s stored; none missing (counts, seq contiguous)")
    print(f"tasks {args.runs} runs x {TASK_HOOKS * TASK_PLUGINS} tasks: {tasks['documents']} "
          f"documents at {tasks['documents_per_s']:,}/s ({tasks['updates']} updates, "
          f"{tasks['updates_per_s']:,}/s); {tasks['run_ms_mean']:.0f} ms a run, flush lag "
          f"{tasks['flush_lag_s']:.3f} s; all stored and completed")
    print(f"store ceiling, {ceiling['documents']} log documents straight: upserts (as the "
          f"Recorder) {ceiling['upserts_per_s']:,}/s, insert_many {ceiling['inserts_per_s']:,}/s")
    harness.print_json({"benchmark": "store_throughput", "logs": logs,
                        "logs_records_per_s_median": median, "tasks": tasks, "ceiling": ceiling})


def benchmark(args, workdir: Path) -> None:
    with contextlib.ExitStack() as cleanup:        # undone in reverse, whatever fails
        harness.open_store(cleanup, workdir)
        client = harness.local_cluster(cleanup)
        project = harness.open_project(cleanup, write_project(workdir / "project", args.records))
        engine = cleanup.enter_context(Engine(project, client=client))
        updates = count_updates(project.recorder)
        engine.run("tasks")                          # warm up workers and imports
        logs = [log_round(engine, args.records) for _ in range(args.reps)]
        tasks = task_round(engine, args.runs, updates)
        report(logs, tasks, store_ceiling(project.db, LOG_PLUGINS * args.records), args)


def add_options(parser) -> None:
    parser.add_argument("--reps", type=int, default=3, help="runs of the logging pipeline")
    parser.add_argument("--records", type=int, default=5000, help="log records per plugin")
    parser.add_argument("--runs", type=int, default=10, help="back-to-back runs of 40 tasks")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark)


if __name__ == "__main__":
    sys.exit(main())
