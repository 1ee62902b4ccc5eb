"""Jobs throughput: 2,000 tiny jobs fanned out from inside a plugin through
`context["services"]["jobs"]` (map, then gather), against raw `worker_client().map` of the
same jobs from inside a plain Dask task, on one LocalCluster (2 processes x 1 thread).

    .venv/bin/python benchmarks/jobs_throughput.py [--reps 5] [--warmup 1] [--jobs 2000]

Both kinds use the same job function (defined in the plugin, pickled by reference) and
alternate (AB BA AB ...). Jobs/s is timed inside the task (fan-out + gather) and over the
whole run (dataflow: engine.run; raw: submit + result). Afterwards every dataflow run's task
record must show progress done == total == jobs. Uses DATAFLOW_MONGO_URI when set (a
throwaway database in it), else starts a SecantusDB server in a temp folder.
"""
from __future__ import annotations

import importlib
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import psutil
from distributed import Client

import harness
from dataflow import Engine, Project

PLUGIN, PIPELINE, TARGET_RATIO = "fanout", "bench", 0.9
PLUGIN_CODE = '''
import time

from distributed import worker_client

PLUGIN_NAME = "{plugin}"
HOOKS = ["fan"]
PIPELINES = ["{pipeline}"]
CONFIG_SCHEMA = {{"type": "object",
                 "properties": {{"jobs": {{"type": "integer", "default": {jobs}}}}}}}


def tiny(number):
    return number + 1


def run(context, config):
    jobs = context["services"]["jobs"]
    started = time.perf_counter()
    futures = jobs.map(tiny, range(config["jobs"]), name="tiny")
    submitted = time.perf_counter() - started
    results = jobs.gather(futures)
    elapsed = time.perf_counter() - started
    assert len(results) == config["jobs"]
    return {{"elapsed": elapsed, "submit": submitted, "jobs": len(results)}}


def raw_fanout(count):
    """The raw Dask baseline, run as a plain task: worker_client().map, then gather."""
    with worker_client() as client:
        started = time.perf_counter()
        futures = client.map(tiny, range(count), pure=False)
        submitted = time.perf_counter() - started
        results = client.gather(futures)
        elapsed = time.perf_counter() - started
    assert len(results) == count
    return {{"elapsed": elapsed, "submit": submitted, "jobs": len(results)}}
'''


def write_project(root: Path, jobs: int) -> Path:
    return harness.write_project(root, {PIPELINE: ["fan"]}, {
        PLUGIN: PLUGIN_CODE.format(plugin=PLUGIN, pipeline=PIPELINE, jobs=jobs)})


def dataflow_once(engine: Engine, jobs: int, run_ids: list) -> tuple[float, float, float]:
    kinds: list = []      # the order events reached the engine: is the last progress late?
    started = time.perf_counter()
    result = engine.run(PIPELINE, listeners=[lambda event: kinds.append(event.get("kind"))])
    whole = time.perf_counter() - started
    last_progress = len(kinds) - 1 - kinds[::-1].index("progress") if "progress" in kinds else 0
    if "task_finished" in kinds[:last_progress]:
        print(f"  note: run {result.run_id[:8]}: last progress event came after task_finished")
    harness.require_completed(result)
    run_ids.append(result.run_id)
    output = result.output(PLUGIN)
    assert output["jobs"] == jobs
    return output["elapsed"], whole, output["submit"]


def raw_once(client: Client, raw_fanout, jobs: int) -> tuple[float, float, float]:
    started = time.perf_counter()
    output = client.submit(raw_fanout, jobs, pure=False).result()
    whole = time.perf_counter() - started
    assert output["jobs"] == jobs
    return output["elapsed"], whole, output["submit"]


