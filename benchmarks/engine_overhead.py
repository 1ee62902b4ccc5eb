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

import contextlib
import sys
import textwrap
import time
from pathlib import Path

from distributed import Client, wait

import harness
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


def write_project(root: Path) -> Path:
    """A project whose pipeline `bench` has 3 hooks of 4 no-op plugins each."""
    names = {f"{hook}_p{number}": hook for hook in HOOKS
             for number in range(1, PLUGINS_PER_HOOK + 1)}
    return harness.write_project(root, {PIPELINE: HOOKS}, {
        name: textwrap.dedent(PLUGIN_CODE.format(name=name, hook=hook, pipeline=PIPELINE))
        for name, hook in names.items()})


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
    harness.require_completed(engine.run(PIPELINE))


def drained(project: Project) -> float:
    """Let the Recorder store everything queued (untimed for the runs); its wait in ms."""
    return harness.flush_ms(project, 60)


def measure(engine: Engine, client: Client, args) -> dict:
    """Alternate dataflow and raw runs, in the order AB BA AB ... (noise hits both)."""
    times: dict = {"dataflow": [], "raw": [], "drain": []}
    pair = [("dataflow", dataflow_run, engine), ("raw", raw_run, client)]
    for index in range(args.warmup + args.runs):
        for kind, function, argument in harness.in_turn(index, pair):
            started = time.perf_counter()
            function(argument)
            elapsed = harness.ms_since(started)
            drain = drained(engine.project) if args.drain and kind == "dataflow" else None
            if index >= args.warmup:
                times[kind].append(elapsed)
                if drain is not None:
                    times["drain"].append(drain)
    return times


def verify_history(project: Project, expected_runs: int) -> dict:
    """Flush, then check every run and task reached the store with a final status."""
    flush_ms = harness.flush_ms(project, 60)
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
    return {**harness.median_p90_ms(values), "min_ms": round(min(values), 2)}


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
    harness.print_json(summary)
    return summary


def benchmark(args, workdir: Path) -> dict:
    with contextlib.ExitStack() as cleanup:        # undone in reverse, whatever fails
        harness.open_store(cleanup, workdir)
        client = harness.local_cluster(cleanup)
        project = harness.open_project(cleanup, write_project(workdir / "project"))
        engine = cleanup.enter_context(Engine(project, client=client))
        times = measure(engine, client, args)
        return report(times, verify_history(project, args.runs + args.warmup))


def add_options(parser) -> None:
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each kind")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs of each kind first")
    parser.add_argument("--drain", action="store_true",
                        help="after each dataflow run, wait (untimed) until its history is "
                             "stored, and report that lag")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark)


if __name__ == "__main__":
    sys.exit(main())
