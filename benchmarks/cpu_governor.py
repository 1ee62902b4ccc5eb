"""CPU governor: 16 CPU-bound jobs (~0.25 s of pure-Python spinning each) fanned out from a
plugin on an Engine that owns its LocalCluster (so the governor runs, cpu_target 0.8), against
the same fan-out on an Engine given its own LocalCluster with govern=False; alternated.

    .venv/bin/python benchmarks/cpu_governor.py [--reps 3] [--jobs 16] [--job-seconds 0.25]

Per run: fan-out wall (timed in the plugin), mean machine CPU over it (psutil every 0.1 s),
dataflow's own share vs everything else's, CPU busy just before, CPU time each job took;
best-given-others is the best with cpu_target less the others' share.
Best = jobs x job_seconds / (cores x cpu_target); targets: wall <= 1.3 x best, CPU 70-90 %.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, suppress
from pathlib import Path

import psutil
import pymongo
from distributed import Client, LocalCluster

from dataflow import Engine, Project

PLUGIN, PIPELINE, CPU_TARGET, WALL_TARGET = "spinner", "bench", 0.8, 1.3
QUIET_PCT, QUIET_OTHERS_PCT = 20.0, 10.0    # a quiet machine; a run with little other load
PLUGIN_CODE = '''
import time

PLUGIN_NAME = "{plugin}"
HOOKS = ["spin"]
PIPELINES = ["{pipeline}"]


def spin(loops):
    """Pure-Python CPU work, a fixed number of loop turns; returns the CPU seconds it took."""
    started = time.process_time()
    sum(number % 7 for number in range(loops))
    return time.process_time() - started


def run(context, config):
    jobs = context["services"]["jobs"]
    started = time.time()
    spent = jobs.gather(jobs.map(spin, [{loops}] * {jobs}, name="spin"))
    return {{"started": started, "finished": time.time(), "job_cpu": sum(spent)}}
'''


def start_store(workdir: Path):
    """(uri, server process or None): DATAFLOW_MONGO_URI, else a SecantusDB of our own."""
    if os.environ.get("DATAFLOW_MONGO_URI"):
        return os.environ["DATAFLOW_MONGO_URI"], None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(workdir / "secantus.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
             "--storage-path", str(workdir / "db")], stdout=log, stderr=subprocess.STDOUT)
    uri, deadline = f"mongodb://127.0.0.1:{port}/?directConnection=true", time.monotonic() + 30
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=300) as client:
        while process.poll() is None and time.monotonic() < deadline:
            with suppress(pymongo.errors.PyMongoError):
                client.admin.command("ping")
                return uri, process
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"SecantusDB did not answer; see {workdir / 'secantus.log'}")


def calibrate(seconds: float) -> int:
    """Loop turns of the plugin's spin() that take `seconds` of CPU time in this process."""
    turns, spent = 100_000, 0.0
    while spent < 0.2:
        turns *= 2
        started = time.process_time()
        sum(number % 7 for number in range(turns))
        spent = time.process_time() - started
    return int(turns * seconds / spent)


def write_project(root: Path, jobs: int, loops: int) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "config" / "pipelines.yaml").write_text(
        f"pipelines:\n  {PIPELINE}:\n    hooks: [spin]\n")
    (root / "config" / "system.yaml").write_text(
        f"cluster:\n  cpu_target: {CPU_TARGET}\n  dashboard_address: \"127.0.0.1:0\"\n"
        "logging:\n  level: INFO\n")
    (root / "plugins" / PLUGIN).mkdir(parents=True)
    (root / "plugins" / PLUGIN / "__init__.py").write_text(
        PLUGIN_CODE.format(plugin=PLUGIN, pipeline=PIPELINE, jobs=jobs, loops=loops))
    return root


def sample_cpu(samples: list, stop: threading.Event, governor) -> None:
    """Append (time, whole-machine CPU %, governor duty) every 0.1 s until `stop` is set."""
    psutil.cpu_percent(None)
    while not stop.wait(0.1):
        samples.append((time.time(), psutil.cpu_percent(None), governor and governor.duty))


def mean_between(samples: list, started: float, finished: float, column: int = 1):
    inside = [row[column] for row in samples if started + 0.1 <= row[0] <= finished]
    return round(statistics.mean(inside), 3) if inside and inside[0] is not None else None


def own_cpu_seconds() -> float:     # this process and its children: workers, store
    total = 0.0
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            total += sum(process.cpu_times()[:2])
    return total


def busy_before(settle: float) -> float:
    """Machine CPU % over 1 s; waits (up to `settle` s) for it to drop under QUIET_PCT."""
    deadline = time.monotonic() + settle
    while True:
        busy = psutil.cpu_percent(interval=1.0)
        if busy < QUIET_PCT or time.monotonic() >= deadline:
            return busy


