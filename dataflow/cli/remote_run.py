"""`dataflow run` through a running `dataflow serve`: the server runs it on its warm
cluster under its one CPU governor; this process shows progress and the summary from
the store, with the same exit codes as a run in-process.

Ctrl-C asks the server to cancel the run, then keeps following it until it is recorded.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import requests

from dataflow.cli.common import console, err_console
from dataflow.cli.progress import ProgressView
from dataflow.errors import (Conflict, DataflowError, InvalidInput, NotFound, RunNotFound,
                             StoreUnavailable)
from dataflow.model import RunPlan
from dataflow.project import Project
from dataflow.statuses import FINAL_RUN_STATUSES, TaskStatus
from dataflow.store.history import get_run
from dataflow.store.logs import read_logs
from dataflow.web.discovery import ServerInfo

POLL = 0.1                # seconds between reads of the run's records
FIRST_RECORD_WAIT = 10.0  # seconds the server has to record a run it accepted
REQUEST_TIMEOUT = 30.0
ERRORS_BY_STATUS = {404: NotFound, 409: Conflict, 422: InvalidInput, 503: StoreUnavailable}


@dataclass
class RemoteResult:
    """What print_summary needs, read back from the store."""

    run_id: str
    pipeline: str
    status: str
    duration: float
    tasks: dict = field(default_factory=dict)


def _headers() -> dict:
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("DATAFLOW_ADMIN_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def call_server(server: ServerInfo, path: str, body: dict | None = None) -> dict:
    """POST to the server's API; its JSON error becomes the matching DataflowError."""
    try:
        response = requests.post(f"{server.url}{path}", json=body or {}, headers=_headers(),
                                 timeout=REQUEST_TIMEOUT)
    except requests.RequestException as error:
        raise StoreUnavailable(f"the dataflow server at {server.url} (pid {server.pid}) did not "
                               f"answer: {type(error).__name__}; stop it, or run with --local") \
            from None
    payload = response.json() if response.content else {}
    if response.status_code >= 400:
        error_class = ERRORS_BY_STATUS.get(response.status_code, DataflowError)
        raise error_class(payload.get("error") or f"the server answered {response.status_code}")
    return payload


def _task_events(run: dict, seen: dict) -> list[dict]:
    """Events for what changed in the task records since the last read."""
    events = []
    for task in run["tasks"]:
        task_id = f"{task['hook']}.{task['plugin']}"
        key = (task.get("status"), (task.get("progress") or {}).get("done"))
        if seen.get(task_id) == key:
            continue
        seen[task_id] = key
        base = {"run_id": run["_id"], "task_id": task_id, "hook": task["hook"],
                "plugin": task["plugin"]}
        started = task["started"].timestamp() if task.get("started") else None
        if task.get("progress"):
            events.append({**base, "kind": "progress", **task["progress"]})
        if task.get("status") == TaskStatus.RUNNING:
            events.append({**base, "kind": "task_started", "started": started})
        elif task.get("status") != TaskStatus.PENDING:
            events.append({**base, "kind": "task_finished", "status": task["status"],
                           "error": task.get("error"), "started": started,
                           "duration": task.get("duration")})
    return events


def _recorded_run(db, run_id: str) -> dict:
    """The run's record, waiting briefly for the server's writer to store it."""
    deadline = time.monotonic() + FIRST_RECORD_WAIT
    while True:
        try:
            return get_run(db, run_id)
        except RunNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(POLL)


def follow_remote_run(db, run_id: str, listener, on_interrupt) -> RemoteResult:
    """Feed `listener` the run's progress and logs until it ends; returns its result."""
    seen: dict = {}
    last_seq = 0
    while True:
        try:
            run = _recorded_run(db, run_id)
            for event in _task_events(run, seen):
                listener(event)
            for record in read_logs(db, run_id, after_seq=last_seq):
                last_seq = record["seq"]
                listener({**record, "kind": "log", "time": record["time"].isoformat()})
            if run.get("status") in FINAL_RUN_STATUSES:
                break
            time.sleep(POLL)
        except KeyboardInterrupt:
            on_interrupt()
    tasks = {f"{t['hook']}.{t['plugin']}": {"status": t.get("status"), "error": t.get("error")}
             for t in run["tasks"]}
    return RemoteResult(run_id, run["pipeline"], run["status"], run.get("duration") or 0.0,
                        tasks)


def run_on_server(project: Project, server: ServerInfo, plan: RunPlan, overrides: dict, *,
                  as_json: bool, use_cache: bool, force: bool = False,
                  upstream: list[str] | None = None) -> RemoteResult:
    """Hand the run to the server, then follow it from the store until it is recorded
    (the server checks gates and upstream: its refusal, a 409, is raised as Conflict)."""
    body: dict = {"use_cache": use_cache, "trigger": "cli",
                  **({"overrides": overrides} if overrides else {}),
                  **({"force": True} if force else {}),
                  **({"with_upstream": True} if upstream else {})}
    run_id = call_server(server, f"/api/pipelines/{plan.pipeline}/trigger", body)["run_id"]
    if not as_json:
        console.print(f"run {run_id} handed to the dataflow server at {server.url} "
                      f"(pid {server.pid}); --local runs it here instead", markup=False)
    cancelling: list[bool] = []

    def on_interrupt() -> None:
        if cancelling:
            err_console.print("\nstopped following; the run goes on in the server")
            raise SystemExit(130)
        cancelling.append(True)
        err_console.print(f"\ncancelling run {run_id} (Ctrl-C again to stop following)")
        call_server(server, f"/api/runs/{run_id}/cancel")

    view = ProgressView(plan, live=False if as_json else None)
    with view:
        return follow_remote_run(project.db, run_id, (lambda event: None) if as_json else view,
                                 on_interrupt)
