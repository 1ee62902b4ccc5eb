"""Browser-test helpers and fixtures: the dataflow server started in-process on a Tornado
IOLoop of its own thread (fixture `served`, over a project with the default plugins plus
a slow and a flaky one), headless Chromium driven by Playwright for Python (`browser`,
`page`), screenshots kept as test artifacts ($DATAFLOW_TEST_ARTIFACTS, else the test's
tmp_path; never the repo), a store seeded with many runs, and the UI threads' CPU use.

A test module uses the fixtures by importing them: `from browser import page, served`."""
from __future__ import annotations

import asyncio
import os
import random
import re
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import free_port, plugin_source
from nbclient import NotebookClient
from playwright.sync_api import sync_playwright
from tornado.ioloop import IOLoop

from dashboards.app import stop_pages
from dataflow import Engine, Project
from dataflow.statuses import RunStatus
from dataflow.web.server import start_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT = 120          # seconds for the server to come up
STOP_TIMEOUT = 30
PAGE_TIMEOUT = 30_000        # ms any page step may take
DOCUMENT_READY = ("() => window.Bokeh !== undefined && Bokeh.documents.length > 0 "
                  "&& Bokeh.documents[0].is_idle")
SERVER_THREADS = ("test-server", "dataflow-ui-watch")     # the UI's own threads
RUNS = 10_000                # runs seeded for the render-time measurement
TEST_PIPELINES = """
pipelines:
  default:
    schedule: "*/10 * * * *"
    hooks: ["fetch_data", "aggregate", "calculate_indicators"]
  slow:
    hooks: ["wait"]
  flaky:
    hooks: ["work"]
"""


def sleeper_plugin() -> str:
    """Runs until cancelled, looking every `tick` seconds; has metadata for its page."""
    return plugin_source("sleeper", "wait", ["slow"], imports=("time",), TAGS=["test"],
                         CONFIG_SCHEMA={"type": "object", "additionalProperties": False,
                                        "properties": {"tick": {"type": "number",
                                                                "exclusiveMinimum": 0,
                                                                "default": 0.05}}},
                         code="def get_metadata():\n    return {'owner': 'the tests'}",
                         body="""
        while not context.cancelled():
            time.sleep(config["tick"])
        return "stopped"
    """)


def flaky_plugin(out) -> str:
    """Fails (fail hard: the run fails) until the test creates OUT/fixed."""
    return plugin_source("flaky", "work", ["flaky"], out=out, FAIL_HARD=True, body="""
        if not os.path.exists(os.path.join(OUT, "fixed")):
            raise RuntimeError("not fixed yet")
        return 1
    """)


@contextmanager
def served_project(project, engine, port: int):
    """start_server(project, 127.0.0.1, port, engine) on a loop running in a thread;
    yields the ServerParts; stops the loop, then every part."""
    ready, box = threading.Event(), {}

    def run():
        asyncio.set_event_loop(asyncio.new_event_loop())
        loop = IOLoop.current()
        try:
            box["parts"] = start_server(project, "127.0.0.1", port, engine=engine)
        except BaseException as error:          # handed to the test thread
            box["error"] = error
            ready.set()
            return
        box["loop"] = loop
        ready.set()
        loop.start()
    thread = threading.Thread(target=run, name="test-server", daemon=True)
    thread.start()
    assert ready.wait(START_TIMEOUT), "the server did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield box["parts"]
    finally:
        box["loop"].add_callback(box["loop"].stop)
        thread.join(STOP_TIMEOUT)
        stop_pages(box["parts"].web)
        box["parts"].stop()


@contextmanager
def chromium():
    """A headless Chromium (the Debian one) under Playwright."""
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


