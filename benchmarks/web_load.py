"""`dataflow serve` with 100,000 runs stored: REST API latency under concurrent clients,
the time the runs page takes to render in headless Chromium, and the server's idle CPU.

    .venv/bin/python benchmarks/web_load.py [--runs 100000] [--clients 10] [--requests 50]

Runs (the newest 1,000 with tasks) are inserted as history_query.py does: 3 pipelines, a
year of `started`. The project has those pipelines, a no-op plugin per hook. The server is
a `dataflow serve --port P` subprocess, so its CPU is measured apart from ours.
1. `GET /api/runs?limit=50`, then `GET /api/plugins`: --clients threads with a
   requests.Session each, --requests requests apiece, after 20 warm-up requests.
   Target: p99 < 100 ms.
2. The runs page in headless Chromium, navigation start (performance.now()) until its rows
   are visible: the first (cold) load apart, the median of 5 more. Target < 1 s.
3. The server process's CPU (psutil) over 20 s with the overview and the runs page open and
   idle, % of one core (also shown, no target: no page open; its Dask workers). Target < 2%.
DATAFLOW_MONGO_URI when set (a throwaway database, dropped at the end), else a SecantusDB
server of its own in a temp folder.
"""
from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pymongo
import requests
from playwright.sync_api import expect, sync_playwright

import harness
import history_query
from dataflow.store.schema import ensure_schema

ROUTES = ("/api/runs?limit=50", "/api/plugins")
VERDICT = {True: "met", False: "MISSED"}
API_TARGET_MS, RENDER_TARGET_S, IDLE_TARGET_PCT = 100.0, 1.0, 2.0
WARMUP, LOADS, TASKS_FOR, ROWS = 20, 5, 1000, 25
SETTLE_S, BASELINE_S, IDLE_S, START_TIMEOUT, PAGE_TIMEOUT = 3.0, 10.0, 20.0, 180, 30_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCUMENT_READY = ("() => window.Bokeh !== undefined && Bokeh.documents.length > 0 "
                  "&& Bokeh.documents[0].is_idle")
PLUGIN_CODE = 'PLUGIN_NAME = "{name}"\nHOOKS = ["{hook}"]\nPIPELINES = ["*"]\nVERSION = "1.0"\n\n' \
    "def run(context, config):\n    return None\n"


def write_project(root: Path) -> Path:
    """The seeded runs' 3 pipelines, one no-op plugin per (hook, plugin); the folders are
    prefixed so that none is named like an importable module (the repo's plugins/)."""
    plugins = {f"noop_{plugin}": PLUGIN_CODE.format(name=plugin, hook=hook)
               for hooks in history_query.PIPELINES.values() for hook, plugin in hooks}
    return harness.write_project(root, history_query.PIPELINE_HOOKS, plugins)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).ok
    except requests.RequestException:
        return False


@contextlib.contextmanager
def serving(project: Path, workdir: Path):
    """(process, url) of `dataflow serve` for the project, until the block ends."""
    port, log_path = harness.free_port(), workdir / "serve.log"
    url, env = f"http://127.0.0.1:{port}", {**os.environ, "DATAFLOW_PROJECT": str(project)}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "dataflow", "serve", "--port",
                                    str(port)], cwd=project, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        harness.poll(lambda: process.poll() is not None or _healthy(url), START_TIMEOUT,
                     "the server to answer /health")
        if process.poll() is not None:
            raise RuntimeError(f"`dataflow serve` exited: {log_path.read_text()[-2000:]}")
        yield process, url
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --- 1. API latency ------------------------------------------------------------------------------

def percentile(values, share: float) -> float:
    """The `share` percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def client_times(url: str, count: int) -> list[float]:
    """One client: `count` GETs of `url` in turn on one Session; each one's ms."""
    times = []
    with requests.Session() as session:
        for _ in range(count):
            started = time.perf_counter()
            response = session.get(url, timeout=30)
            times.append(harness.ms_since(started))
            response.raise_for_status()
    return times


def check_answers(url: str) -> None:
    """Fail unless the routes answer what they should: 50 runs, every plugin loaded."""
    runs = requests.get(url + ROUTES[0], timeout=30).json()["runs"]
    listed = requests.get(url + ROUTES[1], timeout=30).json()
    if len(runs) != 50 or listed["problems"] or len(listed["plugins"]) != 5:
        raise RuntimeError(f"unexpected answers: {len(runs)} runs, plugins {listed}")


def api_latency(url: str, clients: int, each: int) -> dict:
    """{route: p50/p99} with `clients` concurrent clients, after the warm-up requests."""
    check_answers(url)
    figures = {}
    for route in ROUTES:
        client_times(url + route, WARMUP)
        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(client_times, url + route, each) for _ in range(clients)]
            times = [ms for future in futures for ms in future.result()]
        p99 = percentile(times, 0.99)
        figures[route] = {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(p99, 2),
                          "requests": len(times), "target_met": p99 < API_TARGET_MS}
    return figures


# --- 2. render time ------------------------------------------------------------------------------

