"""`dataflow run noop` as a whole process (3 hooks x 4 no-op plugins), against a plain Dask
script that starts its own LocalCluster and runs the same graph; both as subprocesses, in
alternation (AB BA ...).

    .venv/bin/python benchmarks/cli_run.py [--reps 5] [--server]

Without --server: the CLI runs in-process with its own cluster (embedded-store equivalent:
the store is already up). Target (issue 13): <= 1.2x the plain Dask script. The CLI prints
its phases (DATAFLOW_PHASES=1) and their medians are reported as the breakdown.
With --server: a `dataflow serve` is up for the project, so `dataflow run` hands the run to
its warm cluster. Target (issue 9): <= 0.5x the plain Dask script.
"""
from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

import harness

HOOKS, PLUGINS_PER_HOOK, PIPELINE = ("h1", "h2", "h3"), 4, "noop"
PLUGIN_CODE = '''PLUGIN_NAME = "{name}"
HOOKS = ["{hook}"]
PIPELINES = ["noop"]

def run(context, config):
    return {{"plugin": "{name}", "inputs": len(context["inputs"])}}
'''
RAW_SCRIPT = '''import logging
from distributed import Client, LocalCluster

def noop(name, *inputs):
    return {"plugin": name, "inputs": len(inputs)}

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster:
        with Client(cluster) as client:
            previous = []
            for hook in ("h1", "h2", "h3"):
                previous = [client.submit(noop, f"{hook}_{i}", *previous, pure=False)
                            for i in range(4)]
            client.gather(previous)
'''
PHASE = re.compile(r"^phase (\S+) ([0-9.]+)$", re.M)


def write_noop_project(root: Path) -> Path:
    plugins = {f"{hook}_p{i}": PLUGIN_CODE.format(name=f"{hook}_p{i}", hook=hook)
               for hook in HOOKS for i in range(PLUGINS_PER_HOOK)}
    return harness.write_project(root, {PIPELINE: list(HOOKS)}, plugins)


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command} failed ({result.returncode}):\n{result.stdout}\n"
                         f"{result.stderr}")
    return elapsed, result.stderr


@contextlib.contextmanager
def serving(project: Path, env: dict):
    """`dataflow serve` for the project, until the block ends."""
    port = harness.free_port()
    process = subprocess.Popen([sys.executable, "-m", "dataflow", "serve", "--port", str(port)],
                               cwd=project, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        harness.poll(lambda: _healthy(port), 120, "the server to answer")
        harness.poll(lambda: (project / ".dataflow" / "web.json").exists(), 30, "web.json")
        yield
    finally:
        process.terminate()
        process.wait(60)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok
    except requests.RequestException:
        return False


def measure(args, workdir: Path) -> dict:
    with contextlib.ExitStack() as stack:
        harness.open_store(stack, workdir)
        project = write_noop_project(workdir / "project")
        (workdir / "raw.py").write_text(RAW_SCRIPT)
        env = {**os.environ, "DATAFLOW_PHASES": "1", "DATAFLOW_PROJECT": str(project)}
        kinds = {"dataflow": [sys.executable, "-m", "dataflow", "run", PIPELINE],
                 "raw": [sys.executable, str(workdir / "raw.py")]}
        if args.server:
            stack.enter_context(serving(project, env))
        return _alternate(args, kinds, project, env)


def _alternate(args, kinds: dict, project: Path, env: dict) -> dict:
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    phases: dict[str, list[float]] = {}
    for index in range(args.warmup + args.reps):
        for kind in harness.in_turn(index, kinds):
            elapsed, stderr = timed(kinds[kind], project, env)
            if index < args.warmup:
                continue
            times[kind].append(elapsed)
            for name, seconds in PHASE.findall(stderr):
                phases.setdefault(name, []).append(float(seconds))
            print(f"  rep {index - args.warmup + 1} {kind:<8} {elapsed:.3f} s", flush=True)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    ratio = medians["dataflow"] / medians["raw"]
    target = 0.5 if args.server else 1.2
    print(f"dataflow run {PIPELINE} {'(server up) ' if args.server else ''}median "
          f"{medians['dataflow']:.3f} s; plain Dask script {medians['raw']:.3f} s; ratio "
          f"{ratio:.2f}x (target <= {target}x: {'met' if ratio <= target else 'missed'})")
    breakdown = {name: round(statistics.median(values), 3) for name, values in phases.items()}
    previous = None
    for name, seconds in breakdown.items():
        step = "" if previous is None else f" (+{seconds - previous:.3f} s)"
        print(f"  phase {name:<22} at {seconds:.3f} s from process start{step}")
        previous = seconds
    return {"benchmark": "cli_run", "server": args.server, "reps": args.reps,
            "dataflow_s": round(medians["dataflow"], 3), "raw_s": round(medians["raw"], 3),
            "ratio": round(ratio, 3), "target": target, "target_met": ratio <= target,
            "phases_s": breakdown}


def add_options(parser) -> None:
    parser.add_argument("--reps", type=int, default=5, help="timed runs of each kind")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first")
    parser.add_argument("--server", action="store_true",
                        help="with a `dataflow serve` up for the project")


if __name__ == "__main__":
    sys.exit(harness.run_benchmark(__doc__, add_options, measure, print_summary=True))
