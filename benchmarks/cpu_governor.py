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

import statistics
import sys
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import psutil

import harness
from dataflow import Engine

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
    system = (f"cluster:\n  cpu_target: {CPU_TARGET}\n  dashboard_address: \"127.0.0.1:0\"\n"
              + harness.DEFAULT_SYSTEM_YAML)
    return harness.write_project(root, {PIPELINE: ["spin"]}, {
        PLUGIN: PLUGIN_CODE.format(plugin=PLUGIN, pipeline=PIPELINE, jobs=jobs, loops=loops)},
        system)


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
        busy = harness.busy_pct()
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
    harness.require_completed(result)
    times = result.output(PLUGIN)
    window = (times["started"], times["finished"])
    wall, cpu = window[1] - window[0], mean_between(samples, *window)
    whole = mean_between(samples, run_started, run_started + run_wall)
    own_pct = 100 * own / (run_wall * harness.cores())
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
    summary = {"benchmark": "cpu_governor", "cores": harness.cores(), "cpu_target": CPU_TARGET,
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
    plain = harness.open_project(stack, project_dir)
    governed = harness.open_project(stack, project_dir)
    client = harness.local_cluster(stack)
    engines = {"governed": stack.enter_context(Engine(governed)),
               "ungoverned": stack.enter_context(Engine(plain, client=client, govern=False))}
    for engine in engines.values():     # starts the governed cluster (and its governor)
        harness.warm_up(engine, PIPELINE)
    return engines


def benchmark(args, workdir: Path) -> dict:
    with ExitStack() as stack:
        harness.open_store(stack, workdir)
        loops = calibrate(args.job_seconds)
        best = args.jobs * args.job_seconds / (harness.cores() * CPU_TARGET)
        engines = start_engines(stack, write_project(workdir / "project", args.jobs, loops))
        print(f"{harness.cores()} cores; {args.jobs} jobs x {args.job_seconds} s "
              f"({loops} loop turns); physical best at {CPU_TARGET:.0%}: {best:.2f} s")
        runs = []
        for index in range(args.warmup + args.reps):
            for kind in harness.in_turn(index, ["governed", "ungoverned"]):
                figures = one_run(engines[kind], kind, args, best)
                if index >= args.warmup:
                    runs.append(figures)
        return report(runs, best, loops)


def add_options(parser) -> None:
    parser.add_argument("--reps", type=int, default=3, help="timed runs of each kind")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each kind first")
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--job-seconds", type=float, default=0.25,
                        help="CPU seconds of spinning per job (calibrated here)")
    parser.add_argument("--settle", type=float, default=30.0,
                        help=f"before each run wait up to this many s for CPU < {QUIET_PCT:g}%%")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark, "dataflow-cpu-bench-",
                                 print_summary=True)


if __name__ == "__main__":
    sys.exit(main())
