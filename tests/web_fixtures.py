"""A real `dataflow serve` in this process for the web tests: start_server on an IOLoop of
its own thread, over an Engine on the session's Dask cluster and a database of its own;
`Served` speaks HTTP to it with `requests`.

Until dashboards/app.py exists, `dashboards.app.build_pages` is a stub giving "/" one
Markdown pane (the API tests need a page, not the dashboards).
"""
from __future__ import annotations

import asyncio
import importlib
import queue
import sys
import threading
import types
from dataclasses import dataclass

import panel as pn
import pytest
import requests
from conftest import OutDir, ProjectFactory, free_port, plugin_source, store_variables
from tornado.ioloop import IOLoop

from dataflow import Engine, Project
from dataflow.web.context import WebContext

TOKEN = "t0ken-" + "x" * 30
SLACK = "http://127.0.0.1:9/hooks/T0/B0/slack-secret-value"
START_TIMEOUT = 60
QUICK_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "window": {"type": "integer", "minimum": 1, "default": 5},
    "label": {"type": "string", "default": "plain"}}}
PIPELINES = """
pipelines:
  quick: {hooks: [load]}
  slow: {hooks: [work]}
  flaky: {hooks: [check]}
"""


def stub_pages(web):
    return {"/": lambda: pn.pane.Markdown("dataflow")}


def server_module():
    """dataflow.web.server, with a stub dashboards.app while the real one is not there."""
    try:
        importlib.import_module("dashboards.app")
    except ModuleNotFoundError:
        stub = types.ModuleType("dashboards.app")
        stub.build_pages = stub_pages
        sys.modules.setdefault("dashboards", types.ModuleType("dashboards"))
        sys.modules["dashboards.app"] = stub
    return importlib.import_module("dataflow.web.server")


@dataclass
class Served:
    url: str
    token: str | None
    project: Project
    out: OutDir
    web: WebContext

    def call(self, method: str, path: str, auth: bool = True, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if auth and self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> requests.Response:
        return self.call("POST", path, json={} if body is None else body, **kwargs)


def _serve_in_thread(project: Project, address: str, engine: Engine):
    """(loop, parts, thread): start_server called on a new IOLoop in its own thread."""
    started: queue.Queue = queue.Queue()

    def run():
        asyncio.set_event_loop(asyncio.new_event_loop())
        loop = IOLoop.current()
        try:
            parts = server_module().start_server(project, address, free_port(), engine)
        except BaseException as error:          # handed to the test thread
            started.put(error)
            return
        started.put((loop, parts))
        loop.start()
    thread = threading.Thread(target=run, daemon=True, name="test-web-server")
    thread.start()
    result = started.get(timeout=START_TIMEOUT)
    if isinstance(result, BaseException):
        raise result
    return (*result, thread)


def plugins(out: OutDir) -> dict[str, str]:
    return {
        "quick": plugin_source("quick", "load", body="return config['window']",
                               CONFIG_SCHEMA=QUICK_SCHEMA, VERSION="1.0.0"),
        "slow": plugin_source("slow", "work", out=out, body="mark('started', context['run_id'])\n"
                              "wait_for('go', stop=context.cancelled)\nreturn 1"),
        "flaky": plugin_source("flaky", "check", out=out, body="if os.path.exists(os.path."
                               "join(OUT, 'broken')):\n    raise RuntimeError('broken on "
                               "purpose')\nreturn 2", FAIL_HARD=True)}


def serve(tmp_path_factory, mongo_uri, dask_client, address: str, system: str = "",
          pipelines: str = PIPELINES, make_plugins=plugins):
    """A generator for module fixtures: yields a Served, takes it all down after.
    `make_plugins(out)` gives the project's plugin sources."""
    root = tmp_path_factory.mktemp("web")
    out = OutDir(root / "out")
    directory = ProjectFactory(root / "project")(pipelines, make_plugins(out), system=system)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in store_variables(mongo_uri).items():
            patch.setenv(name, value)
        project = Project(directory)
        engine = Engine(project, client=dask_client)
        loop, parts, thread = _serve_in_thread(project, address, engine)
        try:
            yield Served(f"http://127.0.0.1:{parts.web.port}",
                         project.settings.ui_token, project, out, parts.web)
        finally:
            out.release()
            loop.add_callback(loop.stop)
            thread.join(30)
            parts.stop()
            project.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory, mongo_uri, dask_client):
    """A server on loopback with no token."""
    yield from serve(tmp_path_factory, mongo_uri, dask_client, "127.0.0.1")


@pytest.fixture(scope="module")
def secured(tmp_path_factory, mongo_uri, dask_client):
    """A server on every address, with an admin token (ui.token in system.yaml)."""
    yield from serve(tmp_path_factory, mongo_uri, dask_client, "0.0.0.0",
                     f"ui:\n  token: {TOKEN}\nslack:\n  webhook_url: {SLACK}\n")
