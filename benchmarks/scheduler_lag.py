"""Scheduler lag: 1,000 pipelines scheduled every minute (`* * * * *`), fired by the cron
loop (`SchedulerLoop` on the real clock, a RunService over an Engine on a LocalCluster of
2 processes x 1 thread); each pipeline runs one no-op plugin.

    .venv/bin/python benchmarks/scheduler_lag.py [--pipelines 1000] [--minutes 2]

The real clock, at real minute boundaries, because the figure is wall time from the
instant a fire time is due: a FakeClock would make "submitted" equal "due". The loop is
started at least 15 s before a boundary (plugins loaded, cluster up), then runs through
`--minutes` boundaries. Figures:

    due → submitted            fire record `submitted` − `due` (target p99 < 0.5 s);
                               `submitted`: when the call handing the run's graph to
                               Dask returned (the loop read ahead 1.5 s before `due`)
    due → first task started   + the loop's submitted → first `task_started` event
    loop CPU idle              the CPU of the loop's thread (which starts a burst's runs
                               together: RunService.trigger_many; per-thread times from
                               psutil; run followers not counted) over the quiet part of
                               each minute (burst end + 10 s to :58), as % of one core
                               (target < 1 %); also the whole process's (Dask client,
                               Recorder, run followers, ...)
    loop CPU firing            the same threads' CPU seconds for one minute's burst
                               (:58 of the minute before → end of the firing tick), and as
                               % of one core over the burst (boundary → end of that tick)

Uses DATAFLOW_MONGO_URI when set (a throwaway database), else a SecantusDB of its own.
"""
from __future__ import annotations

import statistics
import sys
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import psutil

import harness
from dataflow import Engine
from dataflow.run.service import RunService
from dataflow.schedule.loop import SchedulerLoop

TARGETS = {"submit_p99_s": 0.5, "idle_cpu_pct": 1.0}
LEAD = 15.0           # seconds before the first boundary the loop is running, at least
SETTLE = 10.0         # seconds after the burst before the idle window opens
PLUGIN = '''
PLUGIN_NAME = "noop"
HOOKS = ["noop"]
PIPELINES = ["*"]


def run(context, config):
    return None
'''


def write_project(root: Path, count: int) -> Path:
    root = harness.write_project(root, {f"p{n:04d}": ["noop"] for n in range(count)},
                                 {"noop": PLUGIN})
    text = (root / "config" / "pipelines.yaml").read_text()
    (root / "config" / "pipelines.yaml").write_text(
        text.replace("    hooks: [noop]\n", "    hooks: [noop]\n    schedule: '* * * * *'\n"))
    return root


class Watch:
    """What the loop tells its listeners: the end of each tick that fired something (an
    event per minute) and the submitted → first task lag of each run."""

    def __init__(self):
        self.fires, self.first_task = 0, {}
        self.burst_ends: list[float] = []
        self.fired = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, kind: str, data: dict) -> None:
        with self.lock:
            if kind == "fire":
                self.fires += 1
            elif kind == "tick" and self.fires:
                self.burst_ends.append(time.time())
                self.fires = 0
                self.fired.set()
            elif kind == "first_task":
                self.first_task[data["run_id"]] = data["seconds"]


def scheduler_cpu(process: psutil.Process) -> float:
    """CPU seconds of the loop's thread(s) ("dataflow-scheduler*")."""
    ids = {thread.native_id for thread in threading.enumerate()
           if thread.name.startswith("dataflow-scheduler")}
    return sum(t.user_time + t.system_time for t in process.threads() if t.id in ids)