def measure(engine: Engine, client: Client, raw_fanout, args) -> tuple[dict, list]:
    """Alternate the kinds AB BA AB ...; {kind: [(inside, whole, map call) s]}, run ids."""
    times: dict = {"dataflow": [], "raw": []}
    run_ids: list = []
    pair = [("dataflow", lambda: dataflow_once(engine, args.jobs, run_ids)),
            ("raw", lambda: raw_once(client, raw_fanout, args.jobs))]
    for index in range(args.warmup + args.reps):
        for kind, function in harness.in_turn(index, pair):
            psutil.cpu_percent(None)      # start a machine-CPU interval
            inside, whole, submit = function()
            load = psutil.cpu_percent(None)
            label = f"rep {index - args.warmup + 1}" if index >= args.warmup else "warm-up"
            print(f"  {label} {kind:8} inside {inside:6.3f} s  whole {whole:6.3f} s  "
                  f"map() {submit:5.3f} s"
                  f" ({args.jobs / inside:4.0f} jobs/s; machine CPU {load:.0f}%)", flush=True)
            if index >= args.warmup:
                times[kind].append((inside, whole, submit))
    return times, run_ids


def verify_progress(project: Project, run_ids: list, jobs: int) -> dict:
    """Every run's task record must count every job: progress.done == total == jobs."""
    flush_ms = harness.flush_ms(project, 60)
    tasks = {doc["run_id"]: doc.get("progress") for doc in project.db["tasks"].find(
        {"run_id": {"$in": run_ids}, "plugin": PLUGIN}, {"run_id": 1, "progress": 1})}
    bad = {run_id[:8]: tasks.get(run_id) for run_id in run_ids
           if tasks.get(run_id) != {"done": jobs, "total": jobs}}
    print(f"progress check: {len(run_ids) - len(bad)}/{len(run_ids)} runs recorded "
          f"done == total == {jobs} (flush {flush_ms:.0f} ms)")
    if bad:
        print(f"  runs with incomplete progress: {bad}")
    return {"progress_ok_runs": len(run_ids) - len(bad), "progress_checked_runs": len(run_ids),
            "progress_bad": bad}


def summarise(times: dict, jobs: int, check: dict) -> dict:
    figures = {}
    for kind, triples in times.items():
        inside, whole, submit = zip(*triples)
        figures[kind] = {
            "inside_jobs_per_s": round(statistics.median(jobs / value for value in inside), 1),
            "whole_jobs_per_s": round(statistics.median(jobs / value for value in whole), 1),
            "map_call_s": round(statistics.median(submit), 4),
            "inside_s": [round(value, 3) for value in inside],
            "whole_s": [round(value, 3) for value in whole]}
    ratio_inside = figures["dataflow"]["inside_jobs_per_s"] / figures["raw"]["inside_jobs_per_s"]
    ratio_whole = figures["dataflow"]["whole_jobs_per_s"] / figures["raw"]["whole_jobs_per_s"]
    for kind in ("dataflow", "raw"):
        print(f"{kind:8} median jobs/s: inside {figures[kind]['inside_jobs_per_s']:7.1f}   "
              f"whole run {figures[kind]['whole_jobs_per_s']:7.1f}   (map() call "
              f"{figures[kind]['map_call_s'] * 1000:.0f} ms)")
    print(f"ratio dataflow/raw: inside {ratio_inside:.2f}x, whole run {ratio_whole:.2f}x "
          f"(target >= {TARGET_RATIO}x)")
    return {"benchmark": "jobs_throughput", "jobs": jobs, "reps": len(times["raw"]),
            **figures, "ratio_inside": round(ratio_inside, 3),
            "ratio_whole": round(ratio_whole, 3), "target": TARGET_RATIO, **check}


def benchmark(args, workdir: Path) -> dict:
    with ExitStack() as stack:
        harness.open_store(stack, workdir)
        client = harness.local_cluster(stack)
        project = harness.open_project(stack, write_project(workdir / "project", args.jobs))
        engine = stack.enter_context(Engine(project, client=client))
        harness.warm_up(engine, PIPELINE)   # also registers the plugin folder here
        raw_fanout = importlib.import_module(PLUGIN).raw_fanout
        print(f"machine: {harness.cores()} cores, CPU idle check "
              f"{harness.busy_pct():.0f}% busy before start; {args.jobs} jobs")
        times, run_ids = measure(engine, client, raw_fanout, args)
        return summarise(times, args.jobs, verify_progress(project, run_ids, args.jobs))


def add_options(parser) -> None:
    parser.add_argument("--reps", type=int, default=5, help="timed runs of each kind")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each kind first")
    parser.add_argument("--jobs", type=int, default=2000, help="tiny jobs per fan-out")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark, "dataflow-jobs-bench-",
                                 print_summary=True)


if __name__ == "__main__":
    sys.exit(main())
