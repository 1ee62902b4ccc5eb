"""`dataflow serve`: one process, one port — the Panel control panel, the REST API,
/health and /metrics — over one Engine (its cluster and CPU governor), its RunService
and, when the project has schedules, the cron loop.

Bound to loopback it needs no login; bound anywhere else it refuses to start without
an admin token. Ctrl-C (or SIGTERM) stops it cleanly: running runs are cancelled and
recorded, the cluster is closed, the discovery file is removed.
"""
from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import panel as pn
from tornado.ioloop import IOLoop

from dashboards.app import build_pages, stop_pages
from dataflow.alerts.metrics import alert_metrics
from dataflow.alerts.service import AlertService
from dataflow.errors import InvalidInput
from dataflow.project import Project
from dataflow.run.engine import Engine
from dataflow.run.service import RunService
from dataflow.schedule.loop import SchedulerLoop
from dataflow.schedule.metrics import scheduler_metrics
from dataflow.web.api import api_routes
from dataflow.web.auth import auth_options
from dataflow.web.context import LOOPBACK, WebContext
from dataflow.web.discovery import (ServerInfo, find_server, remove_server_info,
                                    write_server_info)
from dataflow.web.metrics import metrics_for

TOKEN_FIX = ("set $DATAFLOW_ADMIN_TOKEN (or ui.token in config/system.yaml) to a long random "
             "string, or bind to 127.0.0.1")


@dataclass
class ServerParts:
    """What a started server holds; `stop()` takes it down in the right order."""

    web: WebContext
    server: Any
    stoppers: list[Callable[[], Any]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.stop()
        for stopper in self.stoppers:
            stopper()
        remove_server_info(self.web.project.directory)


def admin_token(project: Project, address: str) -> str | None:
    """The admin token; refuses a non-loopback address without one."""
    token = project.settings.ui_token
    if address not in LOOPBACK and not token:
        raise InvalidInput(f"refusing to serve on {address} without an admin token: "
                           f"{TOKEN_FIX}")
    return token


def _websocket_origins(address: str, port: int) -> list[str]:
    if address in ("0.0.0.0", "::"):
        return ["*"]          # any host name may reach it; the token guards it
    return [f"{host}:{port}" for host in {address, "127.0.0.1", "localhost"}]


def _start_scheduler(web: WebContext) -> SchedulerLoop:
    """The cron loop, always (stored pipelines may gain a schedule while it runs); a lease
    in the store keeps a second loop on the same store from firing anything twice."""
    scheduler = SchedulerLoop(web.service)
    web.extras["scheduler"] = scheduler
    web.extras.setdefault("health_checks", {})["scheduler"] = scheduler.health
    scheduler_metrics(metrics_for(web).registry, scheduler)
    return scheduler.start()


def _start_alerts(web: WebContext, engine: Engine) -> AlertService:
    """Alerts for every run of this server (API, UI, scheduler): a listener on the engine,
    absence checks every minute, counters on /metrics."""
    alerts = AlertService.for_project(web.project)
    engine.add_listener(alerts.on_event, "alerts")
    alert_metrics(metrics_for(web).registry, alerts.dispatcher)
    web.extras["alerts"] = alerts
    return alerts.start_absence(lambda: web.project.db)


def start_server(project: Project, address: str = "127.0.0.1", port: int = 5006,
                 engine: Engine | None = None, extras: dict | None = None) -> ServerParts:
    """Start everything on the current IOLoop (not yet running); returns the parts."""
    running = find_server(project.directory)
    if running is not None and running.pid != os.getpid():
        raise InvalidInput(f"a server for this project is already running (pid {running.pid}, "
                           f"{running.url}); stop it first, or use it")
    token = admin_token(project, address)
    engine = engine or Engine(project)
    service = RunService(engine)
    web = WebContext(service, address, port, token, engine.dashboard, dict(extras or {}))
    server = pn.serve(build_pages(web), port=port, address=address, show=False, start=False,
                      title="dataflow", websocket_origin=_websocket_origins(address, port),
                      extra_patterns=api_routes(web),
                      cookie_secret=token or secrets.token_hex(16), **auth_options(web))
    server.start()
    web.port = server.port
    web.extras["watcher"] = engine.watch()     # hot reload of plugins and config
    alerts = _start_alerts(web, engine)
    scheduler = _start_scheduler(web)
    pool = web.extras.get("api_pool")
    parts = ServerParts(web, server, [lambda: stop_pages(web), scheduler.stop,
                                      lambda: service.shutdown(), engine.close, alerts.stop])
    if pool is not None:
        parts.stoppers.append(lambda: pool.shutdown(wait=False))
    write_server_info(project.directory, ServerInfo(os.getpid(), address, web.port, web.url,
                                                    web.requires_token))
    return parts


def serve_forever(parts: ServerParts) -> None:
    """Run the IOLoop until SIGINT/SIGTERM, then stop every part."""
    loop = IOLoop.current()

    def on_signal(signum, frame):
        loop.add_callback_from_signal(loop.stop)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        loop.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        parts.stop()
