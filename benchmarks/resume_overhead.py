"""Resume overhead: `engine.resume(run_id)` of a run whose hook-3 plugin failed, against a fresh
run of only the remaining task, on one LocalCluster (2 processes x 1 thread).

    .venv/bin/python benchmarks/resume_overhead.py [--reps 5] [--warmup 1] [--rows 200000]
                                                   [--checkpoints files|gridfs]

Pipeline `full`: load (2 plugins, a --rows random-walk DataFrame each) -> transform (one
DataFrame of both, with returns) -> report (`summary`, and `report`, which fails while its flag
file is missing, then works). Each rep: delete the flag, run `full` (fails), then time, in
alternating order, `engine.resume` (4 tasks restored from checkpoints, `report` re-run) and
a fresh run of pipeline `rest`: `feed` (unpickles transform's output, the data `report` needs)
-> `report`. Also printed: how long `report` itself took inside the resumed run. Outputs of
both are compared. DATAFLOW_MONGO_URI when set (a throwaway database, dropped at the end),
else a SecantusDB server of its own in a temp folder.
"""
from __future__ import annotations

import contextlib
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

import harness
from dataflow import Engine

PRELUDE = '''import os, pickle
import numpy as np
import pandas as pd
PLUGIN_NAME, HOOKS, PIPELINES = "{name}", {hooks}, {pipelines}
ROWS, FLAG, DATA = {rows}, "{flag}", "{data}"
'''
BODIES = {
    "load": '''
def run(context, config):
    rng = np.random.default_rng(sum(map(ord, PLUGIN_NAME)))
    return pd.DataFrame({"ts": np.arange(ROWS, dtype="int64") * 60_000, "ticker": PLUGIN_NAME,
                         "price": 100 + rng.standard_normal(ROWS).cumsum() * 0.1,
                         "volume": rng.integers(1, 10_000, ROWS)})
''',
    "transform": '''
def run(context, config):
    frame = pd.concat(context["inputs"].values(), ignore_index=True)
    frame["ret"] = frame.groupby("ticker")["price"].pct_change()
    return frame
''',
    "summary": '''
def run(context, config):
    return next(iter(context["inputs"].values())).describe().to_dict()
''',
    "report": '''
def run(context, config):
    if not os.path.exists(FLAG):
        open(FLAG, "w").close()
        raise RuntimeError("report fails the first time")
    frame = next(iter(context["inputs"].values()))
    frame = frame.assign(bucket=frame["ts"] // 3_600_000)
    bars = frame.groupby(["ticker", "bucket"]).agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"),
        close=("price", "last"), volume=("volume", "sum"), vol=("ret", "std"))
    return {"bars": len(bars), "close_sum": round(float(bars["close"].sum()), 6),
            "vol_mean": round(float(bars["vol"].mean()), 9)}
''',
    "feed": '''
def run(context, config):
    with open(DATA, "rb") as handle:
        return pickle.load(handle)
''',
}
PLUGINS = {"load_a": ("load", ["load"], ["full"]), "load_b": ("load", ["load"], ["full"]),
           "transform": ("transform", ["transform"], ["full"]),
           "summary": ("summary", ["report"], ["full"]),
           "report": ("report", ["report", "report_rest"], ["full", "rest"]),
           "feed": ("feed", ["feed"], ["rest"])}
RESTORED = ("load.load_a", "load.load_b", "transform.transform", "report.summary")


def plugin_code(root: Path, rows: int, name: str, body: str, hooks: list,
                pipelines: list) -> str:
    """A plugin's source: the shared prelude (its names, the data sizes and paths), its body."""
    return PRELUDE.format(name=name, hooks=json.dumps(hooks), pipelines=json.dumps(pipelines),
                          rows=rows, flag=root / "report.flag", data=root / "feed.pkl") \
        + BODIES[body]


def write_project(root: Path, rows: int, checkpoints: str) -> Path:
    plugins = {name: plugin_code(root, rows, name, *spec) for name, spec in PLUGINS.items()}
    return harness.write_project(
        root, {"full": ["load", "transform", "report"], "rest": ["feed", "report_rest"]},
        plugins, f"checkpoints: {checkpoints}\n")