def load_runs_page(context) -> float:
    """Open /runs in a new tab; ms from navigation start until its rows are visible."""
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT)
    page.goto("/runs", wait_until="commit")
    rows = page.locator(".run-row")
    expect(rows).to_have_count(ROWS, timeout=PAGE_TIMEOUT)
    expect(rows.last).to_be_visible(timeout=PAGE_TIMEOUT)
    try:
        return page.evaluate("performance.now()")
    finally:
        page.close()


def render_times(browser, url: str) -> dict:
    """The first (cold) load, then the median of LOADS more in the same browser context."""
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 1000})
    try:
        cold = load_runs_page(context)
        warm = [load_runs_page(context) for _ in range(LOADS)]
    finally:
        context.close()
    median = statistics.median(warm)
    return {"cold_ms": round(cold, 1), "median_ms": round(median, 1),
            "loads_ms": [round(ms, 1) for ms in warm],
            "target_met": median < RENDER_TARGET_S * 1000}


# --- 3. idle CPU ---------------------------------------------------------------------------------

def server_cpu(pid: int, seconds: float) -> tuple[float, float]:
    """% of one core the server, and apart its children (Dask workers), used over `seconds`."""
    server = psutil.Process(pid)
    processes = [server, *server.children(recursive=True)]

    def used() -> dict:
        return {p.pid: sum(p.cpu_times()[:2]) for p in processes if p.is_running()}
    before, started = used(), time.monotonic()
    time.sleep(seconds)
    after, elapsed = used(), time.monotonic() - started
    children = sum(after[p] - before[p] for p in after if p in before and p != pid)
    return (after[pid] - before[pid]) / elapsed * 100, children / elapsed * 100


def idle_cpu(browser, url: str, pid: int) -> dict:
    """The server's CPU with no page open (a baseline, BASELINE_S), then over IDLE_S with
    the overview and the runs page open and idle."""
    time.sleep(SETTLE_S)
    baseline, _ = server_cpu(pid, BASELINE_S)
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 1000})
    try:
        for path in ("/", "/runs"):
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT)
            page.goto(path)
            page.wait_for_function(DOCUMENT_READY)
        time.sleep(SETTLE_S)
        server, children = server_cpu(pid, IDLE_S)
    finally:
        context.close()
    return {"server_pct": round(server, 2), "workers_pct": round(children, 2),
            "no_pages_pct": round(baseline, 2), "seconds": IDLE_S,
            "target_met": server < IDLE_TARGET_PCT}


# --- the benchmark -------------------------------------------------------------------------------

def report(figures: dict, args) -> None:
    for route, got in figures["api"].items():
        print(f"GET {route}, {args.clients} clients x {args.requests}: p50 {got['p50_ms']:.2f} "
              f"ms, p99 {got['p99_ms']:.2f} ms (p99 < {API_TARGET_MS:g} ms: "
              f"{VERDICT[got['target_met']]})")
    render = figures["render"]
    print(f"runs page rendered (navigation start -> rows visible): median of {LOADS} "
          f"{render['median_ms']:.0f} ms, first cold load {render['cold_ms']:.0f} ms "
          f"(median < {RENDER_TARGET_S:g} s: {VERDICT[render['target_met']]})")
    idle = figures["idle"]
    print(f"server CPU idle with overview + runs open, {idle['seconds']:g} s: "
          f"{idle['server_pct']:.2f}% of a core (< {IDLE_TARGET_PCT:g}%: "
          f"{VERDICT[idle['target_met']]}); no page open {idle['no_pages_pct']:.2f}%; its Dask "
          f"workers {idle['workers_pct']:.2f}%")


def measure(args, workdir: Path) -> dict:
    with contextlib.ExitStack() as cleanup:        # undone in reverse, whatever fails
        store = harness.open_store(cleanup, workdir)
        client = cleanup.enter_context(pymongo.MongoClient(store.uri, tz_aware=True))
        ensure_schema(client[store.database])
        counts = history_query.fill(client[store.database], args.runs, TASKS_FOR)
        project = write_project(workdir / "project")
        process, url = cleanup.enter_context(serving(project, workdir))
        figures = {"api": api_latency(url, args.clients, args.requests)}
        browser = cleanup.enter_context(sync_playwright()).chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        cleanup.callback(browser.close)
        figures["render"] = render_times(browser, url)
        figures["idle"] = idle_cpu(browser, url, process.pid)
    report(figures, args)
    return {"benchmark": "web_load", **counts, "clients": args.clients,
            "requests": args.requests, "targets": {"api_p99_ms": API_TARGET_MS,
                                                   "render_s": RENDER_TARGET_S,
                                                   "idle_pct": IDLE_TARGET_PCT}, **figures}


def add_options(parser) -> None:
    parser.add_argument("--runs", type=int, default=100_000, help="runs stored")
    parser.add_argument("--clients", type=int, default=10, help="concurrent API clients")
    parser.add_argument("--requests", type=int, default=50,
                        help="timed requests of each client on each route")


if __name__ == "__main__":
    sys.exit(harness.run_benchmark(__doc__, add_options, measure, print_summary=True))
