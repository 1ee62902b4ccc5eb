"""Whole-process time of `dataflow run default`, and the run alone, on the embedded store.

    .venv/bin/python benchmarks/default_pipeline.py [--runs 3]

Works on a temp copy of the project (config/ and plugins/), so the embedded SecantusDB
starts under its .dataflow/ on the first run, which is reported apart and not counted;
the timed runs reuse it as every later command does (warm install, warm store). The run
alone is the `duration` dataflow recorded for the run (`dataflow runs --json --limit 1`).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness
from dataflow.store.embedded import stop_embedded_server

REPO = Path(__file__).resolve().parents[1]
DATAFLOW = str(Path(sys.executable).with_name("dataflow"))
OVERRIDES = ("DATAFLOW_MONGO_URI", "DATAFLOW_MONGO_DB", "DATAFLOW_PROJECT", "DATAFLOW_SCHEDULER")
TIMEOUT = 300


def copy_project(root: Path) -> Path:
    for folder in ("config", "plugins"):
        shutil.copytree(REPO / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def dataflow(project: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    """Run the venv's `dataflow` in the project; (wall seconds, completed process)."""
    env = {key: value for key, value in os.environ.items() if key not in OVERRIDES}
    started = time.perf_counter()
    done = subprocess.run([DATAFLOW, *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    return time.perf_counter() - started, done


def one_run(project: Path) -> dict:
    """`dataflow run default`, then the run it recorded."""
    wall, done = dataflow(project, "run", "default")
    if done.returncode != 0:
        raise RuntimeError(f"`dataflow run default` exited {done.returncode}:\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    _, listed = dataflow(project, "runs", "--json", "--limit", "1")
    run = json.loads(listed.stdout)[0]
    if run["status"] != "completed":
        raise RuntimeError(f"run {run['_id']} is {run['status']}: {run.get('error')}")
    _, shown = dataflow(project, "show", run["_id"], "--json")
    tasks = {f"{t['hook']}.{t['plugin']}": t["duration"] for t in json.loads(shown.stdout)["tasks"]}
    return {"run_id": run["_id"], "wall_s": round(wall, 3), "run_s": run["duration"],
            "tasks_s": tasks}


def measure(project: Path, runs: int) -> dict:
    help_wall, _ = dataflow(project, "--help")
    first = one_run(project)
    timed = [one_run(project) for _ in range(runs)]
    walls, alone = [r["wall_s"] for r in timed], [r["run_s"] for r in timed]
    tasks = {task: round(statistics.median(r["tasks_s"][task] for r in timed), 3)
             for task in timed[0]["tasks_s"]}
    return {"benchmark": "default_pipeline", "runs": runs,
            "wall_s": walls, "run_s": alone, "task_median_s": tasks,
            "first_run_tasks_s": first["tasks_s"],
            "wall_median_s": round(statistics.median(walls), 3),
            "run_median_s": round(statistics.median(alone), 3),
            "first_run_wall_s": first["wall_s"], "first_run_s": first["run_s"],
            "cli_help_wall_s": round(help_wall, 3)}


def report(figures: dict) -> None:
    print(f"dataflow --help (interpreter + CLI import): {figures['cli_help_wall_s']:.2f} s")
    print(f"first run (starts the embedded store): whole process "
          f"{figures['first_run_wall_s']:.2f} s, run alone {figures['first_run_s']:.2f} s")
    for index, (wall, alone) in enumerate(zip(figures["wall_s"], figures["run_s"]), start=1):
        print(f"run {index}: whole process {wall:.2f} s, run alone {alone:.2f} s")
    for task, duration in figures["task_median_s"].items():
        print(f"  task {task}: median {duration:.2f} s "
              f"(first run {figures['first_run_tasks_s'][task]:.2f} s)")
    print(f"median of {figures['runs']}: whole process {figures['wall_median_s']:.2f} s, "
          f"run alone {figures['run_median_s']:.2f} s")
    harness.print_json(figures)


def benchmark(args, root: Path) -> None:
    project = copy_project(root / "project")
    try:
        report(measure(project, args.runs))
    finally:
        stop_embedded_server(project / ".dataflow")


def add_options(parser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="timed runs after the first")


def main() -> int:
    return harness.run_benchmark(__doc__, add_options, benchmark, "dataflow-default-")


if __name__ == "__main__":
    sys.exit(main())
