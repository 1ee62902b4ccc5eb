"""Hot reload and code shipping: how fast a saved plugin file is served, and what shipping
plugin code to the workers adds to a task.

    .venv/bin/python benchmarks/plugin_reload.py [--edits 20] [--runs 15]

1. save → served: the file watcher (dataflow/plugins/watch.py) runs; each edit writes a
   new version of a plugin; timed until the registry serves its source hash (target < 1 s).
2. shipping overhead, on a LocalCluster (2 processes x 1 thread), a one-plugin pipeline:
   - first call of a new version: with shipping (pack + register + unpack + import) vs
     without (the worker imports the folder), each on a version never run before;
   - cached: the same version again, with shipping vs without (target: within noise).
   "Without" is the engine with `ship_code` replaced by a no-op: a folder plugin imported
   from the project's folder by a local worker, as before shipping existed.
Uses DATAFLOW_MONGO_URI when set (a throwaway database), else a SecantusDB of its own.
"""
from __future__ import annotations

import contextlib
import statistics
import sys
import time
from pathlib import Path

import harness
from dataflow import Engine
from dataflow.cluster import code_shipping
from dataflow.plugins.loader import source_hash
from dataflow.plugins.watch import PluginWatcher
from dataflow.run import engine as engine_module

PIPELINE, PLUGIN = "ship", "shipped"
TARGET_SERVED_MS = 1000.0
CODE = '''PLUGIN_NAME = "{name}"
HOOKS = ["work"]
VALUE = {value}
def run(context, config):
    return VALUE
'''


def write_version(folder: Path, value: int) -> str:
    (folder / "__init__.py").write_text(CODE.format(name=PLUGIN, value=value))
    return source_hash(folder)


def served_latency(project, folder: Path, edits: int) -> list[float]:
    """ms from each save to the registry serving that version (the watcher running)."""
    watcher = PluginWatcher(project).start()
    try:
        if not watcher.ready.wait(30):
            raise RuntimeError("the watcher did not start")
        times = []
        for value in range(1000, 1000 + edits):
            started = time.perf_counter()
            expected = write_version(folder, value)
            harness.poll(lambda: project.registry.get(PLUGIN).ref.source_hash == expected,
                         30, "the new version served", interval=0.001)
            times.append(harness.ms_since(started))
            time.sleep(0.15)          # the next save is a separate change
        return times
    finally:
        watcher.stop()


def timed_run(engine: Engine) -> float:
    started = time.perf_counter()
    harness.require_completed(engine.run(PIPELINE))
    return harness.ms_since(started)


def shipping_overhead(engine: Engine, folder: Path, runs: int) -> dict:
    """Alternate shipping and not shipping (AB BA ...): first calls and cached calls."""
    real, skip = code_shipping.ship_code, (lambda client, refs: [])
    times: dict = {"first_ship": [], "first_folder": [], "cached_ship": [], "cached_folder": []}
    value = 0
    for index in range(runs + 1):
        for kind, ship in harness.in_turn(index, [("ship", real), ("folder", skip)]):
            engine_module.ship_code = ship          # type: ignore[attr-defined]
            value += 1
            write_version(folder, value)
            engine.project.reload()
            first = timed_run(engine)
            cached = timed_run(engine)
            if index:                               # round 0 warms the cluster up
                times[f"first_{kind}"].append(first)
                times[f"cached_{kind}"].append(cached)
    engine_module.ship_code = real                  # type: ignore[attr-defined]
    return times


def ship_call_ms(engine: Engine) -> dict:
    """ship_code alone for a version already sent: the cost every run pays."""
    refs = [task.ref for task in engine.plan(PIPELINE).tasks]
    code_shipping.ship_code(engine.client, refs)
    started = time.perf_counter()
    for _ in range(1000):
        code_shipping.ship_code(engine.client, refs)
    return {"cached_ship_code_us": round(harness.ms_since(started), 3)}


def report(latency: list[float], times: dict, call: dict) -> dict:
    figures = {"served_p50_ms": round(statistics.median(latency), 1),
               "served_max_ms": round(max(latency), 1), **call}
    for kind, values in times.items():
        figures[f"{kind}_median_ms"] = round(statistics.median(values), 2)
    print(f"save -> served: p50 {figures['served_p50_ms']} ms, max {figures['served_max_ms']} ms"
          f" over {len(latency)} edits (target < {TARGET_SERVED_MS:.0f} ms: "
          f"{'met' if max(latency) < TARGET_SERVED_MS else 'MISSED'})")
    spread = statistics.pstdev(times["cached_folder"])
    for label in ("first", "cached"):
        ship, folder = figures[f"{label}_ship_median_ms"], figures[f"{label}_folder_median_ms"]
        print(f"{label:6} run (1 plugin): shipped {ship:7.2f} ms, folder {folder:7.2f} ms "
              f"(+{ship - folder:.2f} ms)")
    print(f"cached difference vs noise (stdev of folder runs): "
          f"{figures['cached_ship_median_ms'] - figures['cached_folder_median_ms']:+.2f} ms vs "
          f"{spread:.2f} ms; ship_code for a version already sent: "
          f"{call['cached_ship_code_us']} us a run")
    summary = {"benchmark": "plugin_reload", "edits": len(latency), **figures,
               "cached_folder_stdev_ms": round(spread, 2)}
    harness.print_json(summary)
    return summary


def benchmark(args, workdir: Path) -> dict:
    with contextlib.ExitStack() as cleanup:
        harness.open_store(cleanup, workdir)
        root = harness.write_project(workdir / "project", {PIPELINE: ["work"]}, {})
        folder = root / "plugins" / PLUGIN
        folder.mkdir(parents=True)
        write_version(folder, 0)
        project = harness.open_project(cleanup, root)
        latency = served_latency(project, folder, args.edits)
        client = harness.local_cluster(cleanup)
        engine = cleanup.enter_context(Engine(project, client=client))
        times = shipping_overhead(engine, folder, args.runs)
        return report(latency, times, ship_call_ms(engine))


def add_options(parser) -> None:
    parser.add_argument("--edits", type=int, default=20, help="saves timed by the watcher")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each kind")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark)


if __name__ == "__main__":
    sys.exit(main())
