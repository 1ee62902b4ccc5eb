"""Cancel latency: time from a cancel request to the run's status `cancelled` in the store,
for a cooperative plugin (loops on `context.cancelled()`) and one that ignores cancel
(`while True: time.sleep(0.05)`, stopped hard after `cluster.cancel_grace_seconds` = 1.0).

    .venv/bin/python benchmarks/cancel_latency.py [--reps 3]

The run is orchestrated the way `dataflow run` does it: an Engine that owns its LocalCluster
(governor on), `engine.wait` on a thread. A cancel is requested either in-process
(`engine.cancel(run_id)`) or from another process (`dataflow cancel RUN_ID --no-wait`, timed
from just before it is launched); the store's `runs` document is polled every 10 ms.
Targets: cooperative < 1 s; ignoring < grace + 2 s. Uses DATAFLOW_MONGO_URI when set (a
throwaway database in it), else starts a SecantusDB server in a temp folder.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import harness
from dataflow import Engine, Project

GRACE = 1.0
TARGETS = {"cooperative": 1.0, "ignoring": GRACE + 2.0}
PLUGIN_CODE = '''
import time

PLUGIN_NAME = "{kind}"
HOOKS = ["work"]
PIPELINES = ["{kind}"]


def run(context, config):
    context["services"]["log"].info("looping")
    while {condition}:
        time.sleep({pause})
    return {{"stopped": True}}
'''
PLUGINS = {"cooperative": {"condition": "not context.cancelled()", "pause": 0.02},
           "ignoring": {"condition": "True", "pause": 0.05}}


def write_project(root: Path) -> Path:
    system = f"cluster:\n  cancel_grace_seconds: {GRACE}\n  dashboard_address: \"127.0.0.1:0\"\n"
    return harness.write_project(root, {kind: ["work"] for kind in PLUGINS}, {
        kind: PLUGIN_CODE.format(kind=kind, **parts) for kind, parts in PLUGINS.items()}, system)


def start_looping(engine: Engine, kind: str):
    """Start a run of pipeline `kind`; return (handle, waiter, ends) once its plugin loops."""
    looping, ends = threading.Event(), {}

    def listener(event):
        if event.get("kind") == "log" and event.get("message") == "looping":
            looping.set()

    def wait_run():
        ends["result"] = engine.wait(handle)
        ends["at"] = time.perf_counter()
    handle = engine.start(kind, trigger="benchmark", listeners=[listener])
    waiter = threading.Thread(target=wait_run, daemon=True)
    waiter.start()
    if not looping.wait(60):
        raise TimeoutError(f"plugin {kind} did not start looping within 60 s")
    return handle, waiter, ends


def cli_cancel(project: Project, run_id: str) -> subprocess.Popen:
    env = {**os.environ, "DATAFLOW_PROJECT": str(project.directory)}
    return subprocess.Popen([sys.executable, "-m", "dataflow", "cancel", run_id, "--no-wait"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def request_times(project: Project, run_id: str) -> tuple[float | None, float | None]:
    """(requested, handled) epoch seconds of the run's cancel request, if one was stored."""
    request = project.db["cancel_requests"].find_one({"run_id": run_id})
    if request is None:
        return None, None
    return request["requested"].timestamp(), request.get("handled")


def stored_status(runs, run_id: str) -> str | None:
    """The status the store has for the run (None before its document is written)."""
    return (runs.find_one({"_id": run_id}, {"status": 1}) or {}).get("status")


def one_cancel(engine: Engine, kind: str, how: str) -> dict:
    project = engine.project
    handle, waiter, ends = start_looping(engine, kind)
    runs = project.db["runs"]
    started, wall_started = time.perf_counter(), time.time()
    process = cli_cancel(project, handle.run_id) if how == "cli" else None
    if process is None:
        engine.cancel(handle.run_id)
    requested = time.perf_counter() - started
    harness.poll(lambda: stored_status(runs, handle.run_id) not in (None, "running"), 60,
                 f"run {handle.run_id} to end", interval=0.01)
    stored = time.perf_counter() - started
    status = stored_status(runs, handle.run_id)
    waiter.join(30)
    task = next(iter(ends["result"].tasks.values()))
    status = f"{status} (task {task['status']}: {task.get('error')})"
    figures = {"kind": kind, "how": how, "status": status, "store_s": round(stored, 3),
               "wait_returned_s": round(ends["at"] - started, 3)}
    if process is not None:
        output = process.communicate(timeout=60)[0].decode(errors="replace").strip()
        if process.returncode:
            raise RuntimeError(f"dataflow cancel exited {process.returncode}: {output}")
        requested_at, handled_at = request_times(project, handle.run_id)
        figures.update(request_stored_s=round(requested_at - wall_started, 3),
                       request_picked_up_s=round((handled_at or wall_started) - wall_started, 3))
    else:
        figures["cancel_call_s"] = round(requested, 3)
    print(f"  {kind:11} {how:10} -> store says {status} after {stored:6.3f} s\n    "
          + "  ".join(f"{k} {v}" for k, v in figures.items() if k.endswith("_s")
                      and k != "store_s"), flush=True)
    return figures


def report(results: list[dict], busy: list[float]) -> dict:
    summary = {"benchmark": "cancel_latency", "grace_s": GRACE, "targets_s": TARGETS,
               "machine_busy_pct": [round(value, 1) for value in busy]}
    for kind in PLUGINS:
        for how in ("in-process", "cli"):
            mine = [r for r in results if r["kind"] == kind and r["how"] == how]
            medians = {key: round(statistics.median(r[key] for r in mine), 3)
                       for key in mine[0] if key.endswith("_s")}
            verdict = "met" if medians["store_s"] < TARGETS[kind] else "MISSED"
            print(f"{kind:11} {how:10} median {medians['store_s']:.3f} s to `cancelled` "
                  f"(target < {TARGETS[kind]:g} s: {verdict}); " + ", ".join(
                      f"{k} {v}" for k, v in medians.items() if k != "store_s"))
            summary[f"{kind}_{how}"] = {**medians, "all_store_s": [r["store_s"] for r in mine],
                                        "statuses": sorted({r["status"] for r in mine})}
    return summary


def benchmark(args, workdir: Path) -> dict:
    with ExitStack() as stack:
        harness.open_store(stack, workdir)
        project = harness.open_project(stack, write_project(workdir / "project"))
        engine = stack.enter_context(Engine(project))
        harness.warm_up(engine, "cooperative")      # before timing anything
        results, busy = [], []
        for index in range(args.reps):
            busy.append(harness.busy_pct())
            print(f"rep {index + 1}: machine CPU {busy[-1]:.0f}% busy over the 1 s before")
            for kind in PLUGINS:
                for how in harness.in_turn(index, ("in-process", "cli")):
                    results.append(one_cancel(engine, kind, how))
        return report(results, busy)


def add_options(parser) -> None:
    parser.add_argument("--reps", type=int, default=3, help="cancels of each kind and way")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark, "dataflow-cancel-bench-",
                                 print_summary=True)


if __name__ == "__main__":
    sys.exit(main())