def sleep_until(when: float) -> None:
    time.sleep(max(0.0, when - time.time()))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def lag_figures(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    return {"count": len(values), "p50_s": round(statistics.median(values), 3),
            "p99_s": round(percentile(values, 0.99), 3), "max_s": round(max(values), 3)}


def one_minute(process: psutil.Process, watch: Watch, boundary: float) -> dict:
    """The burst at `boundary` (loop CPU, wall) and the quiet part of the minute after."""
    sleep_until(boundary - 2)
    watch.fired.clear()
    before = scheduler_cpu(process)
    if not watch.fired.wait(55):
        raise TimeoutError("nothing fired within 55 s of the minute")
    burst_cpu, burst_wall = scheduler_cpu(process) - before, watch.burst_ends[-1] - boundary
    sleep_until(boundary + burst_wall + SETTLE)
    loop_before, process_before, started = (scheduler_cpu(process),
                                            sum(process.cpu_times()[:2]), time.time())
    sleep_until(boundary + 58)
    wall = time.time() - started
    return {"boundary": datetime.fromtimestamp(boundary, timezone.utc).isoformat(),
            "burst_loop_cpu_s": round(burst_cpu, 3), "burst_wall_s": round(burst_wall, 3),
            "burst_loop_cpu_pct": round(100 * burst_cpu / burst_wall, 1),
            "idle_loop_cpu_pct": round(100 * (scheduler_cpu(process) - loop_before) / wall, 3),
            "idle_process_cpu_pct": round(100 * (sum(process.cpu_times()[:2])
                                                 - process_before) / wall, 2)}


def run_minutes(loop: SchedulerLoop, watch: Watch, minutes: int) -> list[dict]:
    """Run through `minutes` boundaries; per minute: burst and idle CPU."""
    process = psutil.Process()
    first = (int(time.time() + LEAD) // 60 + 1) * 60
    loop.start()
    figures = []
    for index in range(minutes):
        figures.append(one_minute(process, watch, first + 60 * index))
        minute = figures[-1]
        print(f"  minute {index + 1}: burst {minute['burst_loop_cpu_s']:.2f} s loop CPU over "
              f"{minute['burst_wall_s']:.2f} s ({minute['burst_loop_cpu_pct']}% of a core); "
              f"idle: loop {minute['idle_loop_cpu_pct']}% of a core, whole process "
              f"{minute['idle_process_cpu_pct']}%", flush=True)
    return figures


def report(project, watch: Watch, minutes: list[dict], pipelines: int) -> dict:
    project.recorder.flush(timeout=120)
    fires = list(project.db["schedule_fires"].find())
    started = [f for f in fires if f["outcome"] == "started" and f.get("submitted")]
    submit = [(f["submitted"] - f["due"]).total_seconds() for f in started]
    to_task = [(f["submitted"] - f["due"]).total_seconds() + watch.first_task[f["run_id"]]
               for f in started if f["run_id"] in watch.first_task]
    outcomes = {o: sum(1 for f in fires if f["outcome"] == o) for o in {f["outcome"] for f in fires}}
    for minute in minutes:              # the lag of each minute's burst on its own
        due = datetime.fromisoformat(minute["boundary"])
        minute["due_to_submitted"] = lag_figures([
            (f["submitted"] - f["due"]).total_seconds() for f in started if f["due"] == due])
    idle = [m["idle_loop_cpu_pct"] for m in minutes if m["idle_loop_cpu_pct"] is not None]
    summary = {"benchmark": "scheduler_lag", "pipelines": pipelines, "clock": "real",
               "cores": harness.cores(), "outcomes": outcomes,
               "due_to_submitted": lag_figures(submit),
               "due_to_first_task": lag_figures(to_task),
               "idle_loop_cpu_pct": max(idle) if idle else None, "minutes": minutes,
               "targets": TARGETS}
    print(f"due → submitted: {summary['due_to_submitted']} (target p99 < "
          f"{TARGETS['submit_p99_s']} s: "
          f"{'met' if submit and percentile(submit, 0.99) < TARGETS['submit_p99_s'] else 'MISSED'})")
    print(f"due → first task started: {summary['due_to_first_task']}")
    for minute in minutes:
        print(f"  {minute['boundary'][11:16]} due → submitted {minute['due_to_submitted']}")
    print(f"loop CPU idle: {summary['idle_loop_cpu_pct']}% of a core (target < "
          f"{TARGETS['idle_cpu_pct']}%); fire outcomes {outcomes}")
    return summary


def benchmark(args, workdir: Path) -> dict:
    with ExitStack() as stack:
        harness.open_store(stack, workdir)
        project = harness.open_project(stack, write_project(workdir / "project", args.pipelines))
        client = harness.local_cluster(stack)
        engine = stack.enter_context(Engine(project, client=client))
        harness.warm_up(engine, "p0000")
        service = RunService(engine)
        stack.callback(service.shutdown)
        loop = SchedulerLoop(service)
        stack.callback(loop.stop)
        watch = Watch()
        loop.listeners.append(watch)
        print(f"{args.pipelines} pipelines every minute; loop {loop.holder}", flush=True)
        minutes = run_minutes(loop, watch, args.minutes)
        loop.stop()
        return report(project, watch, minutes, args.pipelines)


def add_options(parser) -> None:
    parser.add_argument("--pipelines", type=int, default=1000, help="pipelines, each `* * * * *`")
    parser.add_argument("--minutes", type=int, default=2, help="minute boundaries to fire at")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark, "dataflow-scheduler-bench-",
                                 print_summary=True)


if __name__ == "__main__":
    sys.exit(main())