def artifacts_dir(tmp_path: Path, name: str) -> Path:
    """Where a test's screenshots go: $DATAFLOW_TEST_ARTIFACTS/<test>, else tmp_path."""
    base = os.environ.get("DATAFLOW_TEST_ARTIFACTS")
    folder = Path(base) / re.sub(r"[^\w.-]+", "_", name) if base else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Shots:
    """Numbered screenshots of one test's steps."""

    def __init__(self, folder: Path):
        self.folder, self.count = folder, 0

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        slug = re.sub(r"[^\w.-]+", "_", step)
        path = self.folder / f"{self.count:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def visit(page, path: str) -> None:
    """Open a page and wait until its document is connected and idle (clicks then count)."""
    page.goto(path)
    page.wait_for_function(DOCUMENT_READY)


def follow(page, locator) -> None:
    """Click a link and wait until the page it leads to is ready."""
    with page.expect_navigation():
        locator.click()
    page.wait_for_function(DOCUMENT_READY)


def type_in(page, css: str, text: str) -> None:
    """Replace the text of the input (or textarea) under `css` and leave it (it is sent)."""
    field = page.locator(f"{css} input, {css} textarea").first
    field.fill(text)
    field.press("Tab")


def seed_runs(db, count: int) -> None:
    """`count` finished runs over the last year, as the engine records them (no tasks)."""
    rng, now = random.Random(7), datetime.now(timezone.utc)
    statuses = [RunStatus.COMPLETED] * 8 + [RunStatus.FAILED, RunStatus.COMPLETED_WITH_ERRORS]
    docs = []
    for index in range(count):
        started = now - timedelta(days=365) + timedelta(days=365) * index / count
        duration = round(rng.uniform(1, 60), 3)
        docs.append({"_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                     "pipeline": rng.choice(["default", "slow", "flaky"]),
                     "trigger": rng.choice(["cron", "cli", "ui"]), "status": rng.choice(statuses),
                     "started": started, "finished": started + timedelta(seconds=duration),
                     "duration": duration, "counts": {RunStatus.COMPLETED: 3}, "error": None})
    for start in range(0, count, 5000):
        db["runs"].insert_many(docs[start:start + 5000])


def execute_notebook(path: Path) -> None:
    """Run a notebook top to bottom in a kernel of this venv, in its folder; raises
    CellExecutionError at the first failing cell."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(path.parent)}}).execute()


def files_under(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")} if folder.exists() else set()


def idle_cpu(seconds: float) -> float:
    """Share of one core the UI's threads (server loop, watcher) used over `seconds`."""
    def used() -> float:
        ours = {t.native_id for t in threading.enumerate() if t.name in SERVER_THREADS}
        return sum(t.user_time + t.system_time for t in psutil.Process().threads()
                   if t.id in ours)
    before = used()
    time.sleep(seconds)
    return (used() - before) / seconds


@pytest.fixture
def served(make_project, dask_client, store_env, out_dir):
    """The server over a fresh project and database; yields its ServerParts."""
    directory = make_project(TEST_PIPELINES, {"sleeper": sleeper_plugin(),
                                              "flaky": flaky_plugin(out_dir)},
                             copy_default_plugins=True)
    for folder in (directory / "plugins").iterdir():
        if folder.name not in ("sleeper", "flaky"):
            # pytest puts the repo's plugins/ on sys.path, where a copy under the same
            # folder name would shadow the original module: the registry refuses that.
            folder.rename(folder.with_name(f"copied_{folder.name}"))
    project = Project(directory)
    with served_project(project, Engine(project, client=dask_client), free_port()) as parts:
        yield parts
    project.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, served, request, tmp_path):
    """A page on the server (relative URLs), with `page.shots(page, step)` screenshots."""
    context = browser.new_context(base_url=served.web.url, viewport={"width": 1280,
                                                                     "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(PAGE_TIMEOUT)
    shots = Shots(artifacts_dir(tmp_path, request.node.name))
    opened.shots = lambda step: shots(opened, step)
    opened.visit = lambda path: visit(opened, path)
    opened.follow = lambda locator: follow(opened, locator)
    opened.type_in = lambda css, text: type_in(opened, css, text)
    yield opened
    shots(opened, "at the end")
    context.close()