def failed_run(engine: Engine, write_feed: bool) -> tuple[str, float]:
    """Run `full` with the flag removed: `report` fails, the rest completes. With
    `write_feed`, transform's output is pickled for `feed` (the data `report` needs)."""
    (engine.project.directory / "report.flag").unlink(missing_ok=True)
    started = time.perf_counter()
    result = engine.run("full")
    elapsed = harness.ms_since(started)
    if result.status != "completed_with_errors" or \
            result.tasks["report.report"]["status"] != "failed":
        raise RuntimeError(f"run {result.run_id} ended {result.status}, not as planned")
    if write_feed:
        with open(engine.project.directory / "feed.pkl", "wb") as handle:
            pickle.dump(result.output("transform"), handle, protocol=5)
    harness.flush_ms(engine.project, 120)      # resume reads the stored history
    return result.run_id, elapsed


def task_ms(result, task_id: str) -> float:
    task = result.tasks[task_id]
    return (task["finished"] - task["started"]) * 1000


def resumed(engine: Engine, run_id: str) -> tuple[float, float, dict]:
    """engine.resume(run_id): its wall time, report's own time, and report's output."""
    started = time.perf_counter()
    result = engine.resume(run_id)
    elapsed = harness.ms_since(started)
    reused = [tid for tid in RESTORED if result.tasks[tid].get("reused") == "checkpoint"]
    if result.status != "completed" or len(reused) != len(RESTORED) or \
            result.tasks["report.report"].get("reused"):
        raise RuntimeError(f"resumed run {result.run_id} ended {result.status}, restored "
                           f"{reused}: not 4 restored + report re-run")
    return elapsed, task_ms(result, "report.report"), result.output("report")


def fresh(engine: Engine) -> tuple[float, float, dict]:
    """A fresh run of only the remaining task: feed (same data) -> report."""
    started = time.perf_counter()
    result = engine.run("rest")
    elapsed = harness.ms_since(started)
    if result.status != "completed":
        raise RuntimeError(f"run {result.run_id} of rest ended {result.status}: {result.error}")
    return elapsed, task_ms(result, "report_rest.report"), result.output("report")


def measure(engine: Engine, args) -> dict:
    times: dict = {key: [] for key in ("failed_run", "resume", "resume_report", "fresh",
                                       "fresh_report")}
    for index in range(args.warmup + args.reps):
        run_id, failed_ms = failed_run(engine, write_feed=index == 0)
        got = {kind: resumed(engine, run_id) if kind == "resume" else fresh(engine)
               for kind in harness.in_turn(index, ("resume", "fresh"))}
        if got["resume"][2] != got["fresh"][2]:
            raise RuntimeError(f"report differs: {got['resume'][2]} vs {got['fresh'][2]}")
        if index >= args.warmup:
            times["failed_run"].append(failed_ms)
            for kind in ("resume", "fresh"):
                times[kind].append(got[kind][0])
                times[f"{kind}_report"].append(got[kind][1])
    return times


def report(times: dict, args) -> None:
    medians = {key: round(statistics.median(values), 1) for key, values in times.items()
               if values}
    overhead, ratio = medians["resume"] - medians["fresh"], medians["resume"] / medians["fresh"]
    print(f"{args.rows:,}-row frames, checkpoints: {args.checkpoints}; medians of {args.reps}")
    print(f"first (failing) run of full:  {medians['failed_run']:8.1f} ms")
    print(f"engine.resume(run_id):        {medians['resume']:8.1f} ms   (report inside it: "
          f"{medians['resume_report']:.1f} ms)")
    print(f"fresh run of the rest:        {medians['fresh']:8.1f} ms   (report inside it: "
          f"{medians['fresh_report']:.1f} ms)")
    print(f"resume overhead: {overhead:+.1f} ms, ratio {ratio:.2f}x against the fresh run; "
          f"resume / report's own time {medians['resume'] / medians['resume_report']:.2f}x")
    summary = {"benchmark": "resume_overhead", "rows": args.rows, "reps": args.reps,
               "checkpoints": args.checkpoints, "medians_ms": medians,
               "overhead_ms": round(overhead, 1), "ratio": round(ratio, 2),
               "all_ms": {k: [round(v, 1) for v in vs] for k, vs in times.items()}}
    harness.print_json(summary)


def benchmark(args, workdir: Path) -> None:
    with contextlib.ExitStack() as cleanup:        # undone in reverse, whatever fails
        harness.open_store(cleanup, workdir)
        client = harness.local_cluster(cleanup)
        project = harness.open_project(
            cleanup, write_project(workdir / "project", args.rows, args.checkpoints))
        engine = cleanup.enter_context(Engine(project, client=client))
        report(measure(engine, args), args)


def add_options(parser) -> None:
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of each load frame")
    parser.add_argument("--checkpoints", choices=("files", "gridfs"), default="files")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark)


if __name__ == "__main__":
    sys.exit(main())