def one_run(engine: Engine, kind: str, args, best: float) -> dict:
    idle, samples, stop = busy_before(args.settle), [], threading.Event()
    sampler = threading.Thread(target=sample_cpu, args=(samples, stop, engine.resources.governor))
    own_before, run_started = own_cpu_seconds(), time.time()
    sampler.start()
    try:
        result = engine.run(PIPELINE)
    finally:
        stop.set()
    run_wall, own = time.time() - run_started, own_cpu_seconds() - own_before
    if result.status != "completed":
        raise RuntimeError(f"run {result.run_id} ended {result.status}: {result.error}")
    times = result.output(PLUGIN)
    window = (times["started"], times["finished"])
    wall, cpu = window[1] - window[0], mean_between(samples, *window)
    whole = mean_between(samples, run_started, run_started + run_wall)
    own_pct = 100 * own / (run_wall * psutil.cpu_count())
    others, duty = round(max(0.0, whole - own_pct), 1), mean_between(samples, *window, 2)
    shared = best * CPU_TARGET / max(CPU_TARGET - others / 100, 0.05)
    job_cpu = times["job_cpu"] / args.jobs
    print(f"  {kind:10} wall {wall:5.2f} s ({wall / best:4.2f}x best, {wall / shared:4.2f}x "
          f"best-given-others)  mean CPU {cpu:5.1f}% (duty {duty}) job CPU {job_cpu:.3f} s | "
          f"whole run {run_wall:5.2f} s, CPU {whole:5.1f}% = dataflow {own_pct:5.1f}% + others "
          f"{others:5.1f}% | before: {idle:4.1f}% busy", flush=True)
    return {"kind": kind, "wall_s": round(wall, 3), "wall_over_best": round(wall / best, 3),
            "wall_over_best_given_others": round(wall / shared, 3), "job_cpu_s": round(job_cpu, 4),
            "mean_cpu_pct": cpu, "mean_duty": duty, "run_wall_s": round(run_wall, 3),
            "run_mean_cpu_pct": whole, "dataflow_cpu_pct": round(own_pct, 1),
            "others_cpu_pct": others, "busy_before_pct": round(idle, 1),
            "quiet": others < QUIET_OTHERS_PCT}


def report(runs: list[dict], best: float, loops: int) -> dict:
    summary = {"benchmark": "cpu_governor", "cores": psutil.cpu_count(), "cpu_target": CPU_TARGET,
               "best_s": round(best, 3), "loops_per_job": loops, "runs": runs}
    for kind in ("governed", "ungoverned"):
        for subset in ("all", "quiet"):
            mine = [run for run in runs
                    if run["kind"] == kind and (subset == "all" or run["quiet"])]
            if not mine:
                continue
            medians = {key: round(statistics.median(run[key] for run in mine), 3) for key in (
                "wall_s", "wall_over_best", "wall_over_best_given_others", "mean_cpu_pct",
                "others_cpu_pct", "job_cpu_s")}
            print(f"{kind:10} {subset:5} runs ({len(mine)}): median wall {medians['wall_s']:.2f} s "
                  f"= {medians['wall_over_best']:.2f}x best (target <= {WALL_TARGET}x), mean CPU "
                  f"{medians['mean_cpu_pct']:.1f}% (target 70-90%), others "
                  f"{medians['others_cpu_pct']:.1f}%")
            summary[f"{kind}_{subset}"] = {**medians, "count": len(mine)}
    return summary


def start_engines(stack: ExitStack, project_dir: Path) -> dict:
    """The governed Engine (owns its cluster) and an ungoverned one on a LocalCluster."""
    governed, plain = Project(project_dir), Project(project_dir)
    stack.callback(plain.close)
    stack.callback(governed.close)
    cluster = stack.enter_context(LocalCluster(n_workers=2, threads_per_worker=1,
                                               processes=True, dashboard_address=":0"))
    client = stack.enter_context(Client(cluster))
    engines = {"governed": stack.enter_context(Engine(governed)),
               "ungoverned": stack.enter_context(Engine(plain, client=client, govern=False))}
    for engine in engines.values():
        engine.plan(PIPELINE)   # load the plugins first, as `dataflow run` does (see report)
        engine.client           # then start the governed cluster (and its governor)
    return engines


def benchmark(args, workdir: Path) -> dict:
    with ExitStack() as stack:
        uri, server = start_store(workdir)
        if server is not None:
            stack.callback(server.wait, 20)
            stack.callback(server.terminate)
        database = f"bench_{uuid.uuid4().hex[:10]}"
        os.environ.update(DATAFLOW_MONGO_URI=uri, DATAFLOW_MONGO_DB=database)
        if server is None:      # a throwaway database in someone else's MongoDB: dropped last
            stack.callback(pymongo.MongoClient(uri).drop_database, database)
        loops = calibrate(args.job_seconds)
        best = args.jobs * args.job_seconds / (psutil.cpu_count() * CPU_TARGET)
        engines = start_engines(stack, write_project(workdir / "project", args.jobs, loops))
        print(f"{psutil.cpu_count()} cores; {args.jobs} jobs x {args.job_seconds} s "
              f"({loops} loop turns); physical best at {CPU_TARGET:.0%}: {best:.2f} s")
        runs = []
        for index in range(args.warmup + args.reps):
            order = ["governed", "ungoverned"] if index % 2 == 0 else ["ungoverned", "governed"]
            for kind in order:
                figures = one_run(engines[kind], kind, args, best)
                if index >= args.warmup:
                    runs.append(figures)
        return report(runs, best, loops)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="timed runs of each kind")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each kind first")
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--job-seconds", type=float, default=0.25,
                        help="CPU seconds of spinning per job (calibrated here)")
    parser.add_argument("--settle", type=float, default=30.0,
                        help=f"before each run wait up to this many s for CPU < {QUIET_PCT:g}%%")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dataflow-cpu-bench-"))
    try:
        summary = benchmark(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
